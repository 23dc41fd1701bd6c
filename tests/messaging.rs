//! Queued delivery, MessageChannel ports and BroadcastChannel through the exported functions.

mod common;

use common::*;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::port::*;
use postmessage::capi::post::pm_add_listener;
use postmessage::capi::window::*;
use postmessage::{pm_broadcast, pm_port, pm_result, pm_window};
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pm_result::*;

const QUEUED: u32 = 1;

unsafe extern "C" fn count_wake(_: *mut pm_window, ud: *mut c_void) {
    // SAFETY: a live AtomicUsize.
    unsafe { &*(ud as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn queued_mode_defers_checks_origin_at_delivery_and_wakes() {
    let src = window("http://a.example/");
    let dst = window("http://b.example/");
    let rec = Recorder::new();
    listen(dst, &rec);
    assert_eq!(pm_window_set_dispatch_mode(dst, QUEUED), PM_OK);
    let wakes = AtomicUsize::new(0);
    let ud = &wakes as *const AtomicUsize as *mut c_void;
    assert_eq!(pm_window_set_waker(dst, Some(count_wake), ud), PM_OK);

    assert_eq!(post(src, dst, "1", "http://b.example"), PM_OK);
    assert_eq!(
        post(src, dst, "mismatch", "http://c.example"),
        PM_OK,
        "checked at delivery"
    );
    assert_eq!(
        post(src, dst, "bad", "nope"),
        PM_ERR_SYNTAX,
        "syntax checked at once"
    );
    assert_eq!(post(src, dst, "2", "*"), PM_OK);
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        1,
        "woken once: empty -> non-empty"
    );
    assert_eq!(rec.count(), 0);
    assert_eq!(pm_window_pending(dst), 3);
    assert_eq!(pm_window_run_pending(dst, 2), 2);
    assert_eq!(rec.texts(), ["1"]);
    pm_window_free(src);
    assert_eq!(pm_window_run_pending(dst, 100), 1);
    assert_eq!(rec.texts(), ["1", "2"]);
    assert_eq!(rec.last().source, 0, "source freed before delivery is NULL");
    assert_eq!(rec.last().origin, "http://a.example", "origin at post time");
    assert_eq!(pm_window_pending(dst), 0);
    pm_window_free(dst);
}

#[test]
fn navigation_discards_the_old_documents_queue() {
    let src = window("http://a.example/");
    let dst = window("http://b.example/");
    pm_window_set_dispatch_mode(dst, QUEUED);
    assert_eq!(post(src, dst, "old", "*"), PM_OK);
    // SAFETY: valid string.
    assert_eq!(
        unsafe { pm_window_navigate(dst, c"http://b.example/next".as_ptr()) },
        PM_OK
    );
    let rec = Recorder::new();
    listen(dst, &rec);
    assert_eq!(pm_window_pending(dst), 0);
    assert_eq!(pm_window_run_pending(dst, 10), 0);
    assert_eq!(
        post(src, dst, "new", "*"),
        PM_OK,
        "mode survives navigation"
    );
    assert_eq!(rec.count(), 0);
    assert_eq!(pm_window_run_pending(dst, 10), 1);
    assert_eq!(rec.texts(), ["new"]);
    pm_window_free(src);
    pm_window_free(dst);
}

#[test]
fn queue_limits_refuse_and_lose_nothing_queued() {
    let w = window("http://a.example/");
    pm_window_set_dispatch_mode(w, QUEUED);
    assert_eq!(pm_window_set_queue_limit(w, 2, 0), PM_OK);
    assert_eq!(post(w, w, "1", "*"), PM_OK);
    assert_eq!(post(w, w, "2", "*"), PM_OK);
    assert_eq!(post(w, w, "3", "*"), PM_ERR_QUEUE_FULL);
    assert_eq!(pm_window_pending(w), 2);
    assert_eq!(pm_window_set_queue_limit(w, 0, 5), PM_OK);
    assert_eq!(post(w, w, "345", "*"), PM_OK);
    assert_eq!(
        post(w, w, "6", "*"),
        PM_ERR_QUEUE_FULL,
        "5 bytes is the limit"
    );
    assert_eq!(pm_window_set_dispatch_mode(w, 7), PM_ERR_INVALID_ARGUMENT);
    let rec = Recorder::new();
    listen(w, &rec);
    assert_eq!(pm_window_run_pending(w, usize::MAX), 3);
    assert_eq!(rec.texts(), ["1", "2", "345"]);
    pm_window_free(w);
}

fn channel(owner: *mut pm_window) -> (*mut pm_port, *mut pm_port) {
    let mut a = std::ptr::null_mut();
    let mut b = std::ptr::null_mut();
    // SAFETY: valid out-pointers.
    assert_eq!(unsafe { pm_channel_new(owner, &mut a, &mut b) }, PM_OK);
    (a, b)
}

fn port_post(p: *mut pm_port, data: &str, transfer: &[*mut pm_port]) -> pm_result {
    // SAFETY: valid buffers.
    unsafe {
        pm_port_post_message(
            p,
            data.as_ptr(),
            data.len(),
            transfer.as_ptr(),
            transfer.len(),
        )
    }
}

#[test]
fn port_messages_wait_until_started_then_arrive_in_order() {
    let w = window("http://a.example/");
    let (a, b) = channel(w);
    assert_eq!(port_post(a, "1", &[]), PM_OK);
    assert_eq!(port_post(a, "2", &[]), PM_OK);
    let rec = Recorder::new();
    assert!(pm_port_add_listener(b, Some(record), rec.ud()) > 0);
    assert_eq!(
        rec.texts(),
        ["1", "2"],
        "delivered inside the starting add_listener"
    );
    assert_eq!(port_post(a, "3", &[]), PM_OK);
    assert_eq!(rec.texts(), ["1", "2", "3"]);
    let got = rec.last();
    assert_eq!((got.origin.as_str(), got.source, got.target), ("", 0, 0));
    assert_eq!(pm_port_close(b), PM_OK);
    assert_eq!(port_post(a, "4", &[]), PM_DROPPED);
    assert_eq!(pm_port_close(b), PM_ERR_INVALID_HANDLE);
    pm_window_free(w);
    assert_eq!(
        port_post(a, "5", &[]),
        PM_ERR_INVALID_HANDLE,
        "ports freed with their window"
    );
}

#[test]
fn transferring_a_port_through_a_window_message() {
    let page = window("http://a.example/");
    let frame = child(page, "http://b.example/");
    let (mine, theirs) = channel(page);
    let rec = Recorder::new();
    listen(frame, &rec);
    assert_eq!(
        post_transfer(page, frame, "port", "http://b.example", &[theirs]),
        PM_OK
    );
    let got = rec.last();
    assert_eq!(got.ports.len(), 1);
    let received = got.ports[0] as *mut pm_port;
    assert_ne!(received, theirs, "the receiver gets a new handle");
    assert_eq!(
        port_post(theirs, "x", &[]),
        PM_ERR_INVALID_HANDLE,
        "sender's handle is gone"
    );
    let prec = Recorder::new();
    assert!(pm_port_add_listener(received, Some(record), prec.ud()) > 0);
    assert_eq!(port_post(mine, "over the channel", &[]), PM_OK);
    assert_eq!(prec.texts(), ["over the channel"]);
    // Transfer errors: the sending port, a duplicate, a dead handle; nothing is transferred.
    let (c, d) = channel(page);
    assert_eq!(port_post(c, "x", &[c]), PM_ERR_DATA_CLONE);
    assert_eq!(port_post(mine, "x", &[d, d]), PM_ERR_DATA_CLONE);
    assert_eq!(port_post(mine, "x", &[theirs]), PM_ERR_DATA_CLONE);
    assert_eq!(
        port_post(mine, "x", &[std::ptr::null_mut()]),
        PM_ERR_NULL_ARGUMENT
    );
    assert_eq!(
        port_post(c, "still mine", &[]),
        PM_OK,
        "c was not transferred"
    );
    // A dropped window post still consumes (closes) its ports.
    assert_eq!(
        post_transfer(page, frame, "x", "http://wrong.example", &[d]),
        PM_DROPPED
    );
    assert_eq!(pm_port_close(d), PM_ERR_INVALID_HANDLE);
    assert_eq!(port_post(c, "partner closed", &[]), PM_DROPPED);
    pm_window_free(page);
    assert_eq!(
        pm_port_close(received),
        PM_ERR_INVALID_HANDLE,
        "freed with the frame"
    );
}

#[test]
fn port_messages_follow_a_queued_window() {
    let w = window("http://a.example/");
    pm_window_set_dispatch_mode(w, QUEUED);
    let (a, b) = channel(w);
    let rec = Recorder::new();
    pm_port_add_listener(b, Some(record), rec.ud());
    assert_eq!(port_post(a, "q", &[]), PM_OK);
    assert_eq!(rec.count(), 0);
    assert_eq!(pm_window_pending(w), 1);
    assert_eq!(pm_window_run_pending(w, 10), 1);
    assert_eq!(rec.texts(), ["q"]);
    // A message queued for a port closed before delivery is dropped.
    assert_eq!(port_post(a, "late", &[]), PM_OK);
    pm_port_close(b);
    assert_eq!(pm_window_run_pending(w, 10), 1);
    assert_eq!(rec.count(), 1);
    pm_window_free(w);
}

fn broadcast(w: *mut pm_window, name: &str) -> *mut pm_broadcast {
    // SAFETY: valid string.
    let c = unsafe { pm_broadcast_new(w, cstr(name).as_ptr()) };
    assert!(!c.is_null());
    c
}

fn bpost(c: *mut pm_broadcast, data: &str) -> pm_result {
    // SAFETY: valid buffer.
    unsafe { pm_broadcast_post_message(c, data.as_ptr(), data.len()) }
}

#[test]
fn broadcast_reaches_same_name_same_origin_others_in_creation_order() {
    let a = window("http://a.example/1");
    let b = window("http://a.example/2");
    let c = window("http://c.example/");
    let sender = broadcast(a, "news");
    let r1 = broadcast(b, "news");
    let r2 = broadcast(a, "news");
    let other_origin = broadcast(c, "news");
    let other_name = broadcast(b, "sports");
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    struct Tag(Arc<parking_lot::Mutex<Vec<usize>>>, usize);
    unsafe extern "C" fn tag(_: *const postmessage::pm_message_event, ud: *mut c_void) {
        // SAFETY: a live Tag.
        let t = unsafe { &*(ud as *const Tag) };
        t.0.lock().push(t.1);
    }
    let tags: Vec<Box<Tag>> = (0..5).map(|i| Box::new(Tag(order.clone(), i))).collect();
    for (ch, t) in [sender, r1, r2, other_origin, other_name].iter().zip(&tags) {
        let ud = &**t as *const Tag as *mut c_void;
        assert!(pm_broadcast_add_listener(*ch, Some(tag), ud) > 0);
    }
    let rec = Recorder::new();
    pm_broadcast_add_listener(r2, Some(record), rec.ud());
    assert_eq!(bpost(sender, "hi"), PM_OK);
    assert_eq!(*order.lock(), [1, 2]);
    let got = rec.last();
    assert_eq!(
        (got.origin.as_str(), got.source, got.target),
        ("http://a.example", 0, 0)
    );
    assert_eq!(pm_broadcast_close(r1), PM_OK);
    assert_eq!(pm_broadcast_close(r1), PM_ERR_INVALID_HANDLE);
    order.lock().clear();
    bpost(sender, "again");
    assert_eq!(*order.lock(), [2]);
    // Queued receivers: closing stops delivery of what was already queued.
    pm_window_set_dispatch_mode(c, QUEUED);
    let c2 = broadcast(c, "news");
    assert_eq!(bpost(other_origin, "q"), PM_OK);
    assert_eq!(pm_window_pending(c), 1);
    pm_broadcast_close(c2);
    order.lock().clear();
    assert_eq!(pm_window_run_pending(c, 10), 1);
    assert!(order.lock().is_empty());
    for w in [a, b, c] {
        pm_window_free(w);
    }
    assert_eq!(
        bpost(sender, "gone"),
        PM_ERR_INVALID_HANDLE,
        "closed with the window"
    );
}

#[test]
fn threads_post_while_one_thread_runs_pending() {
    const THREADS: usize = 3;
    const N: usize = 3000;
    let target = window("http://t.example/");
    pm_window_set_dispatch_mode(target, QUEUED);
    pm_window_set_queue_limit(target, 0, 0);
    struct Seen(parking_lot::Mutex<Vec<Vec<u32>>>);
    unsafe extern "C" fn seen(e: *const postmessage::pm_message_event, ud: *mut c_void) {
        // SAFETY: valid event; data is 8 bytes (thread, seq); ud is a live Seen.
        let (e, s) = unsafe { (&*e, &*(ud as *const Seen)) };
        // SAFETY: 8 bytes.
        let d = unsafe { std::slice::from_raw_parts(e.data, e.data_len) };
        let t = u32::from_le_bytes(d[..4].try_into().unwrap()) as usize;
        let n = u32::from_le_bytes(d[4..].try_into().unwrap());
        s.0.lock()[t].push(n);
    }
    let s = Seen(parking_lot::Mutex::new(vec![Vec::new(); THREADS]));
    pm_add_listener(target, Some(seen), &s as *const Seen as *mut c_void);
    let t = target as usize;
    let posters: Vec<_> = (0..THREADS)
        .map(|i| {
            std::thread::spawn(move || {
                let src = window("http://s.example/");
                for n in 0..N as u32 {
                    let mut d = (i as u32).to_le_bytes().to_vec();
                    d.extend(n.to_le_bytes());
                    // SAFETY: valid buffers.
                    let r = unsafe {
                        postmessage::capi::post::pm_post_message(
                            src,
                            t as *mut pm_window,
                            d.as_ptr(),
                            d.len(),
                            c"*".as_ptr(),
                        )
                    };
                    assert_eq!(r, PM_OK);
                }
                pm_window_free(src);
            })
        })
        .collect();
    let mut delivered = 0;
    while delivered < THREADS * N {
        delivered += pm_window_run_pending(target, 100);
        std::thread::yield_now();
    }
    for p in posters {
        p.join().unwrap();
    }
    for (i, got) in s.0.lock().iter().enumerate() {
        assert_eq!(got.len(), N, "thread {i}: nothing lost or duplicated");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "thread {i}: order kept"
        );
    }
    pm_window_free(target);
}

#[test]
fn ports_that_would_only_hold_each_other_are_closed_not_leaked() {
    let w = window("http://a.example/");
    let (a1, a2) = channel(w);
    let (b1, b2) = channel(w);
    // b1 waits in a1's queue; then a1 is sent into b1's queue: neither is reachable any more.
    assert_eq!(port_post(a2, "carries b1", &[b1]), PM_OK);
    assert_eq!(port_post(b2, "carries a1", &[a1]), PM_DROPPED);
    // The partners are disentangled: their messages are dropped too.
    assert_eq!(port_post(a2, "to nobody", &[]), PM_DROPPED);
    assert_eq!(port_post(b2, "to nobody", &[]), PM_DROPPED);
    pm_window_free(w);
}
