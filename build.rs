//! Generates the C header from `src/` with cbindgen into OUT_DIR. A test compares it with the
//! committed `include/postmessage.h`; `PM_UPDATE_HEADER=1 cargo build` (or `make header`)
//! rewrites the committed copy.
//!
//! Also: the header gets `PM_VERSION_*` macros from Cargo.toml's version, and on ELF platforms
//! the shared library gets its soname (`libpostmessage.so.0.1` for 0.1.x: see `soversion`).

use std::env;
use std::path::PathBuf;

/// The soname's version suffix, chosen like cargo-c's so that `make install` and
/// `cargo cinstall` produce the same library: 0.0.z -> "0.0.z", 0.y.z -> "0.y", x.y.z -> "x"
/// (in 0.x semver, a minor release may break the ABI).
fn soversion(major: &str, minor: &str, patch: &str) -> String {
    match (major, minor) {
        ("0", "0") => format!("0.0.{patch}"),
        ("0", _) => format!("0.{minor}"),
        _ => major.to_string(),
    }
}

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("postmessage.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PM_UPDATE_HEADER");

    let pkg = |key: &str| env::var(key).expect("cargo sets the CARGO_PKG_VERSION_* variables");
    let (major, minor, patch) = (
        pkg("CARGO_PKG_VERSION_MAJOR"),
        pkg("CARGO_PKG_VERSION_MINOR"),
        pkg("CARGO_PKG_VERSION_PATCH"),
    );
    let version = pkg("CARGO_PKG_VERSION");

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let version_macros = [
        "",
        "/**",
        " * The version of this header, from Cargo.toml. `pm_version()` returns the library's at",
        " * run time: the same string when header and library come from the same build.",
        " */",
        &format!("#define PM_VERSION_MAJOR {major}"),
        &format!("#define PM_VERSION_MINOR {minor}"),
        &format!("#define PM_VERSION_PATCH {patch}"),
        &format!("#define PM_VERSION_STRING \"{version}\""),
        "",
        "/**",
        " * True when this header's version is at least major.minor.patch.",
        " */",
        "#define PM_VERSION_AT_LEAST(major, minor, patch)                                  \\",
        "  (PM_VERSION_MAJOR > (major) ||                                                  \\",
        "   (PM_VERSION_MAJOR == (major) &&                                                \\",
        "    (PM_VERSION_MINOR > (minor) ||                                                \\",
        "     (PM_VERSION_MINOR == (minor) && PM_VERSION_PATCH >= (patch)))))",
    ]
    .join("\n");
    config.after_includes = Some(match config.after_includes.take() {
        Some(existing) => format!("{existing}\n{version_macros}"),
        None => version_macros,
    });

    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can parse src/");
    bindings.write_to_file(&out);
    println!("cargo:rustc-env=PM_GENERATED_HEADER={}", out.display());
    if env::var_os("PM_UPDATE_HEADER").is_some_and(|v| v == "1") {
        bindings.write_to_file(crate_dir.join("include/postmessage.h"));
    }

    // Shared library link arguments. rustc already exports only the `#[no_mangle]` functions
    // (all `pm_*`; `make test-install` checks with `nm -D`) through its own version script. A
    // second --version-script is not added: GNU ld rejects two anonymous version scripts, and
    // with lld an exact `global:` entry of rustc's script wins over a `local: *` anyway.
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf_with_soname = [
        "linux",
        "freebsd",
        "dragonfly",
        "netbsd",
        "openbsd",
        "illumos",
        "haiku",
        "hurd",
    ];
    if elf_with_soname.contains(&target_os.as_str()) {
        let soname = format!("libpostmessage.so.{}", soversion(&major, &minor, &patch));
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
