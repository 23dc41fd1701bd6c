//! postmessage: the web's cross-document messaging (`window.postMessage` and the `message`
//! event, MessageChannel and BroadcastChannel) as a library with a C ABI.
//!
//! One module per concept:
//! - [`handles`]: the opaque, generation-checked handle table;
//! - [`origin`] and [`scheme`]: origins, targetOrigin parsing and matching, custom schemes;
//! - [`window`]: windows and their documents; [`listener`]: listener lifetime;
//! - [`dispatch`], [`thread`] and [`queue`]: posting, per-thread dispatch state, queued delivery;
//! - [`port`] and [`broadcast`]: MessageChannel ports and BroadcastChannel;
//! - [`record`] and [`remote`]: windows in other processes (the record codec; proxies, deliver,
//!   port routes, the broadcast forwarder);
//! - [`diagnostics`]: the drop handler;
//! - at the edge, [`ffi`] (panic boundary, argument conversion) and [`capi`] (the exports).
//!
//! Under `cfg(loom)` only the concurrency core and what it needs are built, on loom's
//! primitives (see [`sync`] and `tests/loom.rs`).

pub mod error;
pub mod handles;
pub mod listener;
pub mod origin;
pub mod record;
pub mod scheme;
pub mod sync;
pub mod types;

#[cfg(not(loom))]
pub mod broadcast;
#[cfg(not(loom))]
pub mod capi;
#[cfg(not(loom))]
pub mod diagnostics;
#[cfg(not(loom))]
pub mod dispatch;
#[cfg(not(loom))]
pub mod ffi;
#[cfg(not(loom))]
pub mod port;
#[cfg(not(loom))]
pub mod queue;
#[cfg(not(loom))]
pub mod remote;
#[cfg(not(loom))]
pub mod thread;
#[cfg(not(loom))]
pub mod window;

pub use error::{Error, pm_result};
#[cfg(not(loom))]
pub use thread::PM_MAX_DISPATCH_DEPTH;
pub use types::*;
