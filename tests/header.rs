//! The committed C header must be exactly what cbindgen generates from `src/` now.
//!
//! build.rs writes the freshly generated header into OUT_DIR and exports its path as
//! `PM_GENERATED_HEADER`; `make header` (`PM_UPDATE_HEADER=1 cargo build`) refreshes the
//! committed `include/postmessage.h`.

use std::path::Path;

#[test]
fn committed_header_matches_generated_header() {
    let generated_path = env!("PM_GENERATED_HEADER");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/postmessage.h");
    let generated = std::fs::read_to_string(generated_path)
        .unwrap_or_else(|e| panic!("cannot read the generated header {generated_path}: {e}"));
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `make header` to create it",
            committed_path.display()
        )
    });
    if generated != committed {
        let first_difference = generated
            .lines()
            .zip(committed.lines())
            .enumerate()
            .find(|(_, (g, c))| g != c)
            .map(|(i, (g, c))| {
                format!(
                    "first difference at line {}:\n  generated: {g}\n  committed: {c}",
                    i + 1
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "one is a prefix of the other ({} vs {} lines)",
                    generated.lines().count(),
                    committed.lines().count()
                )
            });
        panic!(
            "include/postmessage.h is out of date with src/: run `make header` \
             (PM_UPDATE_HEADER=1 cargo build) and commit the result.\n\
             generated: {generated_path}\n{first_difference}"
        );
    }
}
