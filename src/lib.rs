//! postmessage: the web's cross-document messaging (`window.postMessage` and the `message`
//! event) as a library with a C ABI.
//!
//! Layout, one module per concept: [`handles`] (opaque handle table), [`origin`] (origins and
//! targetOrigin), [`scheme`] (custom standard schemes), [`window`] (windows and documents),
//! [`listener`] (listener lifetime), [`dispatch`] (posting and delivery), and at the edge
//! [`ffi`] (panic boundary, argument conversion) and [`capi`] (the exported functions).

pub mod broadcast;
pub mod capi;
pub mod diagnostics;
pub mod dispatch;
pub mod error;
pub mod ffi;
pub mod handles;
pub mod listener;
pub mod origin;
pub mod port;
pub mod queue;
pub mod scheme;
pub mod thread;
pub mod types;
pub mod window;

pub use error::{Error, pm_result};
pub use thread::PM_MAX_DISPATCH_DEPTH;
pub use types::*;
