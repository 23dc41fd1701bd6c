//! The C result codes (`pm_result`), the one mapping from core error kinds to them, and the
//! per-thread last error that `pm_last_error()` reads. Edge only.

use crate::error::{Error, ErrorKind};
use crate::event::Delivery;
use std::cell::RefCell;
use std::ffi::{CStr, c_char};

/// Result of every fallible call. The numeric values are part of the ABI and never change.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pm_result {
    /// Done. For a post: every listener registered when dispatch started, and not removed
    /// meanwhile, ran (or the message was queued).
    PM_OK = 0,
    /// Not an error: the target origin did not match, so the message was dropped silently as the
    /// HTML standard says.
    PM_DROPPED = 1,
    /// A required pointer argument was NULL.
    PM_ERR_NULL_ARGUMENT = 2,
    /// A window, port, channel or listener id that was freed, closed, transferred or never issued.
    PM_ERR_INVALID_HANDLE = 3,
    /// targetOrigin is not "*", "/" or an absolute URL (the DOM's SyntaxError).
    PM_ERR_SYNTAX = 4,
    /// A window URL that does not parse as an absolute URL.
    PM_ERR_INVALID_URL = 5,
    /// A string argument is not valid UTF-8.
    PM_ERR_UTF8 = 6,
    /// Nested dispatch on this thread would exceed `PM_MAX_DISPATCH_DEPTH`.
    PM_ERR_DEPTH = 7,
    /// An internal panic was caught; library state is still consistent.
    PM_ERR_PANIC = 8,
    /// A bad transfer list (the DOM's DataCloneError).
    PM_ERR_DATA_CLONE = 9,
    /// Reserved: closing frees a handle, so closed objects answer `PM_ERR_INVALID_HANDLE`.
    PM_ERR_CLOSED = 10,
    /// Queuing this message would exceed the window's queue limits; nothing was queued.
    PM_ERR_QUEUE_FULL = 11,
    /// An enum value or other argument out of its range.
    PM_ERR_INVALID_ARGUMENT = 12,
    /// `pm_remote_deliver`: the record claims a sender origin that is not the `source` proxy's
    /// current origin; nothing was delivered.
    PM_ERR_SOURCE_ORIGIN = 13,
}

pub use crate::abi::RawResult;

/// The C code for a post's outcome.
pub fn delivery_code(delivery: Delivery) -> pm_result {
    match delivery {
        Delivery::Delivered => pm_result::PM_OK,
        Delivery::Dropped => pm_result::PM_DROPPED,
    }
}

/// The C code for a core error kind: the only place kinds become codes.
pub fn code_of(kind: ErrorKind) -> pm_result {
    match kind {
        ErrorKind::NullArgument => pm_result::PM_ERR_NULL_ARGUMENT,
        ErrorKind::InvalidHandle => pm_result::PM_ERR_INVALID_HANDLE,
        ErrorKind::Syntax => pm_result::PM_ERR_SYNTAX,
        ErrorKind::InvalidUrl => pm_result::PM_ERR_INVALID_URL,
        ErrorKind::Utf8 => pm_result::PM_ERR_UTF8,
        ErrorKind::Depth => pm_result::PM_ERR_DEPTH,
        ErrorKind::Panic => pm_result::PM_ERR_PANIC,
        ErrorKind::DataClone => pm_result::PM_ERR_DATA_CLONE,
        ErrorKind::QueueFull => pm_result::PM_ERR_QUEUE_FULL,
        ErrorKind::InvalidArgument => pm_result::PM_ERR_INVALID_ARGUMENT,
        ErrorKind::SourceOrigin => pm_result::PM_ERR_SOURCE_ORIGIN,
        ErrorKind::Closed => pm_result::PM_ERR_CLOSED,
    }
}

/// What an embedder's callback answered (a `send` or broadcast forwarder), as a post's
/// outcome: the inverse of [`code_of`] and [`delivery_code`]. A value that is not a
/// `pm_result` is an `InvalidArgument` error, never undefined behaviour.
pub fn outcome_of_raw(raw: RawResult, what: &'static str) -> Result<Delivery, Error> {
    let kind = match raw {
        0 => return Ok(Delivery::Delivered),
        1 => return Ok(Delivery::Dropped),
        2 => ErrorKind::NullArgument,
        3 => ErrorKind::InvalidHandle,
        4 => ErrorKind::Syntax,
        5 => ErrorKind::InvalidUrl,
        6 => ErrorKind::Utf8,
        7 => ErrorKind::Depth,
        8 => ErrorKind::Panic,
        9 => ErrorKind::DataClone,
        10 => ErrorKind::Closed,
        11 => ErrorKind::QueueFull,
        12 => ErrorKind::InvalidArgument,
        13 => ErrorKind::SourceOrigin,
        _ => {
            return Err(Error::invalid_argument(format!(
                "the {what} callback returned {raw}, which is not a pm_result"
            )));
        }
    };
    Err(Error::new(
        kind,
        format!("the {what} callback returned {:?}", code_of(kind)),
    ))
}

/// Longest `pm_last_error()` message kept, in bytes; longer ones are cut at a character
/// boundary and end in "...".
const MESSAGE_CAP: usize = 512;

/// This thread's last failure: its code and NUL-terminated message. Plain bytes, so the thread
/// local has no destructor and stays usable while the thread exits (posts from TLS or
/// pthread-key destructors), and recording a failure allocates nothing.
struct LastError {
    code: pm_result,
    message: [u8; MESSAGE_CAP],
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError {
            code: pm_result::PM_OK,
            message: [0; MESSAGE_CAP],
        })
    };
}

/// Records a failure as this thread's last error.
pub fn set_last_error(error: &Error) {
    set_last(code_of(error.kind), error.message.as_bytes());
}

/// Records a non-error outcome worth explaining (e.g. `PM_DROPPED`).
pub fn set_last_status(code: pm_result, message: &'static CStr) {
    set_last(code, message.to_bytes());
}

/// Like [`set_last_status`], for a message built at run time (e.g. with a hint).
pub fn set_last_status_text(code: pm_result, message: &str) {
    set_last(code, message.as_bytes());
}

fn set_last(code: pm_result, text: &[u8]) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.code = code;
        let message = &mut e.message;
        // Interior NULs cannot come from our own messages, but drop them rather than cut short.
        let mut len = 0;
        for &b in text.iter().filter(|&&b| b != 0) {
            if len == MESSAGE_CAP - 1 {
                // Too long: end in "..." after the last whole character that fits.
                let mut cut = MESSAGE_CAP - 4;
                while cut > 0 && message[cut] & 0xC0 == 0x80 {
                    cut -= 1;
                }
                message[cut..cut + 3].copy_from_slice(b"...");
                len = cut + 3;
                break;
            }
            message[len] = b;
            len += 1;
        }
        message[len] = 0;
    });
}

/// Sets this thread's last error to `PM_OK` with message "" (after a success that returns NULL
/// or 0, see `ffi::answer`).
pub fn clear_last_error() {
    set_last(pm_result::PM_OK, b"");
}

/// This thread's last failure message ("" if none). Valid until the next failing call on this
/// thread, because only a failure replaces it.
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| {
        // SAFETY: only the field's address is taken (no reference is made), and the cell lives
        // as long as the thread.
        unsafe { std::ptr::addr_of!((*e.as_ptr()).message) }.cast()
    })
}

/// This thread's last failure code (`PM_OK` if none).
pub fn last_error_code() -> pm_result {
    LAST_ERROR.with(|e| e.borrow().code)
}

/// This thread's last failure message, copied (for tests).
#[cfg(test)]
pub fn last_error() -> String {
    // SAFETY: the pointer comes from the thread-local message, alive for this call.
    unsafe { CStr::from_ptr(last_error_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A callback's answer maps back to the very code it gave (the inverse of `code_of`), and
    /// anything else is an InvalidArgument error.
    #[test]
    fn callback_answers_map_back_to_their_codes() {
        assert_eq!(outcome_of_raw(0, "send"), Ok(Delivery::Delivered));
        assert_eq!(outcome_of_raw(1, "send"), Ok(Delivery::Dropped));
        for raw in 2..=13 {
            let error = outcome_of_raw(raw, "send").unwrap_err();
            assert_eq!(code_of(error.kind) as RawResult, raw, "{error}");
        }
        assert_eq!(
            pm_result::PM_ERR_SOURCE_ORIGIN as RawResult,
            13,
            "part of the ABI"
        );
        for raw in [14, 99, u32::MAX] {
            let error = outcome_of_raw(raw, "send").unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidArgument);
            assert!(error.message.contains("not a pm_result"), "{error}");
        }
    }

    #[test]
    fn messages_are_kept_whole_or_cut_at_a_character_with_an_ellipsis() {
        set_last_error(&Error::new(ErrorKind::Syntax, "short \0message"));
        assert_eq!(last_error(), "short message");
        assert_eq!(last_error_code(), pm_result::PM_ERR_SYNTAX);
        let exact = "x".repeat(MESSAGE_CAP - 1);
        set_last_error(&Error::new(ErrorKind::Syntax, exact.clone()));
        assert_eq!(last_error(), exact, "a message that fits is kept whole");
        // Two-byte characters, so that the cut falls inside one.
        let long = format!("x{}", "é".repeat(MESSAGE_CAP));
        set_last_error(&Error::new(ErrorKind::Utf8, long.clone()));
        let kept = last_error();
        assert!(kept.ends_with("..."), "{kept:?}");
        assert!(kept.len() < MESSAGE_CAP, "{}", kept.len());
        assert!(long.starts_with(kept.trim_end_matches("...")));
        set_last_status(pm_result::PM_DROPPED, c"dropped");
        assert_eq!(last_error(), "dropped");
        assert_eq!(last_error_code(), pm_result::PM_DROPPED);
    }
}
