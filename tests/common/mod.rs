//! Shared helpers for the Rust integration tests: they drive the real exported C functions.
#![allow(dead_code)]

use parking_lot::Mutex;
use postmessage::capi::error::*;
use postmessage::capi::post::*;
use postmessage::capi::window::*;
use postmessage::{pm_message_event, pm_port, pm_result, pm_window};
use std::ffi::{CStr, CString, c_void};
use std::sync::Arc;

/// One received event, copied.
#[derive(Clone, Debug, PartialEq)]
pub struct Got {
    pub data: Vec<u8>,
    pub origin: String,
    pub last_event_id: String,
    pub source: usize,
    pub target: usize,
    pub ports: Vec<usize>,
}

/// Records every event its listener receives.
#[derive(Default)]
pub struct Recorder {
    pub got: Mutex<Vec<Got>>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }
    pub fn ud(self: &Arc<Self>) -> *mut c_void {
        Arc::as_ptr(self) as *mut c_void
    }
    pub fn count(&self) -> usize {
        self.got.lock().len()
    }
    pub fn texts(&self) -> Vec<String> {
        self.got
            .lock()
            .iter()
            .map(|g| String::from_utf8_lossy(&g.data).into_owned())
            .collect()
    }
    pub fn last(&self) -> Got {
        self.got.lock().last().cloned().expect("an event")
    }
}

/// # Safety
/// Called by the library with a valid event and a `Recorder` pointer.
pub unsafe extern "C" fn record(event: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: the library passes a valid event; tests pass a live Recorder.
    let (e, rec) = unsafe { (&*event, &*(ud as *const Recorder)) };
    // SAFETY: data has data_len bytes; strings are NUL-terminated; ports has ports_len entries.
    let got = unsafe {
        Got {
            data: std::slice::from_raw_parts(e.data, e.data_len).to_vec(),
            origin: CStr::from_ptr(e.origin).to_string_lossy().into_owned(),
            last_event_id: CStr::from_ptr(e.last_event_id)
                .to_string_lossy()
                .into_owned(),
            source: e.source as usize,
            target: e.target as usize,
            ports: if e.ports_len == 0 {
                vec![]
            } else {
                std::slice::from_raw_parts(e.ports, e.ports_len)
                    .iter()
                    .map(|&p| p as usize)
                    .collect()
            },
        }
    };
    rec.got.lock().push(got);
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

pub fn window(url: &str) -> *mut pm_window {
    // SAFETY: a valid C string.
    let w = unsafe { pm_window_new(cstr(url).as_ptr()) };
    assert!(!w.is_null(), "pm_window_new({url}) failed");
    w
}

pub fn child(parent: *mut pm_window, url: &str) -> *mut pm_window {
    // SAFETY: a valid C string.
    let w = unsafe { pm_window_new_child(parent, cstr(url).as_ptr()) };
    assert!(!w.is_null(), "pm_window_new_child({url}) failed");
    w
}

pub fn post(
    from: *mut pm_window,
    to: *mut pm_window,
    data: &str,
    target_origin: &str,
) -> pm_result {
    // SAFETY: valid buffers for the call.
    unsafe {
        pm_post_message(
            from,
            to,
            data.as_ptr(),
            data.len(),
            cstr(target_origin).as_ptr(),
        )
    }
}

pub fn post_transfer(
    from: *mut pm_window,
    to: *mut pm_window,
    data: &str,
    target_origin: &str,
    ports: &[*mut pm_port],
) -> pm_result {
    // SAFETY: valid buffers for the call.
    unsafe {
        pm_post_message_transfer(
            from,
            to,
            data.as_ptr(),
            data.len(),
            cstr(target_origin).as_ptr(),
            ports.as_ptr(),
            ports.len(),
        )
    }
}

pub fn listen(w: *mut pm_window, rec: &Arc<Recorder>) -> u64 {
    let id = pm_add_listener(w, Some(record), rec.ud());
    assert!(id > 0);
    id
}

pub fn origin_of(w: *mut pm_window) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: buf has 256 writable bytes.
    let n = unsafe { pm_window_origin(w, buf.as_mut_ptr(), buf.len()) };
    assert!(n > 0, "pm_window_origin failed");
    // SAFETY: NUL-terminated by pm_window_origin.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub fn last_error() -> String {
    // SAFETY: pm_last_error never returns NULL.
    unsafe { CStr::from_ptr(pm_last_error()) }
        .to_string_lossy()
        .into_owned()
}
