//! Embedder extensions: allow-list listeners, drop diagnostics, custom standard schemes.
//! The drop handler is process-wide, so the tests that set it run one at a time.

mod common;

use common::*;
use postmessage::capi::allow_list::*;
use postmessage::capi::delivery::*;
use postmessage::capi::diagnostics::*;
use postmessage::capi::scheme::*;
use postmessage::capi::window::*;
use postmessage::{pm_drop_event, pm_drop_reason};
use postmessage::{pm_result, pm_window};
use std::ffi::{CStr, c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pm_drop_reason::*;
use pm_result::*;

static HANDLER_LOCK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

#[derive(Debug, Clone, PartialEq)]
struct Dropped {
    reason: pm_drop_reason,
    source_origin: String,
    target_origin: String,
    requested: String,
    source: usize,
    target: usize,
    data_len: usize,
}

unsafe extern "C" fn on_drop(e: *const pm_drop_event, ud: *mut c_void) {
    // SAFETY: valid event for the call; ud is a live Mutex<Vec<Dropped>>.
    let (e, log) = unsafe { (&*e, &*(ud as *const parking_lot::Mutex<Vec<Dropped>>)) };
    let s = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    log.lock().push(Dropped {
        reason: e.reason,
        source_origin: s(e.source_origin),
        target_origin: s(e.target_origin),
        requested: s(e.requested_origin),
        source: e.source as usize,
        target: e.target as usize,
        data_len: e.data_len,
    });
}

fn allow_list(w: *mut pm_window, origins: &[&str], rec: &Arc<Recorder>) -> u64 {
    let owned: Vec<_> = origins.iter().map(|o| cstr(o)).collect();
    let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    // SAFETY: valid strings for the call.
    unsafe {
        pm_add_listener_for_origins(w, ptrs.as_ptr(), ptrs.len(), Some(record), rec.ud(), None)
    }
}

#[test]
fn allow_list_listeners_see_only_listed_origins() {
    let _g = HANDLER_LOCK.lock();
    let log = parking_lot::Mutex::new(Vec::<Dropped>::new());
    pm_set_drop_handler(Some(on_drop), &log as *const _ as *mut c_void);
    let target = window("https://app.example/");
    let good = window("https://trusted.example/page");
    let bad = window("https://evil.example/");
    let listed = Recorder::new();
    let plain = Recorder::new();
    assert!(
        allow_list(
            target,
            &["https://trusted.example", "https://other.example:8443/x"],
            &listed
        ) > 0
    );
    listen(target, &plain);
    assert_eq!(post(good, target, "ok", "*"), PM_OK);
    assert_eq!(post(bad, target, "no", "*"), PM_OK);
    assert_eq!(listed.texts(), ["ok"]);
    assert_eq!(plain.texts(), ["ok", "no"]);
    let drops = log.lock().clone();
    assert_eq!(drops.len(), 1);
    assert_eq!(drops[0].reason, PM_DROP_FILTERED);
    assert_eq!(drops[0].source_origin, "https://evil.example");
    // Bad lists add nothing.
    let cases: &[(&[&str], &str)] = &[
        (&["*"], "syntax"),
        (&["/"], "syntax"),
        (&["null"], "syntax"),
        (&["nope"], "syntax"),
        (&["data:,x"], "opaque"),
        (&[], "empty"),
    ];
    for (list, why) in cases {
        assert_eq!(allow_list(target, list, &listed), 0, "{why}");
    }
    // SAFETY: a NULL entry is rejected before being read.
    let r = unsafe {
        pm_add_listener_for_origins(
            target,
            [std::ptr::null()].as_ptr(),
            1,
            Some(record),
            std::ptr::null_mut(),
            None,
        )
    };
    assert_eq!(r, 0);
    pm_set_drop_handler(None, std::ptr::null_mut());
    for w in [target, good, bad] {
        pm_window_free(w);
    }
}

#[test]
fn drop_reasons_are_reported() {
    let _g = HANDLER_LOCK.lock();
    let log = parking_lot::Mutex::new(Vec::<Dropped>::new());
    pm_set_drop_handler(Some(on_drop), &log as *const _ as *mut c_void);
    let src = window("http://a.example/");
    let dst = window("http://b.example/");
    assert_eq!(post(src, dst, "abc", "http://c.example/path"), PM_DROPPED);
    let d = log.lock().pop().unwrap();
    assert_eq!(
        d,
        Dropped {
            reason: PM_DROP_ORIGIN_MISMATCH,
            source_origin: "http://a.example".into(),
            target_origin: "http://b.example".into(),
            requested: "http://c.example/path".into(),
            source: src as usize,
            target: dst as usize,
            data_len: 3,
        }
    );
    pm_window_set_dispatch_mode(dst, 1);
    pm_window_set_queue_limit(dst, 1, 0);
    assert_eq!(post(src, dst, "q", "*"), PM_OK);
    assert_eq!(post(src, dst, "full", "*"), PM_ERR_QUEUE_FULL);
    assert_eq!(log.lock().pop().unwrap().reason, PM_DROP_QUEUE_FULL);
    // SAFETY: valid string.
    unsafe { pm_window_navigate(dst, c"http://b.example/2".as_ptr()) };
    let d = log.lock().pop().unwrap();
    assert_eq!(
        (d.reason, d.target, d.target_origin.as_str()),
        (PM_DROP_NAVIGATED, dst as usize, "http://b.example")
    );
    assert_eq!(post(src, dst, "at delivery", "http://x.example"), PM_OK);
    pm_window_run_pending(dst, 1);
    assert_eq!(log.lock().pop().unwrap().reason, PM_DROP_ORIGIN_MISMATCH);
    assert_eq!(post(src, dst, "gone", "*"), PM_OK);
    pm_window_free(dst);
    let d = log.lock().pop().unwrap();
    assert_eq!((d.reason, d.target), (PM_DROP_TARGET_GONE, 0));
    assert!(log.lock().is_empty());
    pm_set_drop_handler(None, std::ptr::null_mut());
    assert_eq!(post(src, src, "x", "http://nomatch.example"), PM_DROPPED);
    assert!(log.lock().is_empty(), "no handler, no report");
    pm_window_free(src);
}

static NESTED: AtomicUsize = AtomicUsize::new(0);
unsafe extern "C" fn drop_again(e: *const pm_drop_event, _: *mut c_void) {
    NESTED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: valid event; posting a mismatched message from inside the handler.
    let e = unsafe { &*e };
    if !e.source.is_null() {
        assert_eq!(
            post(e.source, e.source, "x", "http://never.example"),
            PM_DROPPED
        );
    }
}

#[test]
fn drops_inside_the_handler_are_not_reported_again() {
    let _g = HANDLER_LOCK.lock();
    pm_set_drop_handler(Some(drop_again), std::ptr::null_mut());
    let w = window("http://a.example/");
    let before = NESTED.load(Ordering::SeqCst);
    assert_eq!(post(w, w, "x", "http://b.example"), PM_DROPPED);
    assert_eq!(NESTED.load(Ordering::SeqCst) - before, 1);
    pm_set_drop_handler(None, std::ptr::null_mut());
    pm_window_free(w);
}

#[test]
fn registered_schemes_get_tuple_origins() {
    // Its mismatched posts are drops: not while another test's drop handler counts them.
    let _g = HANDLER_LOCK.lock();
    let before = window("app://UI:8080/index.html");
    assert_eq!(origin_of(before), "null");
    // SAFETY: valid strings.
    unsafe {
        assert_eq!(pm_register_standard_scheme(c"APP".as_ptr()), PM_OK);
        assert_eq!(pm_register_standard_scheme(c"https".as_ptr()), PM_OK);
        for bad in [
            c"file",
            c"blob",
            c"data",
            c"about",
            c"javascript",
            c"",
            c"1x",
            c"a b",
        ] {
            assert_eq!(
                pm_register_standard_scheme(bad.as_ptr()),
                PM_ERR_INVALID_ARGUMENT,
                "{bad:?}"
            );
        }
        assert_eq!(
            pm_register_standard_scheme(std::ptr::null()),
            PM_ERR_NULL_ARGUMENT
        );
    }
    assert_eq!(
        origin_of(before),
        "null",
        "existing windows keep their origin"
    );
    let ui = window("app://UI:8080/index.html");
    assert_eq!(origin_of(ui), "app://ui:8080");
    let host = window("https://host.example/");
    let rec = Recorder::new();
    listen(ui, &rec);
    assert_eq!(post(host, ui, "hi", "app://ui:8080/other"), PM_OK);
    assert_eq!(post(host, ui, "no", "app://ui:9090"), PM_DROPPED);
    assert_eq!(
        post(host, ui, "no", "app://ui"),
        PM_DROPPED,
        "no default port"
    );
    assert_eq!(rec.texts(), ["hi"]);
    let bare = window("app://ui/");
    assert_eq!(origin_of(bare), "app://ui");
    for w in [before, ui, host, bare] {
        pm_window_free(w);
    }
}
