//! Fuzz target: the input is a program of API calls run against small tables of handles that
//! include freed (stale) and forged values, with listeners that re-enter the library (reply,
//! post elsewhere, free or navigate their own window, remove themselves, add listeners, transfer
//! ports, run queues).
//!
//! Oracles besides "no crash, no sanitizer report": every result code is one the function
//! documents; every listener added with a destroy function is destroyed exactly once by the end
//! (once every window is freed), and never when its add failed; events are well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postmessage::capi::allow_list::*;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::diagnostics::*;
use postmessage::capi::error::*;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::scheme::*;
use postmessage::capi::window::*;
use postmessage::pm_drop_event;
use postmessage::{pm_broadcast, pm_message_event, pm_port, pm_result, pm_window};
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::Once;

use pm_result::*;

const SLOTS: usize = 8;

/// URLs the program may pick besides raw bytes from the input.
const URLS: &[&str] = &[
    "http://a.example/",
    "http://a.example:80/other",
    "https://a.example/",
    "http://b.example/",
    "about:blank",
    "data:text/html,x",
    "file:///tmp/x",
    "blob:https://a.example/uuid",
    "app://ui/index.html",
    "http://[::1]:8080/",
];

/// targetOrigins the program may pick besides raw bytes from the input.
const TARGETS: &[&str] = &[
    "*",
    "/",
    "http://a.example",
    "https://a.example",
    "http://b.example/path?q#f",
    "null",
    "",
    " *",
    "data:,x",
    "app://ui",
];

struct Ctx {
    windows: [Cell<usize>; SLOTS],
    ports: [Cell<usize>; SLOTS],
    channels: [Cell<usize>; 4],
    ids: [Cell<u64>; SLOTS],
    /// Every window ever created in this run, freed at the end.
    created: RefCell<Vec<usize>>,
    listeners: RefCell<Vec<*mut ListenerData>>,
    rng: Cell<u64>,
    /// Re-entrant actions left for listeners (keeps fan-out bounded).
    budget: Cell<u32>,
}

struct ListenerData {
    ctx: *const Ctx,
    kind: u8,
    id: Cell<u64>,
    /// Where the listener lives, for removing itself.
    home: Cell<usize>,
    home_is_port: Cell<bool>,
    destroyed: Cell<u32>,
    added: Cell<bool>,
    has_destroy: bool,
}

impl Ctx {
    fn new(seed: u64) -> Ctx {
        Ctx {
            windows: Default::default(),
            ports: Default::default(),
            channels: Default::default(),
            ids: Default::default(),
            created: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
            rng: Cell::new(seed | 1),
            budget: Cell::new(256),
        }
    }

    fn next(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    fn pick(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn window(&self, i: usize) -> *mut pm_window {
        self.windows[i % SLOTS].get() as *mut pm_window
    }

    fn port(&self, i: usize) -> *mut pm_port {
        self.ports[i % SLOTS].get() as *mut pm_port
    }

    fn channel(&self, i: usize) -> *mut pm_broadcast {
        self.channels[i % 4].get() as *mut pm_broadcast
    }

    fn remember_window(&self, w: *mut pm_window, slot: usize) {
        if !w.is_null() {
            self.created.borrow_mut().push(w as usize);
            self.windows[slot % SLOTS].set(w as usize);
        }
    }

    fn remember_port(&self, p: *mut pm_port) {
        if !p.is_null() {
            self.ports[self.pick(SLOTS)].set(p as usize);
        }
    }

    fn spend(&self) -> bool {
        let b = self.budget.get();
        if b == 0 {
            return false;
        }
        self.budget.set(b - 1);
        true
    }
}

fn check(r: pm_result, allowed: &[pm_result], what: &str) {
    if !allowed.contains(&r) {
        eprintln!("{what} returned undocumented {r:?} (allowed {allowed:?})");
        std::process::abort();
    }
    if r != PM_OK {
        // SAFETY: never NULL.
        let msg = unsafe { CStr::from_ptr(pm_last_error()) };
        if msg.to_bytes().is_empty() {
            eprintln!("{what} returned {r:?} with an empty pm_last_error()");
            std::process::abort();
        }
        if pm_last_error_code() != r {
            eprintln!(
                "{what} returned {r:?} but pm_last_error_code() is {:?}",
                pm_last_error_code()
            );
            std::process::abort();
        }
    }
}

const POST_CODES: &[pm_result] = &[
    PM_OK,
    PM_DROPPED,
    PM_ERR_NULL_ARGUMENT,
    PM_ERR_INVALID_HANDLE,
    PM_ERR_SYNTAX,
    PM_ERR_UTF8,
    PM_ERR_DEPTH,
    PM_ERR_DATA_CLONE,
    PM_ERR_QUEUE_FULL,
];
const HANDLE_CODES: &[pm_result] = &[PM_OK, PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE];
const NAV_CODES: &[pm_result] = &[
    PM_OK,
    PM_ERR_NULL_ARGUMENT,
    PM_ERR_INVALID_HANDLE,
    PM_ERR_UTF8,
    PM_ERR_INVALID_URL,
];
const PORT_POST_CODES: &[pm_result] = &[
    PM_OK,
    PM_DROPPED,
    PM_ERR_NULL_ARGUMENT,
    PM_ERR_INVALID_HANDLE,
    PM_ERR_DATA_CLONE,
    PM_ERR_QUEUE_FULL,
    PM_ERR_DEPTH,
];
const BC_POST_CODES: &[pm_result] = &[
    PM_OK,
    PM_ERR_NULL_ARGUMENT,
    PM_ERR_INVALID_HANDLE,
    PM_ERR_QUEUE_FULL,
    PM_ERR_DEPTH,
];

fn check_event(e: &pm_message_event) {
    if e.data.is_null() || e.origin.is_null() || e.last_event_id.is_null() {
        eprintln!("event with a NULL field");
        std::process::abort();
    }
    // SAFETY: the library owns these for the call; reading them is the check.
    unsafe {
        let _ = std::slice::from_raw_parts(e.data, e.data_len)
            .iter()
            .fold(0u8, |a, &b| a ^ b);
        if !CStr::from_ptr(e.last_event_id).to_bytes().is_empty() {
            eprintln!("lastEventId is not empty");
            std::process::abort();
        }
        let _ = CStr::from_ptr(e.origin).to_bytes().len();
        if e.ports_len > 0 {
            let _ = std::slice::from_raw_parts(e.ports, e.ports_len);
        }
    }
}

unsafe extern "C" fn listener(event: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: the library passes a valid event; ud is a live ListenerData (freed only at the end
    // of the run, after every destroy ran).
    let (e, d) = unsafe { (&*event, &*(ud as *const ListenerData)) };
    // SAFETY: the context outlives every listener call of its run.
    let ctx = unsafe { &*d.ctx };
    check_event(e);
    if d.destroyed.get() != 0 {
        eprintln!("listener called after its destroy ran");
        std::process::abort();
    }
    // Keep received ports reachable to later steps.
    if e.ports_len > 0 {
        // SAFETY: ports_len readable entries.
        for &p in unsafe { std::slice::from_raw_parts(e.ports, e.ports_len) } {
            ctx.remember_port(p);
        }
    }
    if !ctx.spend() {
        return;
    }
    let data = b"re-entrant";
    let targets = [c"*", c"/", c"http://a.example", c"null"];
    let t = targets[ctx.pick(targets.len())].as_ptr();
    match d.kind % 10 {
        0 => {}
        1 => {
            // Reply to the source.
            if !e.source.is_null() && !e.target.is_null() {
                // SAFETY: valid buffers.
                let r =
                    unsafe { pm_post_message(e.target, e.source, data.as_ptr(), data.len(), t) };
                check(r, POST_CODES, "reply");
            }
        }
        2 => {
            let r = pm_window_free(e.target);
            check(r, HANDLE_CODES, "free own window from listener");
        }
        3 => {
            if !e.target.is_null() {
                let url = CString::new(URLS[ctx.pick(URLS.len())]).unwrap();
                // SAFETY: valid C string.
                let r = unsafe { pm_window_navigate(e.target, url.as_ptr()) };
                check(r, NAV_CODES, "navigate from listener");
            }
        }
        4 => {
            let r = if d.home_is_port.get() {
                pm_port_remove_listener(d.home.get() as *mut pm_port, d.id.get())
            } else {
                pm_remove_listener(d.home.get() as *mut pm_window, d.id.get())
            };
            check(r, HANDLE_CODES, "remove self");
        }
        5 => {
            let src = ctx.window(ctx.pick(SLOTS));
            let dst = ctx.window(ctx.pick(SLOTS));
            // SAFETY: valid buffers.
            let r = unsafe { pm_post_message(src, dst, data.as_ptr(), data.len(), t) };
            check(r, POST_CODES, "post elsewhere from listener");
        }
        6 => {
            // Send a fresh port back to the source.
            if !e.target.is_null() && !e.source.is_null() {
                let (mut p1, mut p2) = (ptr::null_mut(), ptr::null_mut());
                // SAFETY: writable slots.
                let r = unsafe { pm_channel_new(e.target, &mut p1, &mut p2) };
                check(r, HANDLE_CODES, "channel from listener");
                if r == PM_OK {
                    ctx.remember_port(p1);
                    // SAFETY: valid buffers.
                    let r = unsafe {
                        pm_post_message_transfer(e.target, e.source, data.as_ptr(), 0, t, &p2, 1)
                    };
                    check(r, POST_CODES, "transfer from listener");
                }
            }
        }
        7 => {
            if !e.target.is_null() {
                let n = pm_window_run_pending(e.target, 4);
                let _ = n;
            }
        }
        8 => {
            if !e.target.is_null() {
                add_listener(ctx, e.target as usize, false, ctx.next() as u8);
            }
        }
        _ => {
            let p = ctx.port(ctx.pick(SLOTS));
            // SAFETY: valid buffers.
            let r = unsafe { pm_port_post_message(p, data.as_ptr(), data.len(), ptr::null(), 0) };
            check(r, PORT_POST_CODES, "port post from listener");
        }
    }
}

unsafe extern "C" fn destroy(ud: *mut c_void) {
    // SAFETY: a live ListenerData.
    let d = unsafe { &*(ud as *const ListenerData) };
    let n = d.destroyed.get() + 1;
    d.destroyed.set(n);
    if n > 1 {
        eprintln!("destroy ran {n} times for listener {}", d.id.get());
        std::process::abort();
    }
    if !d.added.get() && d.id.get() == 0 {
        eprintln!("destroy ran for a listener whose add failed");
        std::process::abort();
    }
}

/// Adds a listener of `kind` to a window (or port) handle value; records it for the final check.
fn add_listener(ctx: &Ctx, home: usize, is_port: bool, kind: u8) -> u64 {
    let has_destroy = kind & 0x80 == 0;
    let data = Box::into_raw(Box::new(ListenerData {
        ctx,
        kind,
        id: Cell::new(0),
        home: Cell::new(home),
        home_is_port: Cell::new(is_port),
        destroyed: Cell::new(0),
        added: Cell::new(false),
        has_destroy,
    }));
    ctx.listeners.borrow_mut().push(data);
    let destroy_fn: postmessage::pm_destroy_fn = if has_destroy { Some(destroy) } else { None };
    // A listener may run (port start delivers waiting messages) before the add returns, so mark
    // it added first and correct it on failure.
    // SAFETY: data is live until the end of the run.
    unsafe { (*data).added.set(true) };
    let id = if is_port {
        pm_port_add_listener_full(
            home as *mut pm_port,
            Some(listener),
            data.cast(),
            destroy_fn,
        )
    } else if kind & 0x40 != 0 {
        let origins = [
            c"http://a.example".as_ptr(),
            c"https://a.example/x".as_ptr(),
        ];
        // SAFETY: two valid entries.
        unsafe {
            pm_add_listener_for_origins(
                home as *mut pm_window,
                origins.as_ptr(),
                1 + usize::from(kind & 1),
                Some(listener),
                data.cast(),
                destroy_fn,
            )
        }
    } else {
        pm_add_listener_full(
            home as *mut pm_window,
            Some(listener),
            data.cast(),
            destroy_fn,
        )
    };
    // SAFETY: as above.
    unsafe {
        (*data).id.set(id);
        if id == 0 {
            (*data).added.set(false);
            let code = pm_last_error_code();
            if !matches!(code, PM_ERR_NULL_ARGUMENT | PM_ERR_INVALID_HANDLE) {
                eprintln!("listener add failed with undocumented {code:?}");
                std::process::abort();
            }
        }
    }
    id
}

unsafe extern "C" fn wake(window: *mut pm_window, _: *mut c_void) {
    // May call the library.
    let _ = pm_window_pending(window);
}

unsafe extern "C" fn on_drop(event: *const pm_drop_event, _: *mut c_void) {
    // SAFETY: valid for the call.
    let e = unsafe { &*event };
    // SAFETY: NUL-terminated strings owned by the library for the call.
    unsafe {
        let _ = CStr::from_ptr(e.source_origin).to_bytes().len();
        let _ = CStr::from_ptr(e.target_origin).to_bytes().len();
        let _ = CStr::from_ptr(e.requested_origin).to_bytes().len();
    }
    if !e.target.is_null() {
        let mut buf = [0 as c_char; 8];
        // SAFETY: 8 writable bytes.
        unsafe { pm_window_origin(e.target, buf.as_mut_ptr(), buf.len()) };
    }
}

/// Reads the program.
struct Input<'a> {
    bytes: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn take(&mut self, max: usize) -> &[u8] {
        let n = self
            .byte()
            .map_or(0, |b| b as usize % (max + 1))
            .min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }

    /// A C string: one of `list`, or raw bytes from the input (cut at any NUL).
    fn string(&mut self, list: &[&str]) -> CString {
        let sel = self.byte().unwrap_or(0) as usize;
        if sel < 200 {
            CString::new(list[sel % list.len()]).unwrap()
        } else {
            let raw = self.take(48);
            let cut = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            CString::new(&raw[..cut]).unwrap()
        }
    }
}

static INIT: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    INIT.call_once(|| {
        // SAFETY: valid C string.
        unsafe { pm_register_standard_scheme(c"app".as_ptr()) };
        pm_set_drop_handler(Some(on_drop), ptr::null_mut());
    });
    let seed = data.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let ctx = Box::new(Ctx::new(seed));
    let ctx = &*ctx;
    // Two windows to start with.
    // SAFETY: valid C strings.
    unsafe {
        ctx.remember_window(pm_window_new(c"http://a.example/".as_ptr()), 0);
        ctx.remember_window(pm_window_new(c"http://b.example/".as_ptr()), 1);
    }
    let mut input = Input { bytes: data };
    let mut steps = 0;
    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 200 {
            break;
        }
        let a = input.byte().unwrap_or(0) as usize;
        let b = input.byte().unwrap_or(1) as usize;
        match op % 24 {
            0 => {
                let url = input.string(URLS);
                // SAFETY: valid C string.
                let w = unsafe { pm_window_new(url.as_ptr()) };
                if w.is_null() {
                    check(
                        pm_last_error_code(),
                        &[PM_ERR_UTF8, PM_ERR_INVALID_URL],
                        "window_new",
                    );
                }
                ctx.remember_window(w, a);
            }
            1 => {
                let url = input.string(URLS);
                // SAFETY: valid C string.
                let w = unsafe { pm_window_new_child(ctx.window(a), url.as_ptr()) };
                if w.is_null() {
                    check(
                        pm_last_error_code(),
                        &[
                            PM_ERR_NULL_ARGUMENT,
                            PM_ERR_INVALID_HANDLE,
                            PM_ERR_UTF8,
                            PM_ERR_INVALID_URL,
                        ],
                        "window_new_child",
                    );
                }
                ctx.remember_window(w, b);
            }
            2 => check(pm_window_free(ctx.window(a)), HANDLE_CODES, "window_free"),
            3 => {
                let url = input.string(URLS);
                // SAFETY: valid C string.
                let r = unsafe { pm_window_navigate(ctx.window(a), url.as_ptr()) };
                check(r, NAV_CODES, "navigate");
            }
            4 => {
                add_listener(ctx, ctx.windows[a % SLOTS].get(), false, b as u8);
            }
            5 => {
                let id = add_listener(ctx, ctx.windows[a % SLOTS].get(), false, b as u8);
                ctx.ids[b % SLOTS].set(id);
            }
            6 => {
                let r = pm_remove_listener(ctx.window(a), ctx.ids[b % SLOTS].get());
                check(r, HANDLE_CODES, "remove_listener");
            }
            7 | 8 => {
                let t = input.string(TARGETS);
                let payload = input.take(16).to_vec();
                let n = input.byte().unwrap_or(0) as usize % 4;
                let transfer: Vec<*mut pm_port> = (0..n).map(|i| ctx.port(a + i)).collect();
                // SAFETY: valid buffers.
                let r = unsafe {
                    pm_post_message_transfer(
                        ctx.window(a),
                        ctx.window(b),
                        payload.as_ptr(),
                        payload.len(),
                        t.as_ptr(),
                        transfer.as_ptr(),
                        transfer.len(),
                    )
                };
                check(r, POST_CODES, "post");
            }
            9 => {
                let (mut p1, mut p2) = (ptr::null_mut(), ptr::null_mut());
                // SAFETY: writable slots.
                let r = unsafe { pm_channel_new(ctx.window(a), &mut p1, &mut p2) };
                check(r, HANDLE_CODES, "channel_new");
                if r == PM_OK {
                    ctx.ports[b % SLOTS].set(p1 as usize);
                    ctx.ports[(b + 1) % SLOTS].set(p2 as usize);
                }
            }
            10 => {
                let payload = input.take(16).to_vec();
                let n = input.byte().unwrap_or(0) as usize % 3;
                let transfer: Vec<*mut pm_port> = (0..n).map(|i| ctx.port(b + i)).collect();
                // SAFETY: valid buffers.
                let r = unsafe {
                    pm_port_post_message(
                        ctx.port(a),
                        payload.as_ptr(),
                        payload.len(),
                        transfer.as_ptr(),
                        transfer.len(),
                    )
                };
                check(r, PORT_POST_CODES, "port_post");
            }
            11 => {
                add_listener(ctx, ctx.ports[a % SLOTS].get(), true, b as u8);
            }
            12 => check(pm_port_close(ctx.port(a)), HANDLE_CODES, "port_close"),
            13 => {
                let names = [c"x", c"y"];
                // SAFETY: valid C string.
                let c = unsafe { pm_broadcast_new(ctx.window(a), names[b % 2].as_ptr()) };
                if c.is_null() {
                    check(
                        pm_last_error_code(),
                        &[PM_ERR_NULL_ARGUMENT, PM_ERR_INVALID_HANDLE],
                        "bc_new",
                    );
                } else {
                    ctx.channels[b % 4].set(c as usize);
                }
            }
            14 => {
                let payload = input.take(8).to_vec();
                // SAFETY: valid buffer.
                let r = unsafe {
                    pm_broadcast_post_message(ctx.channel(a), payload.as_ptr(), payload.len())
                };
                check(r, BC_POST_CODES, "bc_post");
            }
            15 => {
                let id = pm_broadcast_add_listener(ctx.channel(a), Some(listener), leak_plain(ctx));
                let _ = id;
            }
            16 => check(pm_broadcast_close(ctx.channel(a)), HANDLE_CODES, "bc_close"),
            17 => {
                let mode = (b % 3) as u32;
                let r = pm_window_set_dispatch_mode(ctx.window(a), mode);
                check(
                    r,
                    &[
                        PM_OK,
                        PM_ERR_NULL_ARGUMENT,
                        PM_ERR_INVALID_HANDLE,
                        PM_ERR_INVALID_ARGUMENT,
                    ],
                    "set_dispatch_mode",
                );
            }
            18 => {
                let _ = pm_window_run_pending(ctx.window(a), b % 8);
                let _ = pm_window_pending(ctx.window(a));
            }
            19 => {
                let r = pm_window_set_queue_limit(ctx.window(a), b % 4, (b / 4) % 32);
                check(r, HANDLE_CODES, "set_queue_limit");
            }
            20 => {
                let mut buf = [0x55 as c_char; 40];
                let cap = b % 41;
                // SAFETY: cap <= 40 writable bytes.
                let n = unsafe { pm_window_origin(ctx.window(a), buf.as_mut_ptr(), cap) };
                if cap > 0 && n > 0 {
                    let written = n.min(cap - 1);
                    if buf[written] != 0 || buf[..written].contains(&0) {
                        eprintln!("pm_window_origin wrote a bad string");
                        std::process::abort();
                    }
                }
                let _ = pm_window_parent(ctx.window(a));
            }
            21 => {
                // Forge: handle values that were never issued, or of the wrong kind.
                let forged = [
                    0x1234usize,
                    usize::MAX,
                    ctx.ports[b % SLOTS].get(),
                    ctx.channels[b % 4].get(),
                    ctx.windows[b % SLOTS].get() ^ (1 << 33),
                    ctx.windows[b % SLOTS].get() + 1,
                ];
                let v = forged[a % forged.len()];
                match b % 3 {
                    0 => ctx.windows[a % SLOTS].set(v),
                    1 => ctx.ports[a % SLOTS].set(v),
                    _ => ctx.channels[a % 4].set(v),
                }
            }
            22 => {
                let r = pm_window_set_waker(
                    ctx.window(a),
                    if b.is_multiple_of(2) {
                        Some(wake)
                    } else {
                        None
                    },
                    ptr::null_mut(),
                );
                check(r, HANDLE_CODES, "set_waker");
            }
            _ => {
                // Swap two window slots (keeps sources and targets varied).
                let x = ctx.windows[a % SLOTS].get();
                ctx.windows[a % SLOTS].set(ctx.windows[b % SLOTS].get());
                ctx.windows[b % SLOTS].set(x);
            }
        }
    }

    // Tear down: freeing every window frees their children, listeners, ports and channels.
    let created = ctx.created.borrow().clone();
    for w in created {
        check(
            pm_window_free(w as *mut pm_window),
            HANDLE_CODES,
            "final free",
        );
    }
    let listeners = std::mem::take(&mut *ctx.listeners.borrow_mut());
    for d in listeners {
        // SAFETY: allocated by add_listener; nothing can call it any more.
        let d = unsafe { Box::from_raw(d) };
        let expected = u32::from(d.added.get() && d.has_destroy);
        if d.destroyed.get() != expected {
            eprintln!(
                "listener {} (added {}, destroy fn {}): destroy ran {} times, expected {expected}",
                d.id.get(),
                d.added.get(),
                d.has_destroy,
                d.destroyed.get()
            );
            std::process::abort();
        }
    }
    PLAIN.with(|p| {
        for d in p.borrow_mut().drain(..) {
            // SAFETY: allocated by leak_plain; every window (so every channel) is gone.
            drop(unsafe { Box::from_raw(d) });
        }
    });
});

thread_local! {
    static PLAIN: RefCell<Vec<*mut ListenerData>> = const { RefCell::new(Vec::new()) };
}

/// user_data for a listener added without a destroy function (broadcast listeners).
fn leak_plain(ctx: &Ctx) -> *mut c_void {
    let d = Box::into_raw(Box::new(ListenerData {
        ctx,
        kind: ctx.next() as u8 & 0x3f,
        id: Cell::new(0),
        home: Cell::new(0),
        home_is_port: Cell::new(false),
        destroyed: Cell::new(0),
        added: Cell::new(true),
        has_destroy: false,
    }));
    PLAIN.with(|p| p.borrow_mut().push(d));
    d.cast()
}
