//! postmessage: the web's cross-document messaging (`window.postMessage` and the `message`
//! event, MessageChannel and BroadcastChannel) as a library with a C ABI.
//!
//! A safe core of private modules under a thin C edge (`abi`, `result`, `ffi`, `capi`). Each
//! module imports only from modules of lower layers; the layer list is in README.md
//! ("Architecture") and `tests/layers.rs`, which checks it.
//!
//! Under `cfg(loom)` only the concurrency core and what it needs are built, on loom's
//! primitives (see `sync` and `tests/loom.rs`).

// Under loom only part of the core is used (the rest serves the exports, not built then).
#![cfg_attr(loom, allow(dead_code))]

// Private modules (only `capi` and the C types are public). Under loom, the two modules
// tests/loom.rs models are public.
mod abi;
#[cfg(not(loom))]
mod broadcast;
#[cfg(not(loom))]
mod cache;
#[cfg(not(loom))]
mod diagnostics;
#[cfg(not(loom))]
mod dispatch;
mod error;
#[cfg(not(loom))]
mod event;
#[cfg(loom)]
pub mod handles;
#[cfg(not(loom))]
mod handles;
#[cfg(loom)]
pub mod listener;
#[cfg(not(loom))]
mod listener;
mod origin;
#[cfg(not(loom))]
mod port;
#[cfg(not(loom))]
mod queue;
#[cfg(not(loom))]
mod record;
#[cfg(not(loom))]
mod remote;
mod scheme;
mod sync;
#[cfg(not(loom))]
mod thread;
#[cfg(not(loom))]
mod window;

// The C edge: argument conversion and the panic boundary, and the exports.
#[cfg(not(loom))]
pub mod capi;
#[cfg(not(loom))]
mod ffi;
#[cfg(not(loom))]
mod result;

pub use abi::*;
#[cfg(not(loom))]
pub use record::{
    PM_RECORD_HEADER_LEN, PM_RECORD_MAX_DATA, PM_RECORD_MAX_NAME, PM_RECORD_MAX_ORIGIN,
    PM_RECORD_MAX_PORTS, PM_RECORD_VERSION,
};
#[cfg(not(loom))]
pub use result::pm_result;
#[cfg(not(loom))]
pub use thread::PM_MAX_DISPATCH_DEPTH;

/// Whether `bytes` is a well-formed record by the codec alone (no delivery): the fuzz target's
/// oracle for "pm_remote_deliver must refuse this". Not part of the C API.
#[cfg(not(loom))]
#[doc(hidden)]
pub fn record_is_well_formed(bytes: &[u8]) -> bool {
    record::decode(bytes).is_ok()
}
