//! Core semantics through the exported C functions: the seed exchange, targetOrigin rules,
//! event fields, listener ordering and lifetime, re-entrancy, depth, navigation, bad input.

mod common;

use common::*;
use postmessage::capi::delivery::{pm_window_pending, pm_window_run_pending};
use postmessage::capi::error::*;
use postmessage::capi::post::*;
use postmessage::capi::window::*;
use postmessage::{PM_MAX_DISPATCH_DEPTH, pm_message_event, pm_result, pm_window};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use pm_result::*;

#[test]
fn seed_exchange_with_reply_through_source() {
    let page = window("http://127.0.0.1/");
    let frame = child(page, "http://localhost/");

    unsafe extern "C" fn frame_listener(e: *const pm_message_event, _: *mut c_void) {
        // SAFETY: valid event for the call.
        let e = unsafe { &*e };
        // SAFETY: NUL-terminated origin.
        let origin = unsafe { std::ffi::CStr::from_ptr(e.origin) };
        // SAFETY: data_len bytes.
        let data = unsafe { std::slice::from_raw_parts(e.data, e.data_len) };
        if origin.to_bytes() == b"http://127.0.0.1" && data == b"Hello World" {
            // SAFETY: valid buffers.
            let r = unsafe { pm_post_message(e.target, e.source, b"Hello".as_ptr(), 5, e.origin) };
            assert_eq!(r, PM_OK);
        }
    }
    assert!(pm_add_listener(frame, Some(frame_listener), std::ptr::null_mut()) > 0);
    let page_rec = Recorder::new();
    listen(page, &page_rec);

    assert_eq!(post(page, frame, "Hello World", "http://localhost"), PM_OK);
    let got = page_rec.last();
    assert_eq!(got.data, b"Hello");
    assert_eq!(got.origin, "http://localhost");
    assert_eq!(got.source, frame as usize);
    assert_eq!(got.target, page as usize);
    assert_eq!(got.last_event_id, "");
    assert_eq!(pm_window_free(page), PM_OK);
    assert_eq!(
        pm_window_free(frame),
        PM_ERR_INVALID_HANDLE,
        "child freed with parent"
    );
}

#[test]
fn target_origin_cases() {
    let src = window("http://127.0.0.1/a");
    let dst = window("http://localhost/b");
    let rec = Recorder::new();
    listen(dst, &rec);
    let cases: &[(&str, pm_result)] = &[
        ("*", PM_OK),
        ("http://localhost", PM_OK),
        ("http://localhost/", PM_OK),
        ("http://localhost:80/x?y#z", PM_OK),
        ("HTTP://LOCALHOST", PM_OK),
        (" http://localhost ", PM_OK),
        ("http://user:pw@localhost/", PM_OK),
        ("https://localhost", PM_DROPPED),
        ("http://localhost:8080", PM_DROPPED),
        ("http://127.0.0.1", PM_DROPPED),
        ("/", PM_DROPPED),
        ("data:,x", PM_DROPPED),
        ("file:///tmp/x", PM_DROPPED),
        ("", PM_ERR_SYNTAX),
        ("null", PM_ERR_SYNTAX),
        ("localhost", PM_ERR_SYNTAX),
        ("//localhost", PM_ERR_SYNTAX),
        (" *", PM_ERR_SYNTAX),
        ("* ", PM_ERR_SYNTAX),
        ("http://", PM_ERR_SYNTAX),
    ];
    for &(target_origin, expected) in cases {
        let before = rec.count();
        let got = post(src, dst, "m", target_origin);
        assert_eq!(got, expected, "targetOrigin {target_origin:?}");
        let delivered = rec.count() - before;
        assert_eq!(
            delivered,
            usize::from(expected == PM_OK),
            "{target_origin:?}"
        );
        if expected != PM_OK {
            assert!(!last_error().is_empty());
        }
    }
    // "/" from the same origin.
    let same = window("http://localhost:80/other");
    assert_eq!(post(same, dst, "m", "/"), PM_OK);
    pm_window_free(src);
    pm_window_free(dst);
    pm_window_free(same);
}

#[test]
fn opaque_origins_match_only_by_identity() {
    let a = window("data:text/html,a");
    let b = window("data:text/html,a");
    let rec = Recorder::new();
    listen(a, &rec);
    assert_eq!(post(a, a, "self", "/"), PM_OK);
    assert_eq!(post(b, a, "other opaque", "/"), PM_DROPPED);
    assert_eq!(post(b, a, "star", "*"), PM_OK);
    assert_eq!(rec.last().origin, "null");
    // An about:blank child inherits its parent's opaque origin (same identity).
    let frame = child(a, "about:blank");
    let frec = Recorder::new();
    listen(frame, &frec);
    assert_eq!(post(a, frame, "inherited", "/"), PM_OK);
    assert_eq!(frec.count(), 1);
    // A top-level about:blank is a new opaque origin.
    let blank = window("about:blank");
    assert_eq!(post(blank, a, "x", "/"), PM_DROPPED);
    for w in [a, b, blank] {
        pm_window_free(w);
    }
}

#[test]
fn about_blank_child_inherits_tuple_origin() {
    let page = window("https://example.com/app");
    let frame = child(page, "about:blank");
    assert_eq!(origin_of(frame), "https://example.com");
    let other = child(page, "about:blank#x");
    assert_eq!(origin_of(other), "https://example.com");
    pm_window_free(page);
}

#[test]
fn origin_serialization() {
    let cases = [
        ("http://127.0.0.1/", "http://127.0.0.1"),
        ("HTTP://LocalHost:80/x", "http://localhost"),
        ("https://example.com:443/", "https://example.com"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("http://bücher.de/", "http://xn--bcher-kva.de"),
        ("http://0x7f.1/", "http://127.0.0.1"),
        ("http://[0:0::1]:8080/", "http://[::1]:8080"),
        ("blob:https://a.example/uuid", "https://a.example"),
        ("file:///etc/hosts", "null"),
        ("data:,x", "null"),
        ("about:blank", "null"),
    ];
    for (url, expected) in cases {
        let w = window(url);
        assert_eq!(origin_of(w), expected, "{url}");
        pm_window_free(w);
    }
    // snprintf-like truncation.
    let w = window("http://localhost/");
    let mut buf = [0x7f as std::ffi::c_char; 8];
    // SAFETY: buf has 8 bytes; cap 5.
    let n = unsafe { pm_window_origin(w, buf.as_mut_ptr(), 5) };
    assert_eq!(n, "http://localhost".len());
    assert_eq!(&buf[..5], &[b'h' as _, b't' as _, b't' as _, b'p' as _, 0]);
    assert_eq!(buf[5], 0x7f, "nothing written past cap");
    // SAFETY: NULL buffer is a size query.
    assert_eq!(unsafe { pm_window_origin(w, std::ptr::null_mut(), 0) }, n);
    pm_window_free(w);
}

#[test]
fn binary_and_empty_data() {
    let a = window("http://a.example/");
    let rec = Recorder::new();
    listen(a, &rec);
    let bytes = [0u8, 1, 2, 0, 255];
    // SAFETY: valid buffer.
    let r = unsafe { pm_post_message(a, a, bytes.as_ptr(), bytes.len(), c"*".as_ptr()) };
    assert_eq!(r, PM_OK);
    assert_eq!(rec.last().data, bytes);
    // SAFETY: NULL data with length 0 is allowed.
    let r = unsafe { pm_post_message(a, a, std::ptr::null(), 0, c"*".as_ptr()) };
    assert_eq!(r, PM_OK);
    assert!(rec.last().data.is_empty());
    // SAFETY: NULL data with a length is rejected before being read.
    let r = unsafe { pm_post_message(a, a, std::ptr::null(), 10, c"*".as_ptr()) };
    assert_eq!(r, PM_ERR_NULL_ARGUMENT);
    let big = vec![7u8; 16 << 20];
    // SAFETY: valid buffer.
    let r = unsafe { pm_post_message(a, a, big.as_ptr(), big.len(), c"*".as_ptr()) };
    assert_eq!(r, PM_OK);
    assert_eq!(rec.last().data.len(), 16 << 20);
    pm_window_free(a);
}

struct Script {
    window: *mut pm_window,
    order: parking_lot::Mutex<Vec<&'static str>>,
    remove_id: AtomicUsize,
    added: AtomicUsize,
    destroyed: AtomicUsize,
}

unsafe extern "C" fn first(_: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: a live Script.
    let s = unsafe { &*(ud as *const Script) };
    s.order.lock().push("first");
    let id = s.remove_id.swap(0, Ordering::SeqCst) as u64;
    if id != 0 {
        assert_eq!(pm_remove_listener(s.window, id), PM_OK);
        assert_eq!(
            s.destroyed.load(Ordering::SeqCst),
            1,
            "destroy ran before remove returned"
        );
    }
    if s.added.load(Ordering::SeqCst) == 0 {
        let id = pm_add_listener(s.window, Some(late), ud);
        s.added.store(id as usize, Ordering::SeqCst);
    }
}
unsafe extern "C" fn second(_: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: a live Script.
    unsafe { &*(ud as *const Script) }
        .order
        .lock()
        .push("second");
}
unsafe extern "C" fn late(_: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: a live Script.
    unsafe { &*(ud as *const Script) }.order.lock().push("late");
}
unsafe extern "C" fn count_destroy(ud: *mut c_void) {
    // SAFETY: a live Script.
    unsafe { &*(ud as *const Script) }
        .destroyed
        .fetch_add(1, Ordering::SeqCst);
}

#[test]
fn listener_order_snapshot_and_removal_during_dispatch() {
    let w = window("http://a.example/");
    let script = Box::new(Script {
        window: w,
        order: Default::default(),
        remove_id: AtomicUsize::new(0),
        added: AtomicUsize::new(0),
        destroyed: AtomicUsize::new(0),
    });
    let ud = &*script as *const Script as *mut c_void;
    assert!(pm_add_listener(w, Some(first), ud) > 0);
    let second_id = pm_add_listener_full(w, Some(second), ud, Some(count_destroy));
    assert!(second_id > 0);

    // Message 1: both run in order; "late" is added during dispatch and does not run yet.
    assert_eq!(post(w, w, "1", "*"), PM_OK);
    assert_eq!(*script.order.lock(), ["first", "second"]);
    script.order.lock().clear();
    // Message 2: "late" runs; "first" removes "second" before it runs.
    script.remove_id.store(second_id as usize, Ordering::SeqCst);
    assert_eq!(post(w, w, "2", "*"), PM_OK);
    assert_eq!(*script.order.lock(), ["first", "late"]);
    assert_eq!(script.destroyed.load(Ordering::SeqCst), 1);
    assert_eq!(pm_remove_listener(w, second_id), PM_ERR_INVALID_HANDLE);
    pm_window_free(w);
    assert_eq!(
        script.destroyed.load(Ordering::SeqCst),
        1,
        "destroy exactly once"
    );
}

struct SelfRemover {
    window: *mut pm_window,
    id: AtomicUsize,
    calls: AtomicUsize,
    destroyed_during_call: AtomicUsize,
    destroyed: AtomicUsize,
}

unsafe extern "C" fn remove_self(_: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: live SelfRemover.
    let s = unsafe { &*(ud as *const SelfRemover) };
    s.calls.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        pm_remove_listener(s.window, s.id.load(Ordering::SeqCst) as u64),
        PM_OK
    );
    s.destroyed_during_call
        .store(s.destroyed.load(Ordering::SeqCst), Ordering::SeqCst);
}
unsafe extern "C" fn self_destroyed(ud: *mut c_void) {
    // SAFETY: live SelfRemover.
    unsafe { &*(ud as *const SelfRemover) }
        .destroyed
        .fetch_add(1, Ordering::SeqCst);
}

#[test]
fn listener_removing_itself_is_destroyed_after_its_call() {
    let w = window("http://a.example/");
    let s = Box::new(SelfRemover {
        window: w,
        id: AtomicUsize::new(0),
        calls: AtomicUsize::new(0),
        destroyed_during_call: AtomicUsize::new(99),
        destroyed: AtomicUsize::new(0),
    });
    let ud = &*s as *const SelfRemover as *mut c_void;
    let id = pm_add_listener_full(w, Some(remove_self), ud, Some(self_destroyed));
    s.id.store(id as usize, Ordering::SeqCst);
    post(w, w, "x", "*");
    post(w, w, "y", "*");
    assert_eq!(s.calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.destroyed_during_call.load(Ordering::SeqCst), 0);
    assert_eq!(s.destroyed.load(Ordering::SeqCst), 1);
    pm_window_free(w);
}

unsafe extern "C" fn never_destroy(_: *mut c_void) {
    panic!("destroy must not run for a listener that was never added");
}

#[test]
fn failed_add_does_not_destroy() {
    let w = window("http://a.example/");
    pm_window_free(w);
    assert_eq!(
        pm_add_listener_full(w, Some(record), std::ptr::null_mut(), Some(never_destroy)),
        0
    );
    assert!(last_error().contains("window"));
    let w2 = window("http://a.example/");
    assert_eq!(
        pm_add_listener_full(w2, None, std::ptr::null_mut(), Some(never_destroy)),
        0
    );
    pm_window_free(w2);
}

static DESTROYS: AtomicUsize = AtomicUsize::new(0);
unsafe extern "C" fn bump(_: *mut c_void) {
    DESTROYS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn destroy_runs_on_navigate_and_free_including_children() {
    let before = DESTROYS.load(Ordering::SeqCst);
    let page = window("http://a.example/");
    let frame = child(page, "http://b.example/");
    let grandchild = child(frame, "http://c.example/");
    for w in [page, frame, grandchild] {
        assert!(pm_add_listener_full(w, Some(record), std::ptr::null_mut(), Some(bump)) > 0);
    }
    // SAFETY: valid string.
    assert_eq!(
        unsafe { pm_window_navigate(frame, c"https://new.example/".as_ptr()) },
        PM_OK
    );
    assert_eq!(origin_of(frame), "https://new.example");
    assert_eq!(
        DESTROYS.load(Ordering::SeqCst) - before,
        2,
        "frame's listener and grandchild's"
    );
    assert_eq!(
        pm_window_free(grandchild),
        PM_ERR_INVALID_HANDLE,
        "children go on navigation"
    );
    assert_eq!(pm_window_parent(frame), page);
    assert!(pm_window_parent(page).is_null());
    assert_eq!(pm_window_free(page), PM_OK);
    assert_eq!(DESTROYS.load(Ordering::SeqCst) - before, 3);
    assert_eq!(pm_window_free(frame), PM_ERR_INVALID_HANDLE);
    assert_eq!(pm_window_free(page), PM_ERR_INVALID_HANDLE, "double free");
}

unsafe extern "C" fn repost(e: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid event; ud is a live (AtomicUsize calls, AtomicUsize depth_errors) pair.
    let (e, counters) = unsafe { (&*e, &*(ud as *const [AtomicUsize; 2])) };
    counters[0].fetch_add(1, Ordering::SeqCst);
    // SAFETY: valid buffers.
    let r = unsafe { pm_post_message(e.target, e.target, e.data, e.data_len, c"*".as_ptr()) };
    if r == PM_ERR_DEPTH {
        counters[1].fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn runaway_reposting_stops_at_the_depth_limit() {
    let w = window("http://a.example/");
    let counters = [AtomicUsize::new(0), AtomicUsize::new(0)];
    pm_add_listener(w, Some(repost), &counters as *const _ as *mut c_void);
    assert_eq!(post(w, w, "loop", "*"), PM_OK);
    assert_eq!(
        counters[0].load(Ordering::SeqCst),
        PM_MAX_DISPATCH_DEPTH as usize
    );
    assert_eq!(counters[1].load(Ordering::SeqCst), 1);
    // The library still works afterwards.
    assert_eq!(post(w, w, "again", "*"), PM_OK);
    pm_window_free(w);
}

unsafe extern "C" fn free_target(e: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid event; ud is a live AtomicUsize.
    let (e, n) = unsafe { (&*e, &*(ud as *const AtomicUsize)) };
    n.fetch_add(1, Ordering::SeqCst);
    assert_eq!(pm_window_free(e.target), PM_OK);
}

#[test]
fn listener_may_free_its_own_window() {
    let w = window("http://a.example/");
    let n = AtomicUsize::new(0);
    let ud = &n as *const AtomicUsize as *mut c_void;
    pm_add_listener(w, Some(free_target), ud);
    pm_add_listener(w, Some(free_target), ud);
    assert_eq!(post(w, w, "bye", "*"), PM_OK);
    assert_eq!(
        n.load(Ordering::SeqCst),
        1,
        "the second listener was removed with the window"
    );
    assert_eq!(post(w, w, "gone", "*"), PM_ERR_INVALID_HANDLE);
}

#[test]
fn bad_arguments_get_codes_and_messages() {
    let w = window("http://a.example/");
    let bogus = 0x1234usize as *mut pm_window;
    assert_eq!(post(bogus, w, "x", "*"), PM_ERR_INVALID_HANDLE);
    assert!(!last_error().is_empty());
    assert_eq!(post(w, bogus, "x", "*"), PM_ERR_INVALID_HANDLE);
    assert_eq!(
        post(std::ptr::null_mut(), w, "x", "*"),
        PM_ERR_NULL_ARGUMENT
    );
    // SAFETY: NULL target_origin is rejected before being read.
    let r = unsafe { pm_post_message(w, w, b"x".as_ptr(), 1, std::ptr::null()) };
    assert_eq!(r, PM_ERR_NULL_ARGUMENT);
    // SAFETY: valid C strings with invalid UTF-8.
    unsafe {
        assert_eq!(
            pm_post_message(w, w, b"x".as_ptr(), 1, c"http://\xff".as_ptr()),
            PM_ERR_UTF8
        );
        assert!(pm_window_new(c"http://\xff/".as_ptr()).is_null());
        assert!(pm_window_new(c"not a url".as_ptr()).is_null());
        assert!(last_error().contains("not a url"));
        assert!(pm_window_new(std::ptr::null()).is_null());
        assert_eq!(pm_window_navigate(w, c"::".as_ptr()), PM_ERR_INVALID_URL);
    }
    assert_eq!(
        origin_of(w),
        "http://a.example",
        "failed navigation changed nothing"
    );
    assert_eq!(
        pm_add_listener(bogus, Some(record), std::ptr::null_mut()),
        0
    );
    assert_eq!(pm_remove_listener(w, 987654321), PM_ERR_INVALID_HANDLE);
    assert_eq!(pm_window_free(std::ptr::null_mut()), PM_OK);
    assert_eq!(pm_window_free(bogus), PM_ERR_INVALID_HANDLE);
    assert!(pm_window_parent(bogus).is_null());
    // SAFETY: NULL buffer.
    assert_eq!(
        unsafe { pm_window_origin(bogus, std::ptr::null_mut(), 0) },
        0
    );
    pm_window_free(w);
}

#[test]
fn version_matches_cargo() {
    // SAFETY: static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(pm_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn threads_post_concurrently_and_each_message_arrives_once() {
    const THREADS: usize = 4;
    const N: usize = 2000;
    let shared = window("http://shared.example/") as usize;
    let shared_rec = Recorder::new();
    listen(shared as *mut pm_window, &shared_rec);
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                let own = window("http://own.example/");
                let rec = Recorder::new();
                listen(own, &rec);
                for _ in 0..N {
                    assert_eq!(post(own, own, "m", "/"), PM_OK);
                    assert_eq!(post(own, shared as *mut pm_window, "s", "*"), PM_OK);
                }
                assert_eq!(rec.count(), N);
                pm_window_free(own);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(shared_rec.count(), THREADS * N);
    pm_window_free(shared as *mut pm_window);
}

/// NULL from `pm_window_parent` and 0 from `pm_window_pending` / `pm_window_run_pending` are
/// answers when `pm_last_error_code()` is `PM_OK` afterwards, failures otherwise.
#[test]
fn null_or_zero_answers_are_told_from_failures_by_the_last_error_code() {
    let top = window("https://a.example");
    assert!(pm_window_parent(std::ptr::null()).is_null());
    assert_eq!(pm_last_error_code(), PM_ERR_NULL_ARGUMENT);
    assert!(
        pm_window_parent(top).is_null(),
        "a top-level window has no parent"
    );
    assert_eq!(pm_last_error_code(), PM_OK);
    assert_eq!(pm_window_pending(std::ptr::null()), 0);
    assert_eq!(pm_last_error_code(), PM_ERR_NULL_ARGUMENT);
    assert_eq!(pm_window_pending(top), 0);
    assert_eq!(pm_last_error_code(), PM_OK);
    assert_eq!(pm_window_run_pending(std::ptr::null_mut(), 10), 0);
    assert_eq!(pm_last_error_code(), PM_ERR_NULL_ARGUMENT);
    assert_eq!(pm_window_run_pending(top, 10), 0);
    assert_eq!(pm_last_error_code(), PM_OK);
    assert_eq!(pm_window_free(top), PM_OK);
}
