//! Multi-threaded randomized stress test of the C API.
//!
//! Four worker threads run random operations on a shared pool of windows, ports and broadcast
//! channels for a bounded time (`PM_STRESS_SECS`, default 3 s): create, create child, free,
//! navigate, add and remove listeners (most with a destroy function), post (listeners reply,
//! post elsewhere, free or navigate their own window, remove themselves, add listeners, transfer
//! ports), switch delivery modes and run queues, open, use and close ports and channels.
//!
//! Invariants checked:
//! - every listener added with a destroy function is destroyed exactly once by the end (and
//!   none whose add failed), and no listener is called after its destroy ran;
//! - each worker's posts to its private windows, which no other thread touches, are delivered
//!   exactly once and in order while the others churn (SYNC and QUEUED);
//! - no deadlock: a watchdog aborts the process with a message if the workers and the teardown
//!   do not finish within the deadline.
//!
//! The seed is printed at start; `PM_STRESS_SEED` replays a seed (each thread's sequence of
//! operations is deterministic; their interleaving is not).

mod common;

use parking_lot::Mutex;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::error::*;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::window::*;
use postmessage::{pm_broadcast, pm_message_event, pm_port, pm_result, pm_window};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pm_result::*;

const THREADS: usize = 4;
const POOL_MAX: usize = 48;

// ---------------------------------------------------------------------------------------------
// Randomness

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 once, so nearby seeds give unrelated streams; never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

thread_local! {
    /// Listener-side randomness and nesting depth, on whichever thread runs the listener.
    static LRNG: Cell<u64> = const { Cell::new(0x2545_f491_4f6c_dd1d) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

fn lrand(n: usize) -> usize {
    LRNG.with(|c| {
        let mut r = Rng(c.get());
        let v = r.below(n);
        c.set(r.0);
        v
    })
}

// ---------------------------------------------------------------------------------------------
// Shared state (never locked across a library call: listeners run inside those calls)

static WINDOWS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static STALE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static ALL_WINDOWS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static PORTS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static CHANNELS: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// (home handle, listener id, home kind: 0 window, 1 port, 2 broadcast)
static LISTENERS: Mutex<Vec<(usize, u64, u8)>> = Mutex::new(Vec::new());
static RECORDS: Mutex<Vec<&'static ListenerRecord>> = Mutex::new(Vec::new());

static DOUBLE_DESTROY: AtomicUsize = AtomicUsize::new(0);
static CALL_AFTER_DESTROY: AtomicUsize = AtomicUsize::new(0);
static BAD_EVENTS: AtomicUsize = AtomicUsize::new(0);
static UNEXPECTED_CODES: AtomicUsize = AtomicUsize::new(0);
static DELIVERED: AtomicU64 = AtomicU64::new(0);
static POSTS_OK: AtomicU64 = AtomicU64::new(0);

fn pick(pool: &Mutex<Vec<usize>>, rng: &mut Rng) -> usize {
    let pool = pool.lock();
    if pool.is_empty() {
        0
    } else {
        pool[rng.below(pool.len())]
    }
}

fn take(pool: &Mutex<Vec<usize>>, rng: &mut Rng) -> usize {
    let mut pool = pool.lock();
    if pool.is_empty() {
        0
    } else {
        let i = rng.below(pool.len());
        pool.swap_remove(i)
    }
}

fn push_capped(pool: &Mutex<Vec<usize>>, v: usize, rng: &mut Rng) {
    let mut pool = pool.lock();
    if pool.len() >= 64 {
        let i = rng.below(pool.len());
        pool[i] = v;
    } else {
        pool.push(v);
    }
}

fn expect(r: pm_result, allowed: &[pm_result], what: &str) {
    if !allowed.contains(&r) {
        UNEXPECTED_CODES.fetch_add(1, Ordering::Relaxed);
        eprintln!("stress: {what} returned {r:?}, expected one of {allowed:?}");
    }
}

const HANDLE_RESULTS: &[pm_result] = &[PM_OK, PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE];
const POST_RESULTS: &[pm_result] = &[
    PM_OK,
    PM_DROPPED,
    PM_ERR_NULL_ARGUMENT,
    PM_ERR_INVALID_HANDLE,
    PM_ERR_DEPTH,
    PM_ERR_DATA_CLONE,
    PM_ERR_QUEUE_FULL,
];

const URLS: &[&CStr] = &[
    c"http://a.example/",
    c"http://a.example/other",
    c"https://a.example/",
    c"http://b.example:8080/",
    c"data:text/html,x",
    c"about:blank",
];
const TARGETS: &[&CStr] = &[c"*", c"/", c"http://a.example", c"https://a.example/x"];

// ---------------------------------------------------------------------------------------------
// Listeners

struct ListenerRecord {
    kind: u8,
    has_destroy: bool,
    added: AtomicBool,
    destroyed: AtomicU32,
    id: AtomicU64,
    home: AtomicUsize,
    home_kind: u8,
}

unsafe extern "C" fn destroy(ud: *mut c_void) {
    // SAFETY: a leaked, never freed ListenerRecord.
    let rec = unsafe { &*(ud as *const ListenerRecord) };
    if rec.destroyed.fetch_add(1, Ordering::SeqCst) != 0 {
        DOUBLE_DESTROY.fetch_add(1, Ordering::SeqCst);
        eprintln!(
            "stress: destroy ran twice for listener {}",
            rec.id.load(Ordering::SeqCst)
        );
    }
}

fn check_event(e: &pm_message_event) -> bool {
    if e.data.is_null() || e.origin.is_null() || e.last_event_id.is_null() {
        return false;
    }
    // SAFETY: NUL-terminated strings owned by the library for the call.
    let (origin, last) = unsafe { (CStr::from_ptr(e.origin), CStr::from_ptr(e.last_event_id)) };
    last.to_bytes().is_empty()
        && origin.to_str().is_ok()
        && (e.ports_len == 0 || !e.ports.is_null())
}

unsafe extern "C" fn shared_listener(event: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid for the call; ud is a leaked ListenerRecord.
    let (e, rec) = unsafe { (&*event, &*(ud as *const ListenerRecord)) };
    DELIVERED.fetch_add(1, Ordering::Relaxed);
    if rec.destroyed.load(Ordering::SeqCst) != 0 {
        CALL_AFTER_DESTROY.fetch_add(1, Ordering::SeqCst);
    }
    if !check_event(e) {
        BAD_EVENTS.fetch_add(1, Ordering::SeqCst);
        return;
    }
    if e.ports_len > 0 {
        // SAFETY: ports_len entries.
        let ports = unsafe { std::slice::from_raw_parts(e.ports, e.ports_len) };
        let mut pool = PORTS.lock();
        for &p in ports {
            if pool.len() < 64 {
                pool.push(p as usize);
            }
        }
    }
    let depth = DEPTH.with(|d| d.get());
    if depth >= 3 {
        return;
    }
    DEPTH.with(|d| d.set(depth + 1));
    let data = b"nested";
    let t = TARGETS[lrand(TARGETS.len())].as_ptr();
    match rec.kind % 8 {
        0 => {}
        1 => {
            if !e.source.is_null() && !e.target.is_null() {
                // SAFETY: valid buffers.
                let r =
                    unsafe { pm_post_message(e.target, e.source, data.as_ptr(), data.len(), t) };
                expect(r, POST_RESULTS, "reply");
            }
        }
        2 => {
            if lrand(4) == 0 {
                expect(pm_window_free(e.target), HANDLE_RESULTS, "free own window");
            }
        }
        3 => {
            if !e.target.is_null() && lrand(4) == 0 {
                // SAFETY: valid C string.
                let r = unsafe { pm_window_navigate(e.target, URLS[lrand(URLS.len())].as_ptr()) };
                expect(r, HANDLE_RESULTS, "navigate own window");
            }
        }
        4 => {
            let home = rec.home.load(Ordering::SeqCst);
            let id = rec.id.load(Ordering::SeqCst);
            let r = match rec.home_kind {
                0 => pm_remove_listener(home as *mut pm_window, id),
                1 => pm_port_remove_listener(home as *mut pm_port, id),
                _ => pm_broadcast_remove_listener(home as *mut pm_broadcast, id),
            };
            expect(r, HANDLE_RESULTS, "remove self");
        }
        5 => {
            let mut rng = Rng::new(lrand(usize::MAX) as u64);
            let to = pick(&WINDOWS, &mut rng);
            let from = pick(&WINDOWS, &mut rng);
            // SAFETY: valid buffers.
            let r = unsafe {
                pm_post_message(
                    from as *mut pm_window,
                    to as *mut pm_window,
                    data.as_ptr(),
                    data.len(),
                    t,
                )
            };
            expect(r, POST_RESULTS, "post elsewhere");
        }
        6 => {
            if !e.target.is_null() {
                let mut rng = Rng::new(lrand(usize::MAX) as u64);
                add_window_listener(e.target as usize, &mut rng);
            }
        }
        _ => {
            if !e.target.is_null() && !e.source.is_null() {
                let (mut p1, mut p2) = (ptr::null_mut(), ptr::null_mut());
                // SAFETY: writable slots.
                let r = unsafe { pm_channel_new(e.target, &mut p1, &mut p2) };
                expect(r, HANDLE_RESULTS, "channel in listener");
                if r == PM_OK {
                    PORTS.lock().push(p1 as usize);
                    // SAFETY: valid buffers; one transfer entry.
                    let r = unsafe {
                        pm_post_message_transfer(
                            e.target,
                            e.source,
                            data.as_ptr(),
                            0,
                            c"*".as_ptr(),
                            &p2,
                            1,
                        )
                    };
                    expect(r, POST_RESULTS, "transfer in listener");
                }
            }
        }
    }
    DEPTH.with(|d| d.set(depth));
}

fn new_record(kind: u8, has_destroy: bool, home: usize, home_kind: u8) -> &'static ListenerRecord {
    let rec: &'static ListenerRecord = Box::leak(Box::new(ListenerRecord {
        kind,
        has_destroy,
        added: AtomicBool::new(false),
        destroyed: AtomicU32::new(0),
        id: AtomicU64::new(0),
        home: AtomicUsize::new(home),
        home_kind,
    }));
    RECORDS.lock().push(rec);
    rec
}

/// Finishes an add: records the id, or checks the failure.
fn added(rec: &'static ListenerRecord, id: u64) {
    if id > 0 {
        rec.id.store(id, Ordering::SeqCst);
        rec.added.store(true, Ordering::SeqCst);
        let mut l = LISTENERS.lock();
        if l.len() < 256 {
            l.push((rec.home.load(Ordering::SeqCst), id, rec.home_kind));
        }
    } else {
        expect(
            pm_last_error_code(),
            &[PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE],
            "add listener",
        );
    }
}

fn add_window_listener(window: usize, rng: &mut Rng) {
    let has_destroy = rng.below(5) != 0;
    let rec = new_record(rng.next() as u8, has_destroy, window, 0);
    let ud = rec as *const ListenerRecord as *mut c_void;
    let id = if has_destroy {
        pm_add_listener_full(
            window as *mut pm_window,
            Some(shared_listener),
            ud,
            Some(destroy),
        )
    } else {
        pm_add_listener(window as *mut pm_window, Some(shared_listener), ud)
    };
    added(rec, id);
}

fn add_port_listener(port: usize, rng: &mut Rng) {
    let rec = new_record(rng.next() as u8, true, port, 1);
    let ud = rec as *const ListenerRecord as *mut c_void;
    // The first listener starts the port and may run inside this call: the record is ready.
    let id = pm_port_add_listener_full(
        port as *mut pm_port,
        Some(shared_listener),
        ud,
        Some(destroy),
    );
    added(rec, id);
}

fn add_broadcast_listener(channel: usize, rng: &mut Rng) {
    let rec = new_record(rng.next() as u8, true, channel, 2);
    let ud = rec as *const ListenerRecord as *mut c_void;
    let id = pm_broadcast_add_listener_full(
        channel as *mut pm_broadcast,
        Some(shared_listener),
        ud,
        Some(destroy),
    );
    added(rec, id);
}

// ---------------------------------------------------------------------------------------------
// The private windows: one thread only

struct Private {
    expect_source: AtomicUsize,
    next: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
}

unsafe extern "C" fn private_listener(event: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid for the call; ud is the worker's live Private.
    let (e, p) = unsafe { (&*event, &*(ud as *const Private)) };
    let mut seq = [0u8; 8];
    let ok = e.data_len == 8 && e.source as usize == p.expect_source.load(Ordering::Relaxed);
    if ok {
        // SAFETY: 8 readable bytes.
        seq.copy_from_slice(unsafe { std::slice::from_raw_parts(e.data, 8) });
    }
    let seq = u64::from_le_bytes(seq);
    if !ok || seq != p.next.load(Ordering::Relaxed) {
        p.errors.fetch_add(1, Ordering::Relaxed);
    }
    p.next.store(seq + 1, Ordering::Relaxed);
    p.delivered.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Workers

struct Progress {
    ops: AtomicU64,
    op: AtomicU32,
    done: AtomicBool,
}

struct WorkerResult {
    ops: u64,
    sync_posted: u64,
    queued_posted: u64,
}

fn worker(index: usize, seed: u64, deadline: Instant, progress: &Progress) -> WorkerResult {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x1000_0000_01b3));
    LRNG.with(|c| c.set(rng.next() | 1));

    // Private windows: a SYNC pair and a QUEUED target, touched only by this thread.
    let url = CString::new(format!("http://private{index}.example/")).unwrap();
    // SAFETY: valid C strings.
    let (src, dst, qdst) = unsafe {
        (
            pm_window_new(url.as_ptr()),
            pm_window_new(url.as_ptr()),
            pm_window_new(url.as_ptr()),
        )
    };
    assert!(!src.is_null() && !dst.is_null() && !qdst.is_null());
    assert_eq!(pm_window_set_dispatch_mode(qdst, 1), PM_OK);
    let sync_state = Box::new(Private {
        expect_source: AtomicUsize::new(src as usize),
        next: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    let queued_state = Box::new(Private {
        expect_source: AtomicUsize::new(src as usize),
        next: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
    });
    assert!(
        pm_add_listener_full(
            dst,
            Some(private_listener),
            &*sync_state as *const Private as *mut c_void,
            Some(private_destroy_for_sync),
        ) > 0
    );
    assert!(
        pm_add_listener(
            qdst,
            Some(private_listener),
            &*queued_state as *const Private as *mut c_void
        ) > 0
    );
    let (mut sync_posted, mut queued_posted) = (0u64, 0u64);

    let mut ops = 0u64;
    while Instant::now() < deadline {
        ops += 1;
        progress.ops.store(ops, Ordering::Relaxed);
        // Operations 0..=21, with posting, adding listeners and creating windows weighted up.
        let op = match rng.below(30) {
            n @ 0..=21 => n as u32,
            22..=24 => 7,
            25..=27 => 4,
            _ => 0,
        };
        progress.op.store(op, Ordering::Relaxed);
        let a = pick(&WINDOWS, &mut rng);
        let b = pick(&WINDOWS, &mut rng);
        match op {
            0 => {
                // Keep the pool churning: when it is full, free (or forget, if already dead) a
                // random entry first.
                if WINDOWS.lock().len() >= POOL_MAX {
                    let old = take(&WINDOWS, &mut rng);
                    expect(
                        pm_window_free(old as *mut pm_window),
                        HANDLE_RESULTS,
                        "free",
                    );
                    push_capped(&STALE, old, &mut rng);
                }
                // SAFETY: valid C string.
                let w = unsafe { pm_window_new(URLS[rng.below(URLS.len())].as_ptr()) } as usize;
                assert!(w != 0, "pm_window_new failed");
                ALL_WINDOWS.lock().push(w);
                WINDOWS.lock().push(w);
            }
            1 => {
                // SAFETY: valid C string.
                let w = unsafe {
                    pm_window_new_child(a as *mut pm_window, URLS[rng.below(URLS.len())].as_ptr())
                } as usize;
                if w != 0 {
                    ALL_WINDOWS.lock().push(w);
                    push_capped(&WINDOWS, w, &mut rng);
                } else {
                    expect(
                        pm_last_error_code(),
                        &[PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE],
                        "child",
                    );
                }
            }
            2 => {
                let w = take(&WINDOWS, &mut rng);
                expect(pm_window_free(w as *mut pm_window), HANDLE_RESULTS, "free");
                push_capped(&STALE, w, &mut rng);
            }
            3 => {
                // SAFETY: valid C string.
                let r = unsafe {
                    pm_window_navigate(a as *mut pm_window, URLS[rng.below(URLS.len())].as_ptr())
                };
                expect(r, HANDLE_RESULTS, "navigate");
            }
            4 | 5 => add_window_listener(a, &mut rng),
            6 => {
                let entry = {
                    let mut l = LISTENERS.lock();
                    if l.is_empty() {
                        None
                    } else {
                        let i = rng.below(l.len());
                        Some(l.swap_remove(i))
                    }
                };
                if let Some((home, id, kind)) = entry {
                    let r = match kind {
                        0 => pm_remove_listener(home as *mut pm_window, id),
                        1 => pm_port_remove_listener(home as *mut pm_port, id),
                        _ => pm_broadcast_remove_listener(home as *mut pm_broadcast, id),
                    };
                    expect(r, HANDLE_RESULTS, "remove listener");
                }
            }
            7..=9 => {
                let t = TARGETS[rng.below(TARGETS.len())];
                let data = rng.next().to_le_bytes();
                // SAFETY: valid buffers.
                let r = unsafe {
                    pm_post_message(
                        a as *mut pm_window,
                        b as *mut pm_window,
                        data.as_ptr(),
                        data.len(),
                        t.as_ptr(),
                    )
                };
                expect(r, POST_RESULTS, "post");
                if r == PM_OK {
                    POSTS_OK.fetch_add(1, Ordering::Relaxed);
                }
            }
            10 => {
                // Post with a stale or forged window.
                let forged = [
                    pick(&STALE, &mut rng),
                    0x1234,
                    usize::MAX,
                    pick(&PORTS, &mut rng),
                ];
                let f = forged[rng.below(forged.len())];
                // SAFETY: valid buffers.
                let r = unsafe {
                    pm_post_message(
                        f as *mut pm_window,
                        b as *mut pm_window,
                        ptr::null(),
                        0,
                        c"*".as_ptr(),
                    )
                };
                if f != 0 {
                    expect(
                        r,
                        &[PM_ERR_INVALID_HANDLE],
                        "post from a dead or forged window",
                    );
                }
            }
            11 => {
                let (mut p1, mut p2) = (ptr::null_mut(), ptr::null_mut());
                // SAFETY: writable slots.
                let r = unsafe { pm_channel_new(a as *mut pm_window, &mut p1, &mut p2) };
                expect(r, HANDLE_RESULTS, "channel_new");
                if r == PM_OK {
                    push_capped(&PORTS, p1 as usize, &mut rng);
                    push_capped(&PORTS, p2 as usize, &mut rng);
                }
            }
            12 => add_port_listener(pick(&PORTS, &mut rng), &mut rng),
            13 => {
                let p = pick(&PORTS, &mut rng);
                let data = rng.next().to_le_bytes();
                let transfer = [pick(&PORTS, &mut rng) as *mut pm_port];
                let n = usize::from(rng.below(4) == 0 && !transfer[0].is_null());
                // SAFETY: valid buffers.
                let r = unsafe {
                    pm_port_post_message(
                        p as *mut pm_port,
                        data.as_ptr(),
                        data.len(),
                        transfer.as_ptr(),
                        n,
                    )
                };
                expect(r, POST_RESULTS, "port post");
            }
            14 => {
                let p = take(&PORTS, &mut rng);
                expect(
                    pm_port_close(p as *mut pm_port),
                    HANDLE_RESULTS,
                    "port close",
                );
            }
            15 => {
                // Transfer a port to another window.
                let p = pick(&PORTS, &mut rng) as *mut pm_port;
                if !p.is_null() {
                    // SAFETY: valid buffers, one entry.
                    let r = unsafe {
                        pm_post_message_transfer(
                            a as *mut pm_window,
                            b as *mut pm_window,
                            ptr::null(),
                            0,
                            c"*".as_ptr(),
                            &p,
                            1,
                        )
                    };
                    expect(r, POST_RESULTS, "transfer");
                }
            }
            16 => {
                let names = [c"alpha", c"beta"];
                // SAFETY: valid C string.
                let c =
                    unsafe { pm_broadcast_new(a as *mut pm_window, names[rng.below(2)].as_ptr()) };
                if c.is_null() {
                    expect(
                        pm_last_error_code(),
                        &[PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE],
                        "broadcast_new",
                    );
                } else {
                    push_capped(&CHANNELS, c as usize, &mut rng);
                }
            }
            17 => add_broadcast_listener(pick(&CHANNELS, &mut rng), &mut rng),
            18 => {
                let c = pick(&CHANNELS, &mut rng);
                let data = rng.next().to_le_bytes();
                // SAFETY: valid buffer.
                let r = unsafe {
                    pm_broadcast_post_message(c as *mut pm_broadcast, data.as_ptr(), data.len())
                };
                expect(
                    r,
                    &[
                        PM_OK,
                        PM_ERR_NULL_ARGUMENT,
                        PM_ERR_INVALID_HANDLE,
                        PM_ERR_QUEUE_FULL,
                        PM_ERR_DEPTH,
                    ],
                    "broadcast post",
                );
            }
            19 => {
                let c = take(&CHANNELS, &mut rng);
                expect(
                    pm_broadcast_close(c as *mut pm_broadcast),
                    HANDLE_RESULTS,
                    "broadcast close",
                );
            }
            20 => {
                let mode = rng.below(2) as u32;
                expect(
                    pm_window_set_dispatch_mode(a as *mut pm_window, mode),
                    HANDLE_RESULTS,
                    "set mode",
                );
            }
            _ => {
                let _ = pm_window_run_pending(a as *mut pm_window, 1 + rng.below(8));
            }
        }

        // The private invariant: every post here is delivered exactly once, in order.
        if ops.is_multiple_of(3) {
            let seq = sync_posted.to_le_bytes();
            // SAFETY: valid buffers.
            let r = unsafe { pm_post_message(src, dst, seq.as_ptr(), 8, c"/".as_ptr()) };
            assert_eq!(r, PM_OK, "private sync post: {}", common::last_error());
            sync_posted += 1;
            let seq = queued_posted.to_le_bytes();
            // SAFETY: valid buffers.
            let r = unsafe { pm_post_message(src, qdst, seq.as_ptr(), 8, c"/".as_ptr()) };
            assert_eq!(r, PM_OK, "private queued post: {}", common::last_error());
            queued_posted += 1;
            if rng.below(2) == 0 {
                pm_window_run_pending(qdst, 1 + rng.below(6));
            }
        }
    }
    while pm_window_pending(qdst) > 0 {
        assert!(pm_window_run_pending(qdst, usize::MAX) > 0);
    }
    assert_eq!(
        sync_state.errors.load(Ordering::Relaxed),
        0,
        "private SYNC deliveries out of order or malformed"
    );
    assert_eq!(
        sync_state.delivered.load(Ordering::Relaxed),
        sync_posted,
        "private SYNC deliveries"
    );
    assert_eq!(
        queued_state.errors.load(Ordering::Relaxed),
        0,
        "private QUEUED deliveries out of order or malformed"
    );
    assert_eq!(
        queued_state.delivered.load(Ordering::Relaxed),
        queued_posted,
        "private QUEUED deliveries"
    );
    for w in [src, dst, qdst] {
        assert_eq!(pm_window_free(w), PM_OK);
    }
    assert_eq!(
        SYNC_PRIVATE_DESTROYS.with(|c| c.get()),
        1,
        "the private listener's destroy ran once, on this thread, inside pm_window_free"
    );
    progress.done.store(true, Ordering::SeqCst);
    WorkerResult {
        ops,
        sync_posted,
        queued_posted,
    }
}

thread_local! {
    static SYNC_PRIVATE_DESTROYS: Cell<u32> = const { Cell::new(0) };
}

unsafe extern "C" fn private_destroy_for_sync(_: *mut c_void) {
    SYNC_PRIVATE_DESTROYS.with(|c| c.set(c.get() + 1));
}

fn stress_secs() -> f64 {
    std::env::var("PM_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .unwrap_or(3.0)
}

#[test]
fn stress_random_operations_on_four_threads() {
    let secs = stress_secs();
    let seed = std::env::var("PM_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!(
        "stress: seed {seed} (set PM_STRESS_SEED={seed} to replay), {secs} s, {THREADS} threads"
    );

    // A few windows to start with.
    for url in [
        c"http://a.example/",
        c"http://a.example/2",
        c"https://a.example/",
        c"data:,x",
    ] {
        // SAFETY: valid C string.
        let w = unsafe { pm_window_new(url.as_ptr()) } as usize;
        ALL_WINDOWS.lock().push(w);
        WINDOWS.lock().push(w);
    }

    let progress: &'static [Progress] = Box::leak(
        (0..THREADS)
            .map(|_| Progress {
                ops: AtomicU64::new(0),
                op: AtomicU32::new(0),
                done: AtomicBool::new(false),
            })
            .collect(),
    );
    let limit = Duration::from_secs_f64(secs * 4.0 + 60.0);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        // Disconnected means the test thread is unwinding from a failure of its own.
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
            eprintln!(
                "stress: DEADLOCK? the workers and teardown did not finish within {} s (seed {seed})",
                limit.as_secs()
            );
            for (i, p) in progress.iter().enumerate() {
                eprintln!(
                    "stress:   worker {i}: {} ops, last op {}, finished {}",
                    p.ops.load(Ordering::Relaxed),
                    p.op.load(Ordering::Relaxed),
                    p.done.load(Ordering::Relaxed)
                );
            }
            std::process::abort();
        }
    });

    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let results: Vec<WorkerResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let p = &progress[i];
                std::thread::Builder::new()
                    .name(format!("stress-{i}"))
                    .spawn_scoped(s, move || worker(i, seed, deadline, p))
                    .unwrap()
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect()
    });

    // Teardown: freeing every window closes every port and channel and removes every listener.
    let all = std::mem::take(&mut *ALL_WINDOWS.lock());
    for w in all {
        expect(
            pm_window_free(w as *mut pm_window),
            HANDLE_RESULTS,
            "final free",
        );
    }
    done_tx.send(()).unwrap();
    watchdog.join().unwrap();

    let records = RECORDS.lock();
    let mut not_destroyed = 0;
    let mut destroyed_unadded = 0;
    let mut adds = 0;
    let mut destroys = 0;
    for rec in records.iter() {
        let added = rec.added.load(Ordering::SeqCst);
        let d = rec.destroyed.load(Ordering::SeqCst);
        if added && rec.has_destroy {
            adds += 1;
            destroys += d;
            if d != 1 {
                not_destroyed += 1;
            }
        } else if d != 0 {
            destroyed_unadded += 1;
        }
    }
    let total_ops: u64 = results.iter().map(|r| r.ops).sum();
    let private: u64 = results
        .iter()
        .map(|r| r.sync_posted + r.queued_posted)
        .sum();
    eprintln!(
        "stress: {total_ops} operations, {} shared posts delivered, {} listener calls, {private} private posts, {adds} listeners with destroy ({destroys} destroys)",
        POSTS_OK.load(Ordering::Relaxed),
        DELIVERED.load(Ordering::Relaxed)
    );
    assert_eq!(
        DOUBLE_DESTROY.load(Ordering::SeqCst),
        0,
        "a destroy ran twice"
    );
    assert_eq!(
        not_destroyed, 0,
        "listeners whose destroy did not run exactly once"
    );
    assert_eq!(
        destroyed_unadded, 0,
        "destroy ran for a listener whose add failed"
    );
    assert_eq!(
        CALL_AFTER_DESTROY.load(Ordering::SeqCst),
        0,
        "a listener ran after its destroy"
    );
    assert_eq!(BAD_EVENTS.load(Ordering::SeqCst), 0, "malformed events");
    assert_eq!(
        UNEXPECTED_CODES.load(Ordering::SeqCst),
        0,
        "undocumented result codes"
    );
    // The library still works.
    let a = common::window("http://after.example/");
    let rec = common::Recorder::new();
    common::listen(a, &rec);
    assert_eq!(common::post(a, a, "after", "/"), PM_OK);
    assert_eq!(rec.texts(), ["after"]);
    assert_eq!(pm_window_free(a), PM_OK);
}
