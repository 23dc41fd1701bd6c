//! Generates the C header from `src/` with cbindgen into OUT_DIR. A test compares it with the
//! committed `include/postmessage.h`; `PM_UPDATE_HEADER=1 cargo build` (or `make header`)
//! rewrites the committed copy.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("postmessage.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PM_UPDATE_HEADER");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
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
}
