//! Fuzz target: arbitrary bytes as window URLs and as targetOrigin.
//!
//! The input is split on NUL bytes (C strings cannot contain them): the first piece is the
//! source window's URL, the second the target window's URL, the third the targetOrigin (the
//! first piece again when there is no third). Every answer is checked against an oracle built on
//! the `url` crate and the rules of API.md: window creation and navigation, the origin
//! serialization and its round trip, the post verdict (and that exactly the verdict's number of
//! listener calls happened), and allow-list parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postmessage::capi::allow_list::pm_add_listener_for_origins;
use postmessage::capi::error::*;
use postmessage::capi::post::*;
use postmessage::capi::window::*;
use postmessage::{pm_message_event, pm_result, pm_window};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use url::Url;

use pm_result::*;

/// What the URL Standard (and API.md) say the origin of `url` serializes to; `None` when the
/// text is not an absolute URL.
fn expected_origin(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    Some(origin_of(&url))
}

fn origin_of(url: &Url) -> String {
    match url.scheme() {
        "http" | "https" | "ws" | "wss" | "ftp" => url.origin().ascii_serialization(),
        "blob" => match Url::parse(url.path()) {
            Ok(inner) if matches!(inner.scheme(), "http" | "https") => origin_of(&inner),
            _ => "null".to_string(),
        },
        // file, data, about, javascript and every unregistered scheme: opaque.
        _ => "null".to_string(),
    }
}

fn window_origin(w: *mut pm_window) -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: buf has 512 writable bytes.
    let n = unsafe { pm_window_origin(w, buf.as_mut_ptr(), buf.len()) };
    assert!(n > 0, "pm_window_origin failed for a live window");
    if n >= buf.len() {
        let mut big = vec![0 as c_char; n + 1];
        // SAFETY: big has n + 1 writable bytes.
        let m = unsafe { pm_window_origin(w, big.as_mut_ptr(), big.len()) };
        assert_eq!(m, n);
        // SAFETY: NUL-terminated by pm_window_origin.
        return unsafe { CStr::from_ptr(big.as_ptr()) }
            .to_string_lossy()
            .into_owned();
    }
    // SAFETY: NUL-terminated by pm_window_origin.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        s.len(),
        n,
        "returned length matches the written serialization"
    );
    s
}

fn last_code() -> pm_result {
    pm_last_error_code()
}

fn last_error_nonempty() -> bool {
    // SAFETY: never NULL.
    !unsafe { CStr::from_ptr(pm_last_error()) }
        .to_bytes()
        .is_empty()
}

/// Creates a window from raw bytes and checks the outcome against the oracle. Returns the
/// window (or NULL when creation was expected to fail).
fn new_window(bytes: &[u8]) -> *mut pm_window {
    new_window_checked(bytes, true)
}

fn new_window_checked(bytes: &[u8], round_trip: bool) -> *mut pm_window {
    let c = CString::new(bytes).expect("no NUL inside a piece");
    // SAFETY: a valid C string.
    let w = unsafe { pm_window_new(c.as_ptr()) };
    match std::str::from_utf8(bytes) {
        Err(_) => {
            assert!(w.is_null(), "non-UTF-8 URL accepted");
            assert_eq!(last_code(), PM_ERR_UTF8);
            assert!(last_error_nonempty());
        }
        Ok(text) => match expected_origin(text) {
            None => {
                assert!(w.is_null(), "invalid URL {text:?} accepted");
                assert_eq!(last_code(), PM_ERR_INVALID_URL, "{text:?}");
                assert!(last_error_nonempty());
            }
            Some(expected) => {
                assert!(!w.is_null(), "valid URL {text:?} rejected");
                let got = window_origin(w);
                assert_eq!(got, expected, "origin of {text:?}");
                if got != "null" && round_trip {
                    // Round trip: a window at the serialized origin has that same origin.
                    let again = new_window_checked(got.as_bytes(), false);
                    assert_eq!(window_origin(again), got, "round trip of {text:?}");
                    assert_eq!(pm_window_free(again), PM_OK);
                }
            }
        },
    }
    w
}

thread_local! {
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

unsafe extern "C" fn count(event: *const pm_message_event, _: *mut c_void) {
    // SAFETY: the library passes a valid event for the call.
    let e = unsafe { &*event };
    assert!(!e.data.is_null());
    // SAFETY: NUL-terminated strings owned by the library for the call.
    unsafe {
        let _ = CStr::from_ptr(e.origin).to_bytes().len();
        let _ = CStr::from_ptr(e.last_event_id).to_bytes().len();
    }
    CALLS.with(|c| c.set(c.get() + 1));
}

fuzz_target!(|data: &[u8]| {
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let a_bytes = pieces[0];
    let b_bytes = pieces.get(1).copied().unwrap_or(b"http://b.example/");
    let t_bytes = pieces.get(2).copied().unwrap_or(a_bytes);

    let mut a = new_window(a_bytes);
    let mut b = new_window(b_bytes);
    if a.is_null() {
        a = new_window(b"http://a.example/");
    }
    if b.is_null() {
        b = new_window(b"https://b.example:8443/x");
    }
    let a_origin = window_origin(a);
    let b_origin = window_origin(b);

    // Navigation answers like creation and then reports the new origin.
    let nav = CString::new(a_bytes).unwrap();
    let spare = new_window(b"http://spare.example/");
    // SAFETY: valid C string.
    let r = unsafe { pm_window_navigate(spare, nav.as_ptr()) };
    match std::str::from_utf8(a_bytes).ok().map(expected_origin) {
        None => assert_eq!(r, PM_ERR_UTF8),
        Some(None) => {
            assert_eq!(r, PM_ERR_INVALID_URL);
            assert_eq!(
                window_origin(spare),
                "http://spare.example",
                "failed navigate changed nothing"
            );
        }
        Some(Some(expected)) => {
            assert_eq!(r, PM_OK);
            assert_eq!(window_origin(spare), expected);
        }
    }
    assert_eq!(pm_window_free(spare), PM_OK);

    // The post verdict.
    let expected = match t_bytes {
        b"*" => PM_OK,
        b"/" => {
            if a_origin != "null" && a_origin == b_origin {
                PM_OK
            } else {
                // Two separate top-level windows never share an opaque origin.
                PM_DROPPED
            }
        }
        _ => match std::str::from_utf8(t_bytes) {
            Err(_) => PM_ERR_UTF8,
            Ok(t) => match expected_origin(t) {
                None => PM_ERR_SYNTAX,
                Some(o) if o != "null" && o == b_origin => PM_OK,
                Some(_) => PM_DROPPED,
            },
        },
    };
    assert!(pm_add_listener(b, Some(count), ptr::null_mut()) > 0);
    let t = CString::new(t_bytes).unwrap();
    CALLS.with(|c| c.set(0));
    // SAFETY: valid buffers.
    let got = unsafe { pm_post_message(a, b, data.as_ptr(), data.len(), t.as_ptr()) };
    assert_eq!(
        got,
        expected,
        "post {a_origin:?} -> {b_origin:?} with targetOrigin {:?}",
        String::from_utf8_lossy(t_bytes)
    );
    let calls = CALLS.with(|c| c.get());
    assert_eq!(calls, usize::from(expected == PM_OK), "listener calls");
    if expected != PM_OK {
        assert_eq!(last_code(), expected);
        assert!(last_error_nonempty());
    }

    // The same string as an allow-list entry.
    let entries = [t.as_ptr()];
    // SAFETY: one valid entry.
    let id = unsafe {
        pm_add_listener_for_origins(b, entries.as_ptr(), 1, Some(count), ptr::null_mut(), None)
    };
    let expected_add = match t_bytes {
        b"*" | b"/" | b"null" => PM_ERR_SYNTAX,
        _ => match std::str::from_utf8(t_bytes) {
            Err(_) => PM_ERR_UTF8,
            Ok(t) => match expected_origin(t) {
                None => PM_ERR_SYNTAX,
                Some(o) if o == "null" => PM_ERR_INVALID_ARGUMENT,
                Some(_) => PM_OK,
            },
        },
    };
    if expected_add == PM_OK {
        assert!(id > 0, "allow-list entry rejected");
        assert_eq!(pm_remove_listener(b, id), PM_OK);
    } else {
        assert_eq!(id, 0, "allow-list entry accepted");
        assert_eq!(last_code(), expected_add);
    }

    assert_eq!(pm_window_free(a), PM_OK);
    assert_eq!(pm_window_free(b), PM_OK);
});
