//! Remote windows across threads: each side's proxy `send` is a fire-and-forget queue (as over
//! a broker) drained by that side's own delivery thread, while other threads post on an
//! entangled port pair from both sides at once. Checks order per port in both directions, that
//! every message arrives exactly once, that a close crosses, and no deadlock (a watchdog).
//! The synchronous, single-thread cases are in tests/c/test_remote.c.

use parking_lot::Mutex;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::remote::*;
use postmessage::capi::window::*;
use postmessage::{pm_message_event, pm_port, pm_result, pm_window};
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use pm_result::*;

const N: u32 = 2000;

/// A one-way pipe: `send` copies the record into it.
struct Pipe(Mutex<Sender<Vec<u8>>>);

unsafe extern "C" fn send_into_pipe(
    _: *mut pm_window,
    record: *const u8,
    len: usize,
    user_data: *mut c_void,
) -> u32 {
    // SAFETY: user_data is a Pipe that outlives the proxy; the record is valid for the call.
    let (pipe, record) = unsafe {
        (
            &*(user_data as *const Pipe),
            std::slice::from_raw_parts(record, len),
        )
    };
    match pipe.0.lock().send(record.to_vec()) {
        Ok(()) => PM_OK as u32,
        Err(_) => PM_DROPPED as u32,
    }
}

/// What one side's port listener saw: the next expected sequence number, and disorder.
#[derive(Default)]
struct Inbox {
    next: AtomicUsize,
    out_of_order: AtomicUsize,
    port: AtomicUsize,
}

unsafe extern "C" fn on_port(e: *const pm_message_event, user_data: *mut c_void) {
    // SAFETY: valid for the call; user_data is an Inbox that outlives the port.
    let (e, inbox) = unsafe { (&*e, &*(user_data as *const Inbox)) };
    // SAFETY: data_len readable bytes.
    let data = unsafe { std::slice::from_raw_parts(e.data, e.data_len) };
    let n = u32::from_le_bytes(data.try_into().expect("4-byte messages"));
    if n as usize != inbox.next.load(Ordering::SeqCst) {
        inbox.out_of_order.fetch_add(1, Ordering::SeqCst);
    }
    inbox.next.store(n as usize + 1, Ordering::SeqCst);
}

/// B's window listener: keeps the transferred port and starts it.
unsafe extern "C" fn on_window(e: *const pm_message_event, user_data: *mut c_void) {
    // SAFETY: as above.
    let (e, inbox) = unsafe { (&*e, &*(user_data as *const Inbox)) };
    assert_eq!(e.ports_len, 1);
    // SAFETY: one port handle.
    let port = unsafe { *e.ports };
    assert!(pm_port_add_listener(port, Some(on_port), user_data) != 0);
    inbox.port.store(port as usize, Ordering::SeqCst);
}

/// Delivers everything arriving on `rx` into this side until the pipe closes. Once `stop` is
/// set the windows may be freed under it, so results are no longer checked.
fn deliverer(
    rx: Receiver<Vec<u8>>,
    target: usize,
    source: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for record in rx {
            // SAFETY: a valid buffer.
            let rc = unsafe {
                pm_remote_deliver(
                    target as *mut pm_window,
                    source as *mut pm_window,
                    record.as_ptr(),
                    record.len(),
                )
            };
            assert!(
                stop.load(Ordering::SeqCst) || matches!(rc, PM_OK | PM_DROPPED),
                "{rc:?}"
            );
        }
    })
}

fn wait_for(what: &str, deadline: Instant, done: impl Fn() -> bool) {
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn ports_across_threads_keep_order_both_ways_and_close_crosses() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (to_b, rx_b) = channel();
    let (to_a, rx_a) = channel();
    let pipe_b = Box::new(Pipe(Mutex::new(to_b)));
    let pipe_a = Box::new(Pipe(Mutex::new(to_a)));
    // SAFETY: static strings; the pipes outlive the proxies (freed below, before the pipes).
    let (a, b, pa, pb) = unsafe {
        (
            pm_window_new(c"http://127.0.0.1/".as_ptr()),
            pm_window_new(c"http://localhost/".as_ptr()),
            pm_remote_window_new(
                ptr::null_mut(),
                c"http://127.0.0.1/".as_ptr(),
                Some(send_into_pipe),
                &*pipe_a as *const Pipe as *mut c_void,
                None,
            ),
            pm_remote_window_new(
                ptr::null_mut(),
                c"http://localhost/".as_ptr(),
                Some(send_into_pipe),
                &*pipe_b as *const Pipe as *mut c_void,
                None,
            ),
        )
    };
    assert!(!a.is_null() && !b.is_null() && !pa.is_null() && !pb.is_null());
    let at_a = Arc::new(Inbox::default());
    let at_b = Arc::new(Inbox::default());
    assert!(pm_add_listener(b, Some(on_window), Arc::as_ptr(&at_b) as *mut c_void) != 0);
    let stop = Arc::new(AtomicBool::new(false));
    let b_side = deliverer(rx_b, b as usize, pa as usize, stop.clone());
    let a_side = deliverer(rx_a, a as usize, pb as usize, stop.clone());

    let (mut p1, mut p2): (*mut pm_port, *mut pm_port) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: valid out-pointers.
    assert_eq!(unsafe { pm_channel_new(a, &mut p1, &mut p2) }, PM_OK);
    assert!(pm_port_add_listener(p1, Some(on_port), Arc::as_ptr(&at_a) as *mut c_void) != 0);
    // SAFETY: a 1-element transfer list and static strings.
    let rc = unsafe { pm_post_message_transfer(a, pb, b"p".as_ptr(), 1, c"*".as_ptr(), &p2, 1) };
    assert_eq!(rc, PM_OK);
    wait_for("the port to arrive", deadline, || {
        at_b.port.load(Ordering::SeqCst) != 0
    });
    let bp = at_b.port.load(Ordering::SeqCst);

    // Both sides post at once, from two more threads.
    let poster = |port: usize| {
        std::thread::spawn(move || {
            for n in 0..N {
                let bytes = n.to_le_bytes();
                // SAFETY: 4 readable bytes.
                let rc = unsafe {
                    pm_port_post_message(port as *mut pm_port, bytes.as_ptr(), 4, ptr::null(), 0)
                };
                assert_eq!(rc, PM_OK);
            }
        })
    };
    let (from_a, from_b) = (poster(p1 as usize), poster(bp));
    from_a.join().unwrap();
    from_b.join().unwrap();
    wait_for("every message", deadline, || {
        at_a.next.load(Ordering::SeqCst) == N as usize
            && at_b.next.load(Ordering::SeqCst) == N as usize
    });
    assert_eq!(at_a.out_of_order.load(Ordering::SeqCst), 0, "order A <- B");
    assert_eq!(at_b.out_of_order.load(Ordering::SeqCst), 0, "order B <- A");

    // A closes; once the close has crossed, B's posts are dropped.
    assert_eq!(pm_port_close(p1), PM_OK);
    wait_for("the close to cross", deadline, || {
        let bytes = 0u32.to_le_bytes();
        // SAFETY: 4 readable bytes.
        let rc =
            unsafe { pm_port_post_message(bp as *mut pm_port, bytes.as_ptr(), 4, ptr::null(), 0) };
        rc == PM_DROPPED
    });
    stop.store(true, Ordering::SeqCst);

    for w in [a, b, pa, pb] {
        assert_eq!(pm_window_free(w), PM_OK);
    }
    drop(pipe_a);
    drop(pipe_b);
    a_side.join().unwrap();
    b_side.join().unwrap();
}
