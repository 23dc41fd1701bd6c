//! Exports: the drop handler (an embedder extension: why a message was not delivered).

use crate::abi::pm_drop_fn;
use crate::diagnostics;
use crate::ffi::ffi_fn;
use crate::result::pm_result;
use std::ffi::c_void;

ffi_fn! {
    /// Sets the process-wide drop handler (NULL removes it; a call already running on another thread
    /// may still finish). It is told about every message the library decides not to deliver, with the
    /// reason, on the deciding thread, with no library lock held; it may call the library, and a
    /// drop caused inside it is not reported again. With no handler set, drops cost nothing extra.
    /// Always returns `PM_OK`.
    fn pm_set_drop_handler(handler: pm_drop_fn, user_data: *mut c_void) -> pm_result {
        diagnostics::set_handler(handler, user_data);
        Ok(pm_result::PM_OK)
    } ?= pm_result::PM_ERR_PANIC
}
