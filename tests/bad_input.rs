//! Bad input, table-driven: every exported function with NULL, freed, forged and wrong-kind
//! handles, invalid UTF-8, NULL data with a length, and 1 MiB strings. Each case expects the code
//! the function's doc comment gives (NULL / 0 for constructors and queries, checked through
//! `pm_last_error_code()`), a non-empty `pm_last_error()`, and a library that still works
//! afterwards (a normal post round trip).

mod common;

use common::*;
use postmessage::capi::allow_list::*;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::diagnostics::*;
use postmessage::capi::error::*;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::scheme::*;
use postmessage::capi::window::*;
use postmessage::{pm_broadcast, pm_message_event, pm_port, pm_result, pm_window};
use std::ffi::{CStr, CString, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use pm_result::*;

const MIB: usize = 1 << 20;

/// What a call returned.
#[derive(Debug)]
enum Ret {
    Code(pm_result),
    /// A constructor or query returning a pointer: whether it was NULL.
    Ptr(bool),
    /// A listener id.
    Id(u64),
    /// A size (pm_window_origin, pm_window_run_pending, pm_window_pending).
    Size(usize),
}

/// Objects each case starts from (fresh for each case).
struct Fx {
    w: *mut pm_window,
    w2: *mut pm_window,
    rec: std::sync::Arc<Recorder>,
    freed_window: *mut pm_window,
    p1: *mut pm_port,
    p2: *mut pm_port,
    closed_port: *mut pm_port,
    bc: *mut pm_broadcast,
    closed_bc: *mut pm_broadcast,
    listener: u64,
    w2_listener: u64,
    port_listener: u64,
    bc_listener: u64,
}

unsafe extern "C" fn noop(_: *const pm_message_event, _: *mut c_void) {}

static DESTROYS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_destroy(_: *mut c_void) {
    DESTROYS.fetch_add(1, Ordering::SeqCst);
}

impl Fx {
    fn new() -> Fx {
        let w = window("http://a.example/");
        let w2 = window("http://b.example/");
        let rec = Recorder::new();
        let w2_listener = listen(w2, &rec);
        let freed_window = window("http://freed.example/");
        assert_eq!(pm_window_free(freed_window), PM_OK);
        let (mut p1, mut p2) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: writable slots.
        assert_eq!(unsafe { pm_channel_new(w, &mut p1, &mut p2) }, PM_OK);
        let (mut c1, mut c2) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: writable slots.
        assert_eq!(unsafe { pm_channel_new(w, &mut c1, &mut c2) }, PM_OK);
        assert_eq!(pm_port_close(c1), PM_OK);
        // SAFETY: valid C strings.
        let (bc, closed_bc) = unsafe {
            (
                pm_broadcast_new(w, c"bc".as_ptr()),
                pm_broadcast_new(w, c"bc".as_ptr()),
            )
        };
        assert!(!bc.is_null() && !closed_bc.is_null());
        assert_eq!(pm_broadcast_close(closed_bc), PM_OK);
        let listener = pm_add_listener(w, Some(noop), ptr::null_mut());
        let port_listener = pm_port_add_listener(p1, Some(noop), ptr::null_mut());
        let bc_listener = pm_broadcast_add_listener(bc, Some(noop), ptr::null_mut());
        assert!(listener > 0 && port_listener > 0 && bc_listener > 0);
        Fx {
            w,
            w2,
            rec,
            freed_window,
            p1,
            p2,
            closed_port: c1,
            bc,
            closed_bc,
            listener,
            w2_listener,
            port_listener,
            bc_listener,
        }
    }

    /// The library still works: a normal post round trip.
    fn still_works(&self, what: &str) {
        let before = self.rec.count();
        let r = post(self.w, self.w2, "ping", "http://b.example");
        assert_eq!(
            r,
            PM_OK,
            "{what}: round trip after the case: {}",
            last_error()
        );
        assert_eq!(self.rec.count(), before + 1, "{what}: delivered");
    }

    fn free(self) {
        assert_eq!(pm_window_free(self.w), PM_OK);
        assert_eq!(pm_window_free(self.w2), PM_OK);
    }
}

// Wrong-kind and forged handle values.
fn forged<T>(v: usize) -> *mut T {
    v as *mut T
}
fn as_port<T>(p: *mut T) -> *mut pm_port {
    p.cast()
}
fn as_window<T>(p: *mut T) -> *mut pm_window {
    p.cast()
}
fn as_bc<T>(p: *mut T) -> *mut pm_broadcast {
    p.cast()
}

/// Strings the cases use, built once.
struct Strings {
    bad_utf8: CString,
    bad_utf8_url: CString,
    long_valid_url: CString,
    long_host_url: CString,
    long_host_valid: bool,
    long_garbage: CString,
    long_target: CString,
    long_name: CString,
}

fn strings() -> &'static Strings {
    static S: std::sync::OnceLock<Strings> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let long_host = format!("http://{}.example/", "a".repeat(MIB));
        Strings {
            bad_utf8: CString::new(&b"\xff\xfe"[..]).unwrap(),
            bad_utf8_url: CString::new(&b"http://a.example/\xc3\x28"[..]).unwrap(),
            long_valid_url: CString::new(format!("http://a.example/{}", "x".repeat(MIB))).unwrap(),
            long_host_valid: url::Url::parse(&long_host).is_ok(),
            long_host_url: CString::new(long_host).unwrap(),
            long_garbage: CString::new("x".repeat(MIB)).unwrap(),
            long_target: CString::new(format!("http://b.example/{}", "y".repeat(MIB))).unwrap(),
            long_name: CString::new("n".repeat(MIB)).unwrap(),
        }
    })
}

fn u8p(s: &CStr) -> *const c_char {
    s.as_ptr()
}

/// Records a different failure first, so a case's checks cannot be satisfied by a stale
/// `pm_last_error_code()`.
fn prime_last_error(expected: pm_result) {
    let other = if expected == PM_ERR_UTF8 {
        // SAFETY: valid C string.
        unsafe { pm_window_new(c"not a url".as_ptr()) };
        PM_ERR_INVALID_URL
    } else {
        // SAFETY: valid C string; bad UTF-8 in the URL.
        unsafe { pm_window_new(strings().bad_utf8.as_ptr()) };
        PM_ERR_UTF8
    };
    assert_eq!(pm_last_error_code(), other);
}

struct Case {
    func: &'static str,
    input: &'static str,
    expected: pm_result,
    call: fn(&Fx) -> Ret,
}

macro_rules! case {
    ($func:literal, $input:literal, $expected:expr, |$f:ident| $body:expr) => {
        Case {
            func: $func,
            input: $input,
            expected: $expected,
            call: |$f: &Fx| {
                let _ = &$f;
                #[allow(unused_unsafe)]
                // SAFETY: every pointer passed is NULL, a handle value (never dereferenced by
                // the library), or a valid buffer or C string for the call.
                unsafe {
                    $body
                }
            },
        }
    };
}

fn post_with(source: *mut pm_window, target: *mut pm_window, t: *const c_char) -> Ret {
    // SAFETY: valid data buffer.
    Ret::Code(unsafe { pm_post_message(source, target, b"x".as_ptr(), 1, t) })
}

fn transfer_with(f: &Fx, transfer: &[*mut pm_port]) -> Ret {
    // SAFETY: valid buffers.
    Ret::Code(unsafe {
        pm_post_message_transfer(
            f.w,
            f.w2,
            b"x".as_ptr(),
            1,
            c"*".as_ptr(),
            transfer.as_ptr(),
            transfer.len(),
        )
    })
}

fn port_post_with(port: *mut pm_port, transfer: &[*mut pm_port]) -> Ret {
    // SAFETY: valid buffers.
    Ret::Code(unsafe {
        pm_port_post_message(port, b"x".as_ptr(), 1, transfer.as_ptr(), transfer.len())
    })
}

fn origin_into(w: *mut pm_window) -> Ret {
    let mut buf = [0 as c_char; 64];
    // SAFETY: 64 writable bytes.
    Ret::Size(unsafe { pm_window_origin(w, buf.as_mut_ptr(), buf.len()) })
}

fn add_full(w: *mut pm_window) -> Ret {
    Ret::Id(pm_add_listener_full(
        w,
        Some(noop),
        ptr::null_mut(),
        Some(count_destroy),
    ))
}

fn for_origins(w: *mut pm_window, entries: &[*const c_char]) -> Ret {
    // SAFETY: entries are NULL or valid C strings.
    Ret::Id(unsafe {
        pm_add_listener_for_origins(
            w,
            entries.as_ptr(),
            entries.len(),
            Some(noop),
            ptr::null_mut(),
            Some(count_destroy),
        )
    })
}

/// Frees a window a case created and reports whether the constructor returned NULL.
fn created(w: *mut pm_window) -> Ret {
    let null = w.is_null();
    if !null {
        assert_eq!(pm_window_free(w), PM_OK);
    }
    Ret::Ptr(null)
}

fn cases() -> Vec<Case> {
    vec![
        // ---------------------------------------------------------------- pm_window_new
        case!("pm_window_new", "NULL url", PM_ERR_NULL_ARGUMENT, |f| {
            created(pm_window_new(ptr::null()))
        }),
        case!("pm_window_new", "invalid UTF-8", PM_ERR_UTF8, |f| created(
            pm_window_new(strings().bad_utf8_url.as_ptr())
        )),
        case!("pm_window_new", "empty string", PM_ERR_INVALID_URL, |f| {
            created(pm_window_new(c"".as_ptr()))
        }),
        case!("pm_window_new", "relative URL", PM_ERR_INVALID_URL, |f| {
            created(pm_window_new(c"/path/only".as_ptr()))
        }),
        case!(
            "pm_window_new",
            "1 MiB of garbage",
            PM_ERR_INVALID_URL,
            |f| created(pm_window_new(strings().long_garbage.as_ptr()))
        ),
        case!("pm_window_new", "1 MiB valid URL (long path)", PM_OK, |f| {
            let w = pm_window_new(strings().long_valid_url.as_ptr());
            assert!(!w.is_null());
            assert_eq!(origin_of(w), "http://a.example");
            created(w)
        }),
        // ---------------------------------------------------------------- pm_window_new_child
        case!(
            "pm_window_new_child",
            "NULL parent",
            PM_ERR_NULL_ARGUMENT,
            |f| created(pm_window_new_child(
                ptr::null_mut(),
                c"about:blank".as_ptr()
            ))
        ),
        case!(
            "pm_window_new_child",
            "NULL url",
            PM_ERR_NULL_ARGUMENT,
            |f| created(pm_window_new_child(f.w, ptr::null()))
        ),
        case!(
            "pm_window_new_child",
            "freed parent",
            PM_ERR_INVALID_HANDLE,
            |f| created(pm_window_new_child(f.freed_window, c"about:blank".as_ptr()))
        ),
        case!(
            "pm_window_new_child",
            "forged parent 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| created(pm_window_new_child(forged(0x1234), c"about:blank".as_ptr()))
        ),
        case!(
            "pm_window_new_child",
            "port handle as parent",
            PM_ERR_INVALID_HANDLE,
            |f| created(pm_window_new_child(
                as_window(f.p1),
                c"about:blank".as_ptr()
            ))
        ),
        case!(
            "pm_window_new_child",
            "huge parent value",
            PM_ERR_INVALID_HANDLE,
            |f| created(pm_window_new_child(
                forged(usize::MAX),
                c"about:blank".as_ptr()
            ))
        ),
        case!(
            "pm_window_new_child",
            "invalid UTF-8 url",
            PM_ERR_UTF8,
            |f| created(pm_window_new_child(f.w, strings().bad_utf8.as_ptr()))
        ),
        case!(
            "pm_window_new_child",
            "invalid url",
            PM_ERR_INVALID_URL,
            |f| created(pm_window_new_child(f.w, c"nope".as_ptr()))
        ),
        case!(
            "pm_window_new_child",
            "1 MiB of garbage",
            PM_ERR_INVALID_URL,
            |f| created(pm_window_new_child(f.w, strings().long_garbage.as_ptr()))
        ),
        // ---------------------------------------------------------------- pm_window_free
        case!("pm_window_free", "NULL (a no-op)", PM_OK, |f| Ret::Code(
            pm_window_free(ptr::null_mut())
        )),
        case!(
            "pm_window_free",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_free(f.freed_window))
        ),
        case!(
            "pm_window_free",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_free(forged(0x1234)))
        ),
        case!("pm_window_free", "huge value", PM_ERR_INVALID_HANDLE, |f| {
            Ret::Code(pm_window_free(forged(usize::MAX)))
        }),
        case!(
            "pm_window_free",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_free(as_window(f.p1)))
        ),
        case!(
            "pm_window_free",
            "broadcast handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_free(as_window(f.bc)))
        ),
        case!(
            "pm_window_free",
            "window handle with another generation",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_free(forged(f.w as usize ^ (1 << 45))))
        ),
        // ---------------------------------------------------------------- pm_window_navigate
        case!(
            "pm_window_navigate",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_window_navigate(
                ptr::null_mut(),
                c"http://x.example/".as_ptr()
            ))
        ),
        case!(
            "pm_window_navigate",
            "NULL url",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_window_navigate(f.w, ptr::null()))
        ),
        case!(
            "pm_window_navigate",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_navigate(
                f.freed_window,
                c"http://x.example/".as_ptr()
            ))
        ),
        case!(
            "pm_window_navigate",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_navigate(
                as_window(f.p2),
                c"http://x.example/".as_ptr()
            ))
        ),
        case!(
            "pm_window_navigate",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_navigate(
                forged(0x1234),
                c"http://x.example/".as_ptr()
            ))
        ),
        case!("pm_window_navigate", "invalid UTF-8", PM_ERR_UTF8, |f| {
            Ret::Code(pm_window_navigate(f.w, strings().bad_utf8_url.as_ptr()))
        }),
        case!(
            "pm_window_navigate",
            "invalid URL (nothing changes)",
            PM_ERR_INVALID_URL,
            |f| {
                let r = pm_window_navigate(f.w, c"::".as_ptr());
                assert_eq!(origin_of(f.w), "http://a.example");
                Ret::Code(r)
            }
        ),
        case!(
            "pm_window_navigate",
            "1 MiB of garbage",
            PM_ERR_INVALID_URL,
            |f| Ret::Code(pm_window_navigate(f.w, strings().long_garbage.as_ptr()))
        ),
        case!("pm_window_navigate", "1 MiB valid URL", PM_OK, |f| {
            let r = pm_window_navigate(f.w2, strings().long_valid_url.as_ptr());
            assert_eq!(origin_of(f.w2), "http://a.example");
            // Back, with a listener for the round trip.
            assert_eq!(
                pm_window_navigate(f.w2, c"http://b.example/".as_ptr()),
                PM_OK
            );
            listen(f.w2, &f.rec);
            Ret::Code(r)
        }),
        // ---------------------------------------------------------------- pm_window_origin
        case!(
            "pm_window_origin",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| origin_into(ptr::null_mut())
        ),
        case!(
            "pm_window_origin",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| origin_into(f.freed_window)
        ),
        case!(
            "pm_window_origin",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| origin_into(forged(0x1234))
        ),
        case!(
            "pm_window_origin",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| origin_into(as_window(f.p1))
        ),
        case!(
            "pm_window_origin",
            "huge value",
            PM_ERR_INVALID_HANDLE,
            |f| origin_into(forged(usize::MAX))
        ),
        case!(
            "pm_window_origin",
            "NULL buffer with a capacity (size query)",
            PM_OK,
            |f| Ret::Size(pm_window_origin(f.w, ptr::null_mut(), 100))
        ),
        // ---------------------------------------------------------------- pm_window_parent
        case!(
            "pm_window_parent",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Ptr(pm_window_parent(ptr::null()).is_null())
        ),
        case!(
            "pm_window_parent",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Ptr(pm_window_parent(f.freed_window).is_null())
        ),
        case!(
            "pm_window_parent",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Ptr(pm_window_parent(forged(0x1234)).is_null())
        ),
        case!(
            "pm_window_parent",
            "broadcast handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Ptr(pm_window_parent(as_window(f.bc)).is_null())
        ),
        // ---------------------------------------------------------------- pm_add_listener(_full)
        case!(
            "pm_add_listener",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_add_listener(
                ptr::null_mut(),
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_add_listener",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_add_listener(f.w, None, ptr::null_mut()))
        ),
        case!(
            "pm_add_listener",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_add_listener(f.freed_window, Some(noop), ptr::null_mut()))
        ),
        case!(
            "pm_add_listener",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_add_listener(
                as_window(f.p1),
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_add_listener_full",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| add_full(ptr::null_mut())
        ),
        case!(
            "pm_add_listener_full",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_add_listener_full(
                f.w,
                None,
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_add_listener_full",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| add_full(f.freed_window)
        ),
        case!(
            "pm_add_listener_full",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| add_full(forged(0x1234))
        ),
        case!(
            "pm_add_listener_full",
            "huge value",
            PM_ERR_INVALID_HANDLE,
            |f| add_full(forged(usize::MAX))
        ),
        case!(
            "pm_add_listener_full",
            "broadcast handle",
            PM_ERR_INVALID_HANDLE,
            |f| add_full(as_window(f.bc))
        ),
        // ---------------------------------------------------------------- pm_remove_listener
        case!(
            "pm_remove_listener",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_remove_listener(ptr::null_mut(), f.listener))
        ),
        case!(
            "pm_remove_listener",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_remove_listener(f.freed_window, f.listener))
        ),
        case!(
            "pm_remove_listener",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_remove_listener(as_window(f.p1), f.port_listener))
        ),
        case!("pm_remove_listener", "id 0", PM_ERR_INVALID_HANDLE, |f| {
            Ret::Code(pm_remove_listener(f.w, 0))
        }),
        case!(
            "pm_remove_listener",
            "id u64::MAX",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_remove_listener(f.w, u64::MAX))
        ),
        case!(
            "pm_remove_listener",
            "another window's id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_remove_listener(f.w, f.w2_listener))
        ),
        case!(
            "pm_remove_listener",
            "a port listener's id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_remove_listener(f.w, f.port_listener))
        ),
        case!(
            "pm_remove_listener",
            "removed twice",
            PM_ERR_INVALID_HANDLE,
            |f| {
                assert_eq!(pm_remove_listener(f.w, f.listener), PM_OK);
                Ret::Code(pm_remove_listener(f.w, f.listener))
            }
        ),
        // ---------------------------------------------------------------- pm_post_message
        case!(
            "pm_post_message",
            "NULL source",
            PM_ERR_NULL_ARGUMENT,
            |f| post_with(ptr::null_mut(), f.w2, c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "NULL target",
            PM_ERR_NULL_ARGUMENT,
            |f| post_with(f.w, ptr::null_mut(), c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "NULL targetOrigin",
            PM_ERR_NULL_ARGUMENT,
            |f| post_with(f.w, f.w2, ptr::null())
        ),
        case!(
            "pm_post_message",
            "NULL data with length 5",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_post_message(f.w, f.w2, ptr::null(), 5, c"*".as_ptr()))
        ),
        case!(
            "pm_post_message",
            "NULL data with a huge length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_post_message(
                f.w,
                f.w2,
                ptr::null(),
                usize::MAX,
                c"*".as_ptr()
            ))
        ),
        case!(
            "pm_post_message",
            "freed source",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(f.freed_window, f.w2, c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "freed target",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(f.w, f.freed_window, c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "forged source 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(forged(0x1234), f.w2, c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "huge target value",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(f.w, forged(usize::MAX), c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "port handle as target",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(f.w, as_window(f.p2), c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "broadcast handle as source",
            PM_ERR_INVALID_HANDLE,
            |f| post_with(as_window(f.bc), f.w2, c"*".as_ptr())
        ),
        case!(
            "pm_post_message",
            "invalid UTF-8 targetOrigin",
            PM_ERR_UTF8,
            |f| post_with(f.w, f.w2, u8p(&strings().bad_utf8))
        ),
        case!(
            "pm_post_message",
            "invalid targetOrigin",
            PM_ERR_SYNTAX,
            |f| post_with(f.w, f.w2, c"b.example".as_ptr())
        ),
        case!(
            "pm_post_message",
            "1 MiB garbage targetOrigin",
            PM_ERR_SYNTAX,
            |f| post_with(f.w, f.w2, u8p(&strings().long_garbage))
        ),
        case!(
            "pm_post_message",
            "1 MiB matching targetOrigin (long path)",
            PM_OK,
            |f| post_with(f.w, f.w2, u8p(&strings().long_target))
        ),
        case!(
            "pm_post_message",
            "1 MiB mismatching targetOrigin",
            PM_DROPPED,
            |f| post_with(f.w, f.w2, u8p(&strings().long_valid_url))
        ),
        // ---------------------------------------------------------------- pm_post_message_transfer
        case!(
            "pm_post_message_transfer",
            "NULL list with a length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_post_message_transfer(
                f.w,
                f.w2,
                ptr::null(),
                0,
                c"*".as_ptr(),
                ptr::null(),
                1
            ))
        ),
        case!(
            "pm_post_message_transfer",
            "NULL list with a huge length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_post_message_transfer(
                f.w,
                f.w2,
                ptr::null(),
                0,
                c"*".as_ptr(),
                ptr::null(),
                usize::MAX
            ))
        ),
        case!(
            "pm_post_message_transfer",
            "NULL entry",
            PM_ERR_NULL_ARGUMENT,
            |f| transfer_with(f, &[f.p2, ptr::null_mut()])
        ),
        case!(
            "pm_post_message_transfer",
            "closed port",
            PM_ERR_DATA_CLONE,
            |f| transfer_with(f, &[f.closed_port])
        ),
        case!(
            "pm_post_message_transfer",
            "forged port 0x1234",
            PM_ERR_DATA_CLONE,
            |f| transfer_with(f, &[forged(0x1234)])
        ),
        case!(
            "pm_post_message_transfer",
            "huge port value",
            PM_ERR_DATA_CLONE,
            |f| transfer_with(f, &[forged(usize::MAX)])
        ),
        case!(
            "pm_post_message_transfer",
            "window handle as port",
            PM_ERR_DATA_CLONE,
            |f| transfer_with(f, &[as_port(f.w)])
        ),
        case!(
            "pm_post_message_transfer",
            "duplicate port",
            PM_ERR_DATA_CLONE,
            |f| {
                let r = transfer_with(f, &[f.p2, f.p2]);
                // Nothing was transferred.
                assert_eq!(pm_port_close(f.p2), PM_OK);
                r
            }
        ),
        case!(
            "pm_post_message_transfer",
            "freed source",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_post_message_transfer(
                f.freed_window,
                f.w2,
                ptr::null(),
                0,
                c"*".as_ptr(),
                &f.p2,
                1
            ))
        ),
        // ---------------------------------------------------------------- delivery modes
        case!(
            "pm_window_set_dispatch_mode",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_window_set_dispatch_mode(ptr::null_mut(), 0))
        ),
        case!(
            "pm_window_set_dispatch_mode",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_dispatch_mode(f.freed_window, 1))
        ),
        case!(
            "pm_window_set_dispatch_mode",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_dispatch_mode(as_window(f.p1), 1))
        ),
        case!(
            "pm_window_set_dispatch_mode",
            "mode 2",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_window_set_dispatch_mode(f.w, 2))
        ),
        case!(
            "pm_window_set_dispatch_mode",
            "mode u32::MAX",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_window_set_dispatch_mode(f.w, u32::MAX))
        ),
        case!(
            "pm_window_set_waker",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_window_set_waker(ptr::null_mut(), None, ptr::null_mut()))
        ),
        case!(
            "pm_window_set_waker",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_waker(f.freed_window, None, ptr::null_mut()))
        ),
        case!(
            "pm_window_set_waker",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_waker(forged(0x1234), None, ptr::null_mut()))
        ),
        case!(
            "pm_window_run_pending",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Size(pm_window_run_pending(ptr::null_mut(), 10))
        ),
        case!(
            "pm_window_run_pending",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Size(pm_window_run_pending(f.freed_window, 10))
        ),
        case!(
            "pm_window_run_pending",
            "huge value",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Size(pm_window_run_pending(forged(usize::MAX), usize::MAX))
        ),
        case!(
            "pm_window_pending",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Size(pm_window_pending(ptr::null()))
        ),
        case!(
            "pm_window_pending",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Size(pm_window_pending(f.freed_window))
        ),
        case!(
            "pm_window_pending",
            "port handle",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Size(pm_window_pending(as_window(f.p1)))
        ),
        case!(
            "pm_window_set_queue_limit",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_window_set_queue_limit(ptr::null_mut(), 1, 1))
        ),
        case!(
            "pm_window_set_queue_limit",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_queue_limit(f.freed_window, 1, 1))
        ),
        case!(
            "pm_window_set_queue_limit",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_window_set_queue_limit(forged(0x1234), 1, 1))
        ),
        // ---------------------------------------------------------------- pm_channel_new
        case!("pm_channel_new", "NULL owner", PM_ERR_NULL_ARGUMENT, |f| {
            let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
            Ret::Code(pm_channel_new(ptr::null_mut(), &mut a, &mut b))
        }),
        case!("pm_channel_new", "NULL port1", PM_ERR_NULL_ARGUMENT, |f| {
            let mut b = ptr::null_mut();
            Ret::Code(pm_channel_new(f.w, ptr::null_mut(), &mut b))
        }),
        case!("pm_channel_new", "NULL port2", PM_ERR_NULL_ARGUMENT, |f| {
            let mut a = ptr::null_mut();
            Ret::Code(pm_channel_new(f.w, &mut a, ptr::null_mut()))
        }),
        case!(
            "pm_channel_new",
            "freed owner (outputs untouched)",
            PM_ERR_INVALID_HANDLE,
            |f| {
                let (mut a, mut b) = (forged::<pm_port>(7), forged::<pm_port>(9));
                let r = pm_channel_new(f.freed_window, &mut a, &mut b);
                assert_eq!(
                    (a as usize, b as usize),
                    (7, 9),
                    "outputs untouched on error"
                );
                Ret::Code(r)
            }
        ),
        case!(
            "pm_channel_new",
            "port handle as owner",
            PM_ERR_INVALID_HANDLE,
            |f| {
                let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
                Ret::Code(pm_channel_new(as_window(f.p1), &mut a, &mut b))
            }
        ),
        // ---------------------------------------------------------------- ports
        case!(
            "pm_port_post_message",
            "NULL port",
            PM_ERR_NULL_ARGUMENT,
            |f| port_post_with(ptr::null_mut(), &[])
        ),
        case!(
            "pm_port_post_message",
            "closed port",
            PM_ERR_INVALID_HANDLE,
            |f| port_post_with(f.closed_port, &[])
        ),
        case!(
            "pm_port_post_message",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| port_post_with(forged(0x1234), &[])
        ),
        case!(
            "pm_port_post_message",
            "huge value",
            PM_ERR_INVALID_HANDLE,
            |f| port_post_with(forged(usize::MAX), &[])
        ),
        case!(
            "pm_port_post_message",
            "window handle as port",
            PM_ERR_INVALID_HANDLE,
            |f| port_post_with(as_port(f.w), &[])
        ),
        case!(
            "pm_port_post_message",
            "NULL data with length 3",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_port_post_message(f.p2, ptr::null(), 3, ptr::null(), 0))
        ),
        case!(
            "pm_port_post_message",
            "NULL data with a huge length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_port_post_message(
                f.p2,
                ptr::null(),
                usize::MAX,
                ptr::null(),
                0
            ))
        ),
        case!(
            "pm_port_post_message",
            "NULL list with a length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_port_post_message(f.p2, ptr::null(), 0, ptr::null(), 2))
        ),
        case!(
            "pm_port_post_message",
            "NULL entry",
            PM_ERR_NULL_ARGUMENT,
            |f| port_post_with(f.p2, &[ptr::null_mut()])
        ),
        case!(
            "pm_port_post_message",
            "itself in the list",
            PM_ERR_DATA_CLONE,
            |f| port_post_with(f.p2, &[f.p2])
        ),
        case!(
            "pm_port_post_message",
            "its partner in the list",
            PM_ERR_DATA_CLONE,
            |f| port_post_with(f.p2, &[f.p1])
        ),
        case!(
            "pm_port_post_message",
            "closed port in the list",
            PM_ERR_DATA_CLONE,
            |f| port_post_with(f.p2, &[f.closed_port])
        ),
        case!(
            "pm_port_post_message",
            "window handle in the list",
            PM_ERR_DATA_CLONE,
            |f| port_post_with(f.p2, &[as_port(f.w)])
        ),
        case!(
            "pm_port_add_listener",
            "NULL port",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_port_add_listener(
                ptr::null_mut(),
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_port_add_listener",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_port_add_listener(f.p2, None, ptr::null_mut()))
        ),
        case!(
            "pm_port_add_listener",
            "closed port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_port_add_listener(
                f.closed_port,
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_port_add_listener_full",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_port_add_listener_full(
                forged(0x1234),
                Some(noop),
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_port_add_listener_full",
            "window handle as port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_port_add_listener_full(
                as_port(f.w),
                Some(noop),
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_port_add_listener_full",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_port_add_listener_full(
                f.p2,
                None,
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_port_remove_listener",
            "NULL port",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_port_remove_listener(ptr::null_mut(), f.port_listener))
        ),
        case!(
            "pm_port_remove_listener",
            "closed port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_remove_listener(f.closed_port, f.port_listener))
        ),
        case!(
            "pm_port_remove_listener",
            "unknown id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_remove_listener(f.p1, u64::MAX))
        ),
        case!(
            "pm_port_remove_listener",
            "a window listener's id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_remove_listener(f.p1, f.listener))
        ),
        case!(
            "pm_port_remove_listener",
            "window handle as port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_remove_listener(as_port(f.w), f.listener))
        ),
        case!(
            "pm_port_close",
            "NULL port (no-op, like free)",
            PM_OK,
            |f| Ret::Code(pm_port_close(ptr::null_mut()))
        ),
        case!("pm_port_close", "closed port", PM_ERR_INVALID_HANDLE, |f| {
            Ret::Code(pm_port_close(f.closed_port))
        }),
        case!(
            "pm_port_close",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_close(forged(0x1234)))
        ),
        case!(
            "pm_port_close",
            "window handle as port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_close(as_port(f.w)))
        ),
        case!(
            "pm_port_close",
            "broadcast handle as port",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_port_close(as_port(f.bc)))
        ),
        // ---------------------------------------------------------------- broadcast
        case!(
            "pm_broadcast_new",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Ptr(pm_broadcast_new(ptr::null_mut(), c"n".as_ptr()).is_null())
        ),
        case!("pm_broadcast_new", "NULL name", PM_ERR_NULL_ARGUMENT, |f| {
            Ret::Ptr(pm_broadcast_new(f.w, ptr::null()).is_null())
        }),
        case!(
            "pm_broadcast_new",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Ptr(pm_broadcast_new(f.freed_window, c"n".as_ptr()).is_null())
        ),
        case!(
            "pm_broadcast_new",
            "port handle as window",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Ptr(pm_broadcast_new(as_window(f.p1), c"n".as_ptr()).is_null())
        ),
        case!("pm_broadcast_new", "invalid UTF-8 name", PM_ERR_UTF8, |f| {
            Ret::Ptr(pm_broadcast_new(f.w, strings().bad_utf8.as_ptr()).is_null())
        }),
        case!("pm_broadcast_new", "1 MiB name", PM_OK, |f| {
            let c = pm_broadcast_new(f.w, strings().long_name.as_ptr());
            let null = c.is_null();
            if !null {
                assert_eq!(pm_broadcast_close(c), PM_OK);
            }
            Ret::Ptr(null)
        }),
        case!(
            "pm_broadcast_post_message",
            "NULL channel",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_broadcast_post_message(ptr::null_mut(), b"x".as_ptr(), 1))
        ),
        case!(
            "pm_broadcast_post_message",
            "closed channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_post_message(f.closed_bc, b"x".as_ptr(), 1))
        ),
        case!(
            "pm_broadcast_post_message",
            "window handle as channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_post_message(as_bc(f.w), b"x".as_ptr(), 1))
        ),
        case!(
            "pm_broadcast_post_message",
            "huge value",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_post_message(
                forged(usize::MAX),
                b"x".as_ptr(),
                1
            ))
        ),
        case!(
            "pm_broadcast_post_message",
            "NULL data with a huge length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_broadcast_post_message(f.bc, ptr::null(), usize::MAX))
        ),
        case!(
            "pm_broadcast_add_listener",
            "NULL channel",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_broadcast_add_listener(
                ptr::null_mut(),
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_broadcast_add_listener",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_broadcast_add_listener(f.bc, None, ptr::null_mut()))
        ),
        case!(
            "pm_broadcast_add_listener",
            "closed channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_broadcast_add_listener(
                f.closed_bc,
                Some(noop),
                ptr::null_mut()
            ))
        ),
        case!(
            "pm_broadcast_add_listener_full",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_broadcast_add_listener_full(
                forged(0x1234),
                Some(noop),
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_broadcast_add_listener_full",
            "port handle as channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Id(pm_broadcast_add_listener_full(
                as_bc(f.p1),
                Some(noop),
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_broadcast_remove_listener",
            "NULL channel",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_broadcast_remove_listener(ptr::null_mut(), f.bc_listener))
        ),
        case!(
            "pm_broadcast_remove_listener",
            "closed channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_remove_listener(f.closed_bc, f.bc_listener))
        ),
        case!(
            "pm_broadcast_remove_listener",
            "unknown id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_remove_listener(f.bc, 0))
        ),
        case!(
            "pm_broadcast_remove_listener",
            "a window listener's id",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_remove_listener(f.bc, f.listener))
        ),
        case!(
            "pm_broadcast_close",
            "NULL channel (no-op, like free)",
            PM_OK,
            |f| Ret::Code(pm_broadcast_close(ptr::null_mut()))
        ),
        case!(
            "pm_broadcast_close",
            "closed channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_close(f.closed_bc))
        ),
        case!(
            "pm_broadcast_close",
            "window handle as channel",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_close(as_bc(f.w)))
        ),
        case!(
            "pm_broadcast_close",
            "forged 0x1234",
            PM_ERR_INVALID_HANDLE,
            |f| Ret::Code(pm_broadcast_close(forged(0x1234)))
        ),
        // ---------------------------------------------------------------- extensions
        case!(
            "pm_add_listener_for_origins",
            "NULL window",
            PM_ERR_NULL_ARGUMENT,
            |f| for_origins(ptr::null_mut(), &[c"http://b.example".as_ptr()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "freed window",
            PM_ERR_INVALID_HANDLE,
            |f| for_origins(f.freed_window, &[c"http://b.example".as_ptr()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "port handle as window",
            PM_ERR_INVALID_HANDLE,
            |f| for_origins(as_window(f.p1), &[c"http://b.example".as_ptr()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "NULL callback",
            PM_ERR_NULL_ARGUMENT,
            |f| {
                let entries = [c"http://b.example".as_ptr()];
                Ret::Id(pm_add_listener_for_origins(
                    f.w,
                    entries.as_ptr(),
                    1,
                    None,
                    ptr::null_mut(),
                    Some(count_destroy),
                ))
            }
        ),
        case!(
            "pm_add_listener_for_origins",
            "NULL list with a length",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Id(pm_add_listener_for_origins(
                f.w,
                ptr::null(),
                3,
                Some(noop),
                ptr::null_mut(),
                Some(count_destroy)
            ))
        ),
        case!(
            "pm_add_listener_for_origins",
            "empty list",
            PM_ERR_INVALID_ARGUMENT,
            |f| for_origins(f.w, &[])
        ),
        case!(
            "pm_add_listener_for_origins",
            "NULL entry",
            PM_ERR_NULL_ARGUMENT,
            |f| for_origins(f.w, &[c"http://b.example".as_ptr(), ptr::null()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "invalid UTF-8 entry",
            PM_ERR_UTF8,
            |f| for_origins(f.w, &[u8p(&strings().bad_utf8_url)])
        ),
        case!("pm_add_listener_for_origins", "\"*\"", PM_ERR_SYNTAX, |f| {
            for_origins(f.w, &[c"*".as_ptr()])
        }),
        case!("pm_add_listener_for_origins", "\"/\"", PM_ERR_SYNTAX, |f| {
            for_origins(f.w, &[c"/".as_ptr()])
        }),
        case!(
            "pm_add_listener_for_origins",
            "\"null\"",
            PM_ERR_SYNTAX,
            |f| for_origins(f.w, &[c"null".as_ptr()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "1 MiB garbage entry",
            PM_ERR_SYNTAX,
            |f| for_origins(f.w, &[u8p(&strings().long_garbage)])
        ),
        case!(
            "pm_add_listener_for_origins",
            "opaque entry",
            PM_ERR_INVALID_ARGUMENT,
            |f| for_origins(f.w, &[c"data:,x".as_ptr()])
        ),
        case!(
            "pm_add_listener_for_origins",
            "1 MiB valid entry",
            PM_OK,
            |f| for_origins(f.w, &[u8p(&strings().long_target)])
        ),
        case!(
            "pm_register_standard_scheme",
            "NULL",
            PM_ERR_NULL_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(ptr::null()))
        ),
        case!(
            "pm_register_standard_scheme",
            "invalid UTF-8",
            PM_ERR_UTF8,
            |f| Ret::Code(pm_register_standard_scheme(strings().bad_utf8.as_ptr()))
        ),
        case!(
            "pm_register_standard_scheme",
            "empty",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(c"".as_ptr()))
        ),
        case!(
            "pm_register_standard_scheme",
            "starts with a digit",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(c"1app".as_ptr()))
        ),
        case!(
            "pm_register_standard_scheme",
            "contains a colon",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(c"app:".as_ptr()))
        ),
        case!(
            "pm_register_standard_scheme",
            "reserved (blob)",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(c"BLOB".as_ptr()))
        ),
        case!(
            "pm_register_standard_scheme",
            "1 MiB of garbage",
            PM_ERR_INVALID_ARGUMENT,
            |f| Ret::Code(pm_register_standard_scheme(strings().long_target.as_ptr()))
        ),
        case!(
            "pm_set_drop_handler",
            "NULL handler (removes it)",
            PM_OK,
            |f| Ret::Code(pm_set_drop_handler(None, ptr::null_mut()))
        ),
    ]
}

#[test]
fn every_function_rejects_bad_input_with_its_documented_code() {
    let destroys_before = DESTROYS.load(Ordering::SeqCst);
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let what = format!("{}({})", case.func, case.input);
        let f = Fx::new();
        prime_last_error(case.expected);
        let ret = (case.call)(&f);
        let code = pm_last_error_code();
        // SAFETY: never NULL.
        let message = unsafe { CStr::from_ptr(pm_last_error()) }
            .to_string_lossy()
            .into_owned();
        let ok = match (&ret, case.expected) {
            (Ret::Code(r), PM_OK) => *r == PM_OK,
            (Ret::Code(r), e) => *r == e && code == e && !message.is_empty(),
            (Ret::Ptr(null), PM_OK) => !null,
            (Ret::Ptr(null), e) => *null && code == e && !message.is_empty(),
            (Ret::Id(id), PM_OK) => *id > 0,
            (Ret::Id(id), e) => *id == 0 && code == e && !message.is_empty(),
            (Ret::Size(n), PM_OK) => *n > 0,
            (Ret::Size(n), e) => *n == 0 && code == e && !message.is_empty(),
        };
        if !ok {
            failures.push(format!(
                "{what}: got {ret:?}, pm_last_error_code() {code:?}, pm_last_error() {message:?}; expected {:?}",
                case.expected
            ));
        }
        f.still_works(&what);
        f.free();
    }
    // The only successful pm_add_listener_full-style adds with count_destroy are the "1 MiB
    // valid entry" allow-list (destroyed when its window was freed); no failed add destroyed.
    let successful_adds_with_destroy = cases
        .iter()
        .filter(|c| c.expected == PM_OK && c.func == "pm_add_listener_for_origins")
        .count();
    assert_eq!(
        DESTROYS.load(Ordering::SeqCst) - destroys_before,
        successful_adds_with_destroy,
        "destroy ran only for listeners that were added"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A 1 MiB host: the `url` crate decides whether it is a valid URL (the URL Standard does not
/// limit host length); the library must agree with it either way, and report the origin of a
/// window it accepts in full through the snprintf-like `pm_window_origin`.
#[test]
fn one_mebibyte_host() {
    let s = strings();
    // SAFETY: valid C string.
    let w = unsafe { pm_window_new(s.long_host_url.as_ptr()) };
    if s.long_host_valid {
        assert!(!w.is_null(), "valid per the url crate: {}", last_error());
        let mut small = [0 as c_char; 16];
        // SAFETY: 16 writable bytes.
        let n = unsafe { pm_window_origin(w, small.as_mut_ptr(), small.len()) };
        assert_eq!(n, "http://".len() + MIB + ".example".len());
        assert_eq!(small[15], 0, "truncated and NUL-terminated");
        let rec = Recorder::new();
        listen(w, &rec);
        let other = window("http://other.example/");
        let r = post(other, w, "hi", s.long_host_url.to_str().unwrap());
        assert_eq!(r, PM_OK);
        assert_eq!(rec.count(), 1);
        assert_eq!(pm_window_free(other), PM_OK);
        assert_eq!(pm_window_free(w), PM_OK);
    } else {
        assert!(w.is_null());
        assert_eq!(pm_last_error_code(), PM_ERR_INVALID_URL);
    }
}

/// Functions without arguments are always usable.
#[test]
fn argument_free_functions() {
    // SAFETY: static NUL-terminated strings.
    let version = unsafe { CStr::from_ptr(pm_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert!(!pm_last_error().is_null());
    // A thread that never failed has an empty last error and PM_OK.
    std::thread::spawn(|| {
        // SAFETY: never NULL.
        assert_eq!(unsafe { CStr::from_ptr(pm_last_error()) }.to_bytes(), b"");
        assert_eq!(pm_last_error_code(), PM_OK);
    })
    .join()
    .unwrap();
}
