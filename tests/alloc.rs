//! No allocation on the post path of a synchronous post, nor for a small queued post and its delivery.
//!
//! A counting `#[global_allocator]` wraps `System`. It counts only on a thread that switched
//! counting on, so the test harness's other threads never disturb the numbers. Each test warms
//! up first (the per-thread targetOrigin cache and other per-thread state allocate when they
//! first see a string or a window), then counts every allocation, reallocation and
//! deallocation over N posts, which must all be zero.

use postmessage::capi::delivery::{pm_window_run_pending, pm_window_set_dispatch_mode};
use postmessage::capi::port::{pm_channel_new, pm_port_add_listener, pm_port_post_message};
use postmessage::capi::post::{pm_add_listener, pm_post_message};
use postmessage::capi::window::{pm_window_free, pm_window_new};
use postmessage::{pm_dispatch_mode, pm_message_event, pm_result, pm_window};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, c_void};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn note(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    // try_with: never panic inside the allocator, even during thread teardown.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = counter.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&ALLOCS);
        // SAFETY: forwarded caller contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&FREES);
        // SAFETY: forwarded caller contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations incl. reallocations, deallocations) made on this thread while `f` ran.
fn count_allocations(f: impl FnOnce()) -> (u64, u64) {
    let (a0, f0) = (ALLOCS.with(Cell::get), FREES.with(Cell::get));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    (ALLOCS.with(Cell::get) - a0, FREES.with(Cell::get) - f0)
}

unsafe extern "C" fn listener(event: *const pm_message_event, _: *mut c_void) {
    // Touch the event like a real listener would (no allocation here either).
    // SAFETY: the library passes an event valid for the call.
    let event = unsafe { &*event };
    assert_eq!(event.data_len, 11);
    CALLS.with(|c| c.set(c.get() + 1));
}

fn window(url: &CStr) -> *mut pm_window {
    // SAFETY: a NUL-terminated string.
    let w = unsafe { pm_window_new(url.as_ptr()) };
    assert!(!w.is_null(), "pm_window_new({url:?})");
    w
}

const WARM_UP: u64 = 100;
const N: u64 = 10_000;
const DATA: &[u8; 11] = b"Hello World";

/// Posts `source` -> `target` WARM_UP times, then N times counting allocations; asserts every post
/// was delivered to each of `listeners` listeners and that nothing was allocated or freed.
fn assert_no_allocation(
    what: &str,
    source: *mut pm_window,
    target: *mut pm_window,
    target_origin: &CStr,
    listeners: u64,
) {
    assert_no_allocation_in(what, listeners, || {
        // SAFETY: DATA has 11 bytes; target_origin is NUL-terminated.
        unsafe {
            pm_post_message(
                source,
                target,
                DATA.as_ptr(),
                DATA.len(),
                target_origin.as_ptr(),
            )
        }
    });
}

#[test]
fn synchronous_post_does_not_allocate() {
    let src = window(c"http://127.0.0.1/page.html");
    let dst = window(c"http://localhost/frame.html");
    let src_same = window(c"http://localhost/other.html"); // for "/": same origin as dst
    assert!(pm_add_listener(dst, Some(listener), std::ptr::null_mut()) > 0);

    assert_no_allocation("exact targetOrigin", src, dst, c"http://localhost", 1);
    assert_no_allocation("\"*\"", src, dst, c"*", 1);
    assert_no_allocation("\"/\"", src_same, dst, c"/", 1);
    assert_no_allocation(
        "targetOrigin URL with path and query (cached after warm-up)",
        src,
        dst,
        c"http://localhost/a/b.html?q=1#f",
        1,
    );

    for w in [src, dst, src_same] {
        assert_eq!(pm_window_free(w), pm_result::PM_OK);
    }
}

#[test]
fn synchronous_post_to_many_listeners_does_not_allocate() {
    let src = window(c"http://127.0.0.1/");
    let dst = window(c"http://localhost/");
    for _ in 0..10 {
        assert!(pm_add_listener(dst, Some(listener), std::ptr::null_mut()) > 0);
    }
    assert_no_allocation("10 listeners", src, dst, c"http://localhost", 10);
    for w in [src, dst] {
        assert_eq!(pm_window_free(w), pm_result::PM_OK);
    }
}

/// A small queued post is kept inside the window's queue: once the queue has grown to a burst's
/// size, posting a burst and delivering it with `pm_window_run_pending` allocates nothing, for a
/// window message and for port data alike (issue #13: a queued post may allocate its one copy of
/// the data, and nothing else beyond amortized queue growth; small data needs no copy at all).
#[test]
fn small_queued_posts_and_their_delivery_do_not_allocate() {
    const BURST: u64 = 1000;
    let src = window(c"http://127.0.0.1/");
    let dst = window(c"http://localhost/");
    assert!(pm_add_listener(dst, Some(listener), std::ptr::null_mut()) > 0);
    assert_eq!(
        pm_window_set_dispatch_mode(dst, pm_dispatch_mode::PM_DISPATCH_QUEUED as u32),
        pm_result::PM_OK
    );
    let (mut p1, mut p2) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: two valid out-pointers.
    assert_eq!(
        unsafe { pm_channel_new(dst, &mut p1, &mut p2) },
        pm_result::PM_OK
    );
    assert!(pm_port_add_listener(p2, Some(listener), std::ptr::null_mut()) > 0);

    let window_burst = || {
        for _ in 0..BURST {
            // SAFETY: DATA has 11 bytes; the targetOrigin is NUL-terminated.
            let r = unsafe { pm_post_message(src, dst, DATA.as_ptr(), DATA.len(), c"*".as_ptr()) };
            assert_eq!(r, pm_result::PM_OK, "queued window post");
        }
        assert_eq!(pm_window_run_pending(dst, usize::MAX), BURST as usize);
    };
    let port_burst = || {
        for _ in 0..BURST {
            // SAFETY: DATA has 11 bytes; no transfer list.
            let r =
                unsafe { pm_port_post_message(p1, DATA.as_ptr(), DATA.len(), std::ptr::null(), 0) };
            assert_eq!(r, pm_result::PM_OK, "queued port post");
        }
        assert_eq!(pm_window_run_pending(dst, usize::MAX), BURST as usize);
    };
    for (what, burst) in [
        ("queued window post", &window_burst as &dyn Fn()),
        ("queued port post", &port_burst),
    ] {
        burst(); // warm-up: the queue grows to a burst's size, the caches fill
        let calls_before = CALLS.with(Cell::get);
        let (allocs, frees) = count_allocations(|| {
            for _ in 0..5 {
                burst();
            }
        });
        assert_eq!(
            CALLS.with(Cell::get) - calls_before,
            5 * BURST,
            "{what}: deliveries"
        );
        assert_eq!(
            (allocs, frees),
            (0, 0),
            "{what}: {allocs} allocations and {frees} deallocations over {} posts and their \
             delivery (expected none once the queue has grown)",
            5 * BURST
        );
    }
    for w in [src, dst] {
        assert_eq!(pm_window_free(w), pm_result::PM_OK);
    }
}

#[test]
fn the_counting_allocator_counts() {
    // Guards against a test that passes because nothing is counted.
    let (allocs, frees) = count_allocations(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert_eq!((allocs, frees), (1, 1));
}

/// Calls `post` WARM_UP times, then N times counting allocations; asserts every call returned
/// PM_OK, the listener ran `listeners` times per post, and nothing was allocated or freed.
fn assert_no_allocation_in(what: &str, listeners: u64, post: impl Fn() -> pm_result) {
    for _ in 0..WARM_UP {
        assert_eq!(post(), pm_result::PM_OK, "{what}: warm-up post");
    }
    let calls_before = CALLS.with(Cell::get);
    let mut all_ok = true;
    let (allocs, frees) = count_allocations(|| {
        for _ in 0..N {
            all_ok &= post() == pm_result::PM_OK;
        }
    });
    assert!(all_ok, "{what}: some post was not delivered");
    assert_eq!(
        CALLS.with(Cell::get) - calls_before,
        N * listeners,
        "{what}: listener calls"
    );
    assert_eq!(
        (allocs, frees),
        (0, 0),
        "{what}: {allocs} allocations and {frees} deallocations over {N} synchronous posts \
         (expected none after warm-up)"
    );
}

#[test]
fn synchronous_port_post_does_not_allocate() {
    use postmessage::capi::port::{pm_channel_new, pm_port_add_listener, pm_port_post_message};
    let w = window(c"http://localhost/");
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: two writable slots.
    assert_eq!(
        unsafe { pm_channel_new(w, &mut a, &mut b) },
        pm_result::PM_OK
    );
    assert!(pm_port_add_listener(b, Some(listener), std::ptr::null_mut()) > 0);
    // SAFETY: DATA has 11 bytes; no transfer list.
    let post =
        || unsafe { pm_port_post_message(a, DATA.as_ptr(), DATA.len(), std::ptr::null(), 0) };
    assert_no_allocation_in("port post", 1, post);
    assert_eq!(pm_window_free(w), pm_result::PM_OK);
}

#[test]
fn synchronous_broadcast_does_not_allocate() {
    use postmessage::capi::broadcast::{
        pm_broadcast_add_listener, pm_broadcast_new, pm_broadcast_post_message,
    };
    let w1 = window(c"http://localhost/a");
    let w2 = window(c"http://localhost/b");
    // SAFETY: NUL-terminated names.
    let (sender, r1, r2) = unsafe {
        (
            pm_broadcast_new(w1, c"alloc".as_ptr()),
            pm_broadcast_new(w1, c"alloc".as_ptr()),
            pm_broadcast_new(w2, c"alloc".as_ptr()),
        )
    };
    assert!(!sender.is_null() && !r1.is_null() && !r2.is_null());
    for r in [r1, r2] {
        assert!(pm_broadcast_add_listener(r, Some(listener), std::ptr::null_mut()) > 0);
    }
    // SAFETY: DATA has 11 bytes.
    let post = || unsafe { pm_broadcast_post_message(sender, DATA.as_ptr(), DATA.len()) };
    assert_no_allocation_in("broadcast to 2 receivers", 2, post);
    for w in [w1, w2] {
        assert_eq!(pm_window_free(w), pm_result::PM_OK);
    }
}
