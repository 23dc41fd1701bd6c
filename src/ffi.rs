//! The panic boundary and argument conversion shared by every exported function, and
//! [`ffi_fn!`], the one way an export is written.
//!
//! Every `extern "C"` function is an [`ffi_fn!`]: its body runs inside [`boundary`], which
//! catches panics, records failures for `pm_last_error()` and turns them into the function's
//! error return value. The helpers here turn raw C arguments into Rust values or documented
//! errors, never dereferencing a NULL or a handle.

use crate::error::{Error, ErrorKind};
use crate::handles::{CHandle, Handle};
use crate::result::{clear_last_error, code_of, pm_result, set_last_error};
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What an exported function returns when it fails.
pub trait FfiReturn {
    fn on_error(error: &Error) -> Self;
}

impl FfiReturn for pm_result {
    fn on_error(error: &Error) -> Self {
        code_of(error.kind)
    }
}

impl<T> FfiReturn for *mut T {
    fn on_error(_: &Error) -> Self {
        std::ptr::null_mut()
    }
}

impl<T> FfiReturn for *const T {
    fn on_error(_: &Error) -> Self {
        std::ptr::null()
    }
}

impl FfiReturn for u64 {
    fn on_error(_: &Error) -> Self {
        0
    }
}

impl FfiReturn for usize {
    fn on_error(_: &Error) -> Self {
        0
    }
}

/// Writes one exported C function: `#[unsafe(no_mangle)] pub extern "C"` (or `pub unsafe
/// extern "C"`), keeping its doc comment (which goes into the header), around a body that runs
/// inside [`boundary`] and returns `Result<R, Error>`. The value after `?=` is what C gets if the
/// body panics (errors return [`FfiReturn::on_error`]):
///
/// ```ignore
/// ffi_fn! {
///     /// Frees a window. (C docs, copied into the header.)
///     fn pm_window_free(window: *mut pm_window) -> pm_result {
///         window::free(handle_arg(window, "window")?)?;
///         Ok(pm_result::PM_OK)
///     } ?= pm_result::PM_ERR_PANIC
/// }
/// ```
///
/// One function per invocation, laid out as above: `ffi_fn! {` and its closing `}` alone on
/// their lines at column 0, the signature's first line starting with `fn` / `unsafe fn`, and
/// the body closed by `} ?= value`. build.rs relies on that layout to show cbindgen the
/// functions this macro writes (cbindgen does not expand macros).
///
/// The `no_boundary` arm writes the function with its body as is: no `catch_unwind`, no error
/// recording. It is for the few exports that provably cannot panic and would pay for the
/// boundary on every call, and only these (the one place that says why):
/// - `pm_last_error`, `pm_last_error_code`, `pm_version`: read a static or a destructor-less
///   thread-local that nothing borrows across a call;
/// - `pm_post_message`, `pm_post_message_transfer` (the post fast path, `capi::post`
///   `post_plain` -> `dispatch::post_fast`), which would pay a tenth of a post for the boundary:
///   it decodes handles and checks pointers without failing, reaches the thread state with
///   `try_with`, borrows its targetOrigin cache with `try_borrow_mut`, enters the depth level
///   without an error value, and calls listeners with atomics and C calls only; to a QUEUED
///   window (`dispatch::queue_fast`) it clones reference-counted origins, allocates the task
///   (which aborts, never unwinds, when memory runs out), takes the window's lock to push it and
///   calls the C waker. Anything else goes to `post_checked`, which runs inside [`boundary`].
/// - `pm_port_post_message` (`port::post_fast`), likewise: a cached port view reached with
///   `try_with`/`try_borrow`, three version loads, then the partner's listeners called as above
///   (SYNC owner), or (QUEUED owner, `port::queue_cached`) a reference-count clone, the entry
///   made under the owner window's lock (small data inline, larger data allocated, which aborts
///   on failure) and the C waker. Anything else goes to its `post_checked`, inside [`boundary`].
macro_rules! ffi_fn {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block
        ?= $on_panic:expr) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            $crate::ffi::boundary($on_panic, || $body)
        }
    };
    ($(#[$doc:meta])* unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block
        ?= $on_panic:expr) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            $crate::ffi::boundary($on_panic, || $body)
        }
    };
    ($(#[$doc:meta])* no_boundary fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        $body:block) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret $body
    };
    ($(#[$doc:meta])* no_boundary unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        $body:block) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use ffi_fn;

/// Runs an exported function's body: never lets a panic unwind into C (it returns `on_panic`
/// instead), and records every failure as this thread's last error.
pub fn boundary<R: FfiReturn>(on_panic: R, body: impl FnOnce() -> Result<R, Error>) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            set_last_error(&error);
            R::on_error(&error)
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&Error::new(
                ErrorKind::Panic,
                format!("internal panic caught: {what}"),
            ));
            on_panic
        }
    }
}

/// For functions whose successful answer can look like a failure (NULL or 0): a success also
/// sets this thread's last error to `PM_OK`, so the caller can tell them apart. (Other
/// successful calls leave it alone: clearing it would cost the post fast path.)
pub fn answer<R>(result: Result<R, Error>) -> Result<R, Error> {
    let value = result?;
    clear_last_error();
    Ok(value)
}

/// A handle argument: NULL is `PM_ERR_NULL_ARGUMENT`; any other value is only a candidate until a
/// table lookup accepts it.
pub fn handle_arg<T: CHandle>(ptr: *const T, what: &'static str) -> Result<Handle, Error> {
    Handle::from_ptr(ptr).ok_or_else(|| Error::null(what))
}

/// The bytes of a NUL-terminated string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
pub unsafe fn c_bytes<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// A NUL-terminated UTF-8 string argument; invalid UTF-8 is `PM_ERR_UTF8`.
///
/// # Safety
/// As for [`c_bytes`].
pub unsafe fn c_str<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes(ptr, what) }?;
    std::str::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::Utf8, format!("{what} is not valid UTF-8")))
}

/// A (pointer, length) byte buffer: NULL is allowed only with length 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that stay valid for `'a`.
pub unsafe fn data_arg<'a>(
    ptr: *const u8,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::null(what))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid_argument(format!(
            "{what} length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, len <= isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array argument of `len` elements: NULL is allowed only with length 0.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable elements that stay valid for `'a`.
pub unsafe fn array_arg<'a, T>(
    ptr: *const T,
    len: usize,
    what: &'static str,
) -> Result<&'a [T], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::null(what))
        };
    }
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Error::invalid_argument(format!(
            "{what} length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, `len` readable elements by the caller's contract, size checked.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{last_error_code, last_error_ptr};

    fn last_error() -> String {
        // SAFETY: last_error_ptr is never NULL and NUL-terminated.
        unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_returns_the_value_written_next_to_the_function_and_is_recorded() {
        let code = boundary(pm_result::PM_ERR_PANIC, || -> Result<pm_result, Error> {
            panic!("boom in a result export")
        });
        assert_eq!(code, pm_result::PM_ERR_PANIC);
        assert_eq!(last_error_code(), pm_result::PM_ERR_PANIC);
        assert!(
            last_error().contains("boom in a result export"),
            "{}",
            last_error()
        );

        let ptr = boundary(std::ptr::null_mut::<u8>(), || -> Result<*mut u8, Error> {
            panic!("boom in a pointer export")
        });
        assert!(ptr.is_null());
        assert!(last_error().contains("boom in a pointer export"));

        // The panic value is the one written, not the error value (0 for usize).
        let n = boundary(42usize, || -> Result<usize, Error> { panic!("boom") });
        assert_eq!(n, 42);
    }

    #[test]
    fn an_error_returns_its_code_and_a_success_its_value() {
        let code = boundary(pm_result::PM_ERR_PANIC, || Err(Error::null("window")));
        assert_eq!(code, pm_result::PM_ERR_NULL_ARGUMENT);
        assert_eq!(last_error_code(), pm_result::PM_ERR_NULL_ARGUMENT);
        assert_eq!(boundary(0usize, || Ok(7usize)), 7);
        // A plain success leaves the last error alone; `answer` resets it.
        assert_eq!(last_error_code(), pm_result::PM_ERR_NULL_ARGUMENT);
        assert_eq!(boundary(0usize, || answer(Ok(0usize))), 0);
        assert_eq!(last_error_code(), pm_result::PM_OK);
    }
}
