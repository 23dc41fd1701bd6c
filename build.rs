//! Generates the C header from `src/` with cbindgen into OUT_DIR. A test compares it with the
//! committed `include/postmessage.h`; `PM_UPDATE_HEADER=1 cargo build` (or `make header`)
//! rewrites the committed copy.
//!
//! Also: the header gets `PM_VERSION_*` macros from Cargo.toml's version, and on ELF platforms
//! the shared library gets its soname (`libpostmessage.so.0.1` for 0.1.x: see `soversion`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Copies `src` to `view` with every `ffi_fn! { ... }` export written out as the plain
/// `#[unsafe(no_mangle)] pub extern "C" fn` the macro expands to, because cbindgen does not
/// expand macros. It relies on the layout `ffi_fn!`'s doc (src/ffi.rs) prescribes, and panics
/// on anything else; the header test catches an export this misses.
fn write_header_view(src: &Path, view: &Path) {
    let _ = fs::remove_dir_all(view);
    fs::create_dir_all(view).expect("OUT_DIR is writable");
    for entry in fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("dir entry").path();
        let target = view.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            write_header_view(&path, &target);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("readable source");
            let expanded = expand_exports(&text).unwrap_or_else(|line| {
                panic!(
                    "{}:{line}: ffi_fn! layout not understood (see src/ffi.rs)",
                    path.display()
                )
            });
            fs::write(target, expanded).expect("OUT_DIR is writable");
        }
    }
}

/// `text` with each `ffi_fn! {` block replaced by the function it defines (signature and doc
/// comments kept; the body is kept too, minus the `?= value` after it). Err(line) on a block
/// it cannot read.
fn expand_exports(text: &str) -> Result<String, usize> {
    let mut out = String::new();
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if !inside {
            if line == "ffi_fn! {" {
                inside = true;
            } else if line.trim_start().starts_with("ffi_fn!") && !line.contains("use ") {
                return Err(n);
            } else {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        if line == "}" {
            inside = false;
            continue;
        }
        let trimmed = line.trim_start();
        let signature = [
            ("fn pm_", "pub extern \"C\" fn pm_"),
            ("unsafe fn pm_", "pub unsafe extern \"C\" fn pm_"),
            ("no_boundary fn pm_", "pub extern \"C\" fn pm_"),
            (
                "no_boundary unsafe fn pm_",
                "pub unsafe extern \"C\" fn pm_",
            ),
        ]
        .iter()
        .find_map(|(from, to)| trimmed.strip_prefix(from).map(|rest| format!("{to}{rest}")));
        if let Some(signature) = signature {
            out.push_str("#[unsafe(no_mangle)]\n");
            out.push_str(&signature);
        } else if trimmed.starts_with("} ?= ") {
            out.push('}');
        } else if trimmed.starts_with("///") || !trimmed.starts_with("fn ") {
            out.push_str(line);
        } else {
            return Err(n);
        }
        out.push('\n');
    }
    if inside {
        Err(text.lines().count())
    } else {
        Ok(out)
    }
}

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

    let view = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("header-src");
    write_header_view(&crate_dir.join("src"), &view);
    let bindings = cbindgen::Builder::new()
        .with_src(view.join("lib.rs"))
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
