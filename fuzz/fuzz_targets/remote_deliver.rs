//! Fuzz target: `pm_remote_deliver` with arbitrary bytes as the record (hostile input from
//! another process). The first input byte picks the target (a SYNC window, a QUEUED window,
//! NULL, a proxy) and the source (the proxy for the sender, NULL, a local window, a proxy of
//! another origin); the rest is the record. Seed with `fuzz/seeds/remote_records.py`.
//!
//! Each input gets fresh windows (two sides in one process, as in tests/c/test_remote.c, whose
//! proxies' sends deliver into the other side) and frees them all at the end, so leaks and
//! use-after-free across the teardown surface. Listeners re-enter: they reply through the
//! event's source, start received ports and post on them, close every other one.
//!
//! Oracles besides "no crash, no sanitizer report": a record the codec refuses is
//! `PM_ERR_INVALID_ARGUMENT` with no listener run; every result is one the function documents,
//! and every failure has a non-empty `pm_last_error()`; events are well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::error::*;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::remote::*;
use postmessage::capi::window::*;
use postmessage::{pm_message_event, pm_port, pm_result, pm_window};
use std::cell::Cell;
use std::ffi::{CStr, c_void};
use std::ptr;

use pm_result::*;

thread_local! {
    static SIDES: Cell<[*mut pm_window; 4]> = const { Cell::new([ptr::null_mut(); 4]) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

const A: usize = 0;
const B: usize = 1;
const PA: usize = 2; // side B's proxy for a
const PB: usize = 3; // side A's proxy for b

fn side(i: usize) -> *mut pm_window {
    SIDES.with(|s| s.get()[i])
}

unsafe extern "C" fn send_to_b(
    _: *mut pm_window,
    record: *const u8,
    len: usize,
    _: *mut c_void,
) -> u32 {
    // SAFETY: the library passes a valid record for the call.
    unsafe { pm_remote_deliver(side(B), side(PA), record, len) as u32 }
}

unsafe extern "C" fn send_to_a(
    _: *mut pm_window,
    record: *const u8,
    len: usize,
    _: *mut c_void,
) -> u32 {
    // SAFETY: as above.
    unsafe { pm_remote_deliver(side(A), side(PB), record, len) as u32 }
}

unsafe extern "C" fn drop_all(_: *mut pm_window, _: *const u8, _: usize, _: *mut c_void) -> u32 {
    PM_OK as u32
}

fn check_event(e: &pm_message_event) {
    assert!(!e.data.is_null());
    assert!(!e.origin.is_null() && !e.last_event_id.is_null());
    assert!(e.ports_len == 0 || !e.ports.is_null());
    assert!(e.ports_len <= postmessage::PM_RECORD_MAX_PORTS);
    // SAFETY: NUL-terminated for the call.
    let origin = unsafe { CStr::from_ptr(e.origin) };
    assert!(origin.to_bytes().len() <= postmessage::PM_RECORD_MAX_ORIGIN);
}

unsafe extern "C" fn on_port(e: *const pm_message_event, _: *mut c_void) {
    // SAFETY: valid for the call.
    let e = unsafe { &*e };
    check_event(e);
    CALLS.with(|c| c.set(c.get() + 1));
}

unsafe extern "C" fn on_window(e: *const pm_message_event, _: *mut c_void) {
    // SAFETY: valid for the call.
    let e = unsafe { &*e };
    check_event(e);
    let calls = CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    // SAFETY: `ports` holds `ports_len` handles for the call.
    let ports: &[*mut pm_port] = if e.ports_len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(e.ports, e.ports_len) }
    };
    for (i, &port) in ports.iter().enumerate() {
        if i % 2 == 0 {
            pm_port_add_listener(port, Some(on_port), ptr::null_mut());
            // SAFETY: a 2-byte buffer.
            unsafe { pm_port_post_message(port, b"hi".as_ptr(), 2, ptr::null(), 0) };
        } else {
            pm_port_close(port);
        }
    }
    if calls < 4 && !e.source.is_null() {
        // SAFETY: static strings.
        unsafe { pm_post_message(e.target, e.source, b"re".as_ptr(), 2, c"*".as_ptr()) };
    }
}

fn documented(rc: pm_result) -> bool {
    matches!(
        rc,
        PM_OK
            | PM_DROPPED
            | PM_ERR_INVALID_HANDLE
            | PM_ERR_INVALID_ARGUMENT
            | PM_ERR_DEPTH
            | PM_ERR_QUEUE_FULL
            | PM_ERR_SOURCE_ORIGIN
    )
}

fuzz_target!(|input: &[u8]| {
    let Some((&choice, bytes)) = input.split_first() else {
        return;
    };
    // SAFETY: static C strings.
    let (a, b, queued, pa, pb, other) = unsafe {
        (
            pm_window_new(c"http://127.0.0.1/".as_ptr()),
            pm_window_new(c"http://localhost/".as_ptr()),
            pm_window_new(c"http://localhost/q".as_ptr()),
            pm_remote_window_new(
                ptr::null_mut(),
                c"http://127.0.0.1/".as_ptr(),
                Some(send_to_a),
                ptr::null_mut(),
                None,
            ),
            pm_remote_window_new(
                ptr::null_mut(),
                c"http://localhost/".as_ptr(),
                Some(send_to_b),
                ptr::null_mut(),
                None,
            ),
            pm_remote_window_new(
                ptr::null_mut(),
                c"https://other.example/".as_ptr(),
                Some(drop_all),
                ptr::null_mut(),
                None,
            ),
        )
    };
    SIDES.with(|s| s.set([a, b, pa, pb]));
    CALLS.with(|c| c.set(0));
    for w in [a, b, queued] {
        pm_add_listener(w, Some(on_window), ptr::null_mut());
    }
    pm_window_set_dispatch_mode(queued, 1);
    pm_window_set_queue_limit(queued, 4, 1 << 16);
    // A channel of each origin, so broadcast records have receivers.
    // SAFETY: static C strings.
    let channels = unsafe {
        [
            pm_broadcast_new(a, c"c".as_ptr()),
            pm_broadcast_new(b, c"c".as_ptr()),
        ]
    };
    for &c in &channels {
        pm_broadcast_add_listener(c, Some(on_port), ptr::null_mut());
    }
    let target = [b, queued, ptr::null_mut(), pb][usize::from(choice & 3)];
    let source = [pa, ptr::null_mut(), a, other][usize::from((choice >> 2) & 3)];
    let valid = postmessage::record_is_well_formed(bytes);
    // SAFETY: `bytes` is readable for its length.
    let rc = unsafe { pm_remote_deliver(target, source, bytes.as_ptr(), bytes.len()) };
    assert!(documented(rc), "{rc:?}");
    if !valid {
        assert_eq!(rc, PM_ERR_INVALID_ARGUMENT);
        assert_eq!(CALLS.with(Cell::get), 0, "a refused record ran a listener");
    }
    if rc != PM_OK && rc != PM_DROPPED {
        // SAFETY: never NULL.
        assert!(
            !unsafe { CStr::from_ptr(pm_last_error()) }
                .to_bytes()
                .is_empty()
        );
    }
    // Deliver what was queued, then tear everything down.
    pm_window_run_pending(queued, 16);
    for w in [a, b, queued, pa, pb, other] {
        assert_eq!(pm_window_free(w), PM_OK);
    }
});
