//! The one-way rule, checked: reads `src/` and fails if a module imports one in its own or a
//! higher layer (so no cycle is possible), if a module is missing from the list, if
//! `catch_unwind` or `#[repr(C)]` or an export appears outside the edge, if `capi` writes an
//! export without `ffi_fn!`, if anything but `handles` casts between handles and pointers, or
//! if lib.rs makes a core module public. The same list is in README.md ("Architecture").

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The layers, bottom first. A module may import only from modules of lower layers.
const LAYERS: &[&[&str]] = &[
    // C vocabulary (edge-owned, no logic), sync primitives, Rust error kinds, the per-thread
    // direct-mapped cache.
    &["abi", "sync", "error", "cache"],
    // The scheme registry; the generation-checked handle table.
    &["scheme", "handles"],
    // Origins and targetOrigin matching; the record codec for other processes (pure, bounded).
    &["origin", "record"],
    // Listener lifetime; drop reports.
    &["listener", "diagnostics"],
    // The message event and the delivery steps every kind of message shares.
    &["event"],
    // A window's queue of `dyn Task`.
    &["queue"],
    // Windows and documents owning `dyn Resource`s.
    &["window"],
    // Per-thread state: window snapshot cache, dispatch depth, targetOrigin cache.
    &["thread"],
    // MessageChannel ports and BroadcastChannel (implement Task and Resource).
    &["port", "broadcast"],
    // The window post steps (sync fast path, queued delivery).
    &["dispatch"],
    // Windows in other processes: proxies, delivering records, port routes, the broadcast
    // forwarder (implements window's RemoteDocument, port's RemotePartner, broadcast's Forwarder).
    &["remote"],
    // Edge: result codes and last error; argument conversion and the panic boundary; exports.
    &["result"],
    &["ffi"],
    &["capi"],
];

/// Modules that make up the C edge (the only ones that may catch panics, be `#[repr(C)]`, or
/// export functions). `abi` holds the C types; it has no logic.
const EDGE: &[&str] = &["abi", "result", "ffi", "capi"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::NAME` a source text mentions (in `use` lines or paths).
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !name.is_empty() && !preceded_by_ident {
            found.push(name);
        }
        rest = after;
    }
    // A `use crate::{a, b}` group.
    let mut rest = text;
    while let Some(at) = rest.find("use crate::{") {
        let after = &rest[at + "use crate::{".len()..];
        let group = &after[..after.find("};").unwrap_or(after.len())];
        for item in group.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
        rest = after;
    }
    found
}

/// Source text without `//` comments (so doc comments naming modules do not count).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) if !l[..at].contains('"') => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module each file belongs to: `src/x.rs` -> x, `src/capi/*.rs` -> capi.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for entry in fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for file in fs::read_dir(&path).expect("module dir") {
                let file = file.expect("dir entry").path();
                if file.extension().is_some_and(|e| e == "rs") {
                    let text = fs::read_to_string(&file).expect("readable");
                    out.entry(name.clone()).or_default().push_str(&text);
                }
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if name != "lib" {
                out.insert(name, fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    out
}

/// The violations of the rules in a set of modules (name -> source text).
fn violations(modules: &BTreeMap<String, String>) -> Vec<String> {
    let mut bad = Vec::new();
    for (module, text) in modules {
        let Some(layer) = layer_of(module) else {
            bad.push(format!(
                "{module}: not in the layer list (tests/layers.rs, README)"
            ));
            continue;
        };
        let code = code_only(text);
        for import in imports(&code) {
            if import == *module {
                continue;
            }
            match layer_of(&import) {
                Some(l) if l < layer => {}
                Some(_) => bad.push(format!(
                    "{module} imports {import}, which is not in a lower layer"
                )),
                None => bad.push(format!(
                    "{module} imports {import}, which is not in the list"
                )),
            }
        }
        if module == "capi" {
            for forbidden in ["extern \"C\"", "no_mangle"] {
                if code.contains(forbidden) {
                    bad.push(format!(
                        "capi contains {forbidden}: exports are written with ffi_fn! only"
                    ));
                }
            }
        }
        // Handle <-> pointer conversion lives in `handles` (Handle::to_ptr / from_ptr) only.
        for cast in ["as *mut pm_", "as *const pm_"] {
            if code.contains(cast) {
                bad.push(format!("{module} casts a handle: {cast}"));
            }
        }
        if module != "handles" && code.contains("Handle::from_raw(") {
            bad.push(format!("{module} casts a handle: Handle::from_raw("));
        }
        let edge = EDGE.contains(&module.as_str());
        if !edge {
            for forbidden in [
                "catch_unwind",
                "#[repr(C)]",
                "extern \"C\" fn pm_",
                "no_mangle",
            ] {
                if code.contains(forbidden) {
                    bad.push(format!("{module} (core) contains {forbidden}"));
                }
            }
        }
    }
    bad
}

#[test]
fn every_module_imports_only_from_lower_layers_and_the_edge_keeps_c_to_itself() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.len() >= 15, "found only {:?}", modules.keys());
    let bad = violations(&modules);
    assert!(bad.is_empty(), "layer rule broken:\n{}", bad.join("\n"));
}

#[test]
fn lib_rs_keeps_core_modules_private() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let lines: Vec<&str> = lib.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = line.trim().strip_prefix("pub mod ") else {
            continue;
        };
        let name = name.trim_end_matches(';');
        let loom_only = i > 0 && lines[i - 1].trim() == "#[cfg(loom)]";
        assert!(
            name == "capi" || loom_only,
            "src/lib.rs makes core module {name} public (only capi is; loom models may see more)"
        );
    }
}

#[test]
fn the_checker_catches_violations() {
    let mut modules = BTreeMap::new();
    modules.insert("queue".to_string(), "use crate::port::Port;\n".to_string());
    modules.insert(
        "window".to_string(),
        "use crate::{error::Error, dispatch};\n// use crate::capi; (a comment)\n".to_string(),
    );
    modules.insert(
        "origin".to_string(),
        "fn f() { std::panic::catch_unwind(|| ()); }\n#[repr(C)]\nstruct S;\n".to_string(),
    );
    modules.insert("unlisted".to_string(), String::new());
    modules.insert(
        "ffi".to_string(),
        "use std::panic::catch_unwind;\n".to_string(),
    );
    modules.insert(
        "capi".to_string(),
        "#[unsafe(no_mangle)]\npub extern \"C\" fn pm_x() {}\n".to_string(),
    );
    modules.insert(
        "port".to_string(),
        "fn f(h: Handle) -> *mut pm_port { h.to_raw() as *mut pm_port }\n".to_string(),
    );
    modules.insert(
        "event".to_string(),
        "fn f(p: *mut pm_window) { Handle::from_raw(p as usize); }\n".to_string(),
    );
    let bad = violations(&modules);
    let expect = [
        "queue imports port",
        "window imports dispatch",
        "origin (core) contains catch_unwind",
        "origin (core) contains #[repr(C)]",
        "unlisted: not in the layer list",
        "capi contains extern \"C\"",
        "capi contains no_mangle",
        "port casts a handle: as *mut pm_",
        "event casts a handle: Handle::from_raw(",
    ];
    for e in expect {
        assert!(
            bad.iter().any(|b| b.starts_with(e)),
            "missed {e:?} in {bad:#?}"
        );
    }
    assert_eq!(bad.len(), expect.len(), "unexpected: {bad:#?}");
}
