//! Conformance: behaviours checked by the web-platform-tests `webmessaging/` directory
//! (repository web-platform-tests/wpt), restated against the C API, plus the URL Standard's
//! origin edge cases. Each case names the WPT file whose behaviour it re-expresses; the code is
//! our own (a browser test needs frames, timers and a harness; here a "frame" is a
//! `pm_window_new_child`, and delivery is synchronous unless a case says otherwise).
//!
//! Where our documented API deliberately differs from a browser, the case says so:
//! - posting on a closed port or channel: closing frees the handle, so the post is
//!   `PM_ERR_INVALID_HANDLE` instead of a silent no-op;
//! - a closed BroadcastChannel receives nothing more, not even already queued messages (WPT's
//!   "Closing a channel in onmessage doesn't cancel already queued events" is a TODO tied to
//!   whatwg/html#1371; API.md chose the other answer).

mod common;

use common::*;
use parking_lot::Mutex;
use postmessage::capi::broadcast::*;
use postmessage::capi::delivery::*;
use postmessage::capi::error::*;
use postmessage::capi::port::*;
use postmessage::capi::post::*;
use postmessage::capi::scheme::pm_register_standard_scheme;
use postmessage::capi::window::*;
use postmessage::{pm_broadcast, pm_message_event, pm_port, pm_result, pm_window};
use std::ffi::{CStr, c_void};
use std::ptr;
use std::sync::Arc;

use pm_result::*;

/// The WPT server's origins, as the `.sub` templates expand them.
const SORIGIN: &str = "http://web-platform.test:8000";
const XORIGIN: &str = "http://www1.web-platform.test:8000";
const PAGE: &str = "http://web-platform.test:8000/webmessaging/test.htm";
const SAME_FRAME: &str = "http://web-platform.test:8000/webmessaging/support/child.htm";
const CROSS_FRAME: &str = "http://www1.web-platform.test:8000/webmessaging/support/child.htm";

// ---------------------------------------------------------------------------------------------
// Helpers

fn channel(owner: *mut pm_window) -> (*mut pm_port, *mut pm_port) {
    let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: two writable slots.
    assert_eq!(unsafe { pm_channel_new(owner, &mut a, &mut b) }, PM_OK);
    assert!(!a.is_null() && !b.is_null());
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

fn port_listen(p: *mut pm_port, rec: &Arc<Recorder>) -> u64 {
    let id = pm_port_add_listener(p, Some(record), rec.ud());
    assert!(id > 0, "pm_port_add_listener: {}", last_error());
    id
}

fn broadcast(w: *mut pm_window, name: &str) -> *mut pm_broadcast {
    // SAFETY: a valid C string.
    let c = unsafe { pm_broadcast_new(w, cstr(name).as_ptr()) };
    assert!(!c.is_null(), "pm_broadcast_new: {}", last_error());
    c
}

fn bpost(c: *mut pm_broadcast, data: &str) -> pm_result {
    // SAFETY: valid buffer.
    unsafe { pm_broadcast_post_message(c, data.as_ptr(), data.len()) }
}

fn assert_failed_with(r: pm_result, expected: pm_result, what: &str) {
    assert_eq!(r, expected, "{what}");
    assert_eq!(
        pm_last_error_code(),
        expected,
        "pm_last_error_code after {what}"
    );
    assert!(!last_error().is_empty(), "pm_last_error after {what}");
}

/// A listener that echoes each message back to its source, addressed to the source's origin
/// (what the WPT helper page `support/ChildWindowPostMessage.htm` does).
unsafe extern "C" fn echo(e: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid event for the call; ud is a live Mutex<Vec<pm_result>>.
    let (e, results) = unsafe { (&*e, &*(ud as *const Mutex<Vec<pm_result>>)) };
    // SAFETY: the event's buffers are valid for the call.
    let r = unsafe { pm_post_message(e.target, e.source, e.data, e.data_len, e.origin) };
    results.lock().push(r);
}

// ---------------------------------------------------------------------------------------------
// window.postMessage: targetOrigin, event.origin, event.source

struct PostCase {
    wpt: &'static str,
    source: &'static str,
    /// The target: a child frame of the source window, or (false) another top-level window.
    target: &'static str,
    target_is_child: bool,
    target_origin: &'static str,
    expected: pm_result,
    /// event.origin as the target's listener sees it (for delivered messages).
    origin_seen: &'static str,
}

const POST_CASES: &[PostCase] = &[
    // A targetOrigin that is neither "*", "/" nor an absolute URL is a SyntaxError.
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "InvalidOrigin",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm (host without scheme)",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "web-platform.test",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm (scheme-relative)",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "//web-platform.test:8000",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm (\"/\" is exact, no trimming)",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: " /",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm (\"*\" is exact, no trimming)",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "*/",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_invalid_targetOrigin.htm (special scheme without host)",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "http:",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    // "/" means the poster's own origin.
    PostCase {
        wpt: "postMessage_solidus_sorigin.htm",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "/",
        expected: PM_OK,
        origin_seen: SORIGIN,
    },
    PostCase {
        wpt: "postMessage_solidus_xorigin.htm",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "/",
        expected: PM_DROPPED,
        origin_seen: "",
    },
    // "*" reaches any origin; event.origin is the poster's.
    PostCase {
        wpt: "postMessage_asterisk_xorigin.sub.htm",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "*",
        expected: PM_OK,
        origin_seen: SORIGIN,
    },
    PostCase {
        wpt: "postMessage_asterisk_xorigin.sub.htm (opaque target)",
        source: PAGE,
        target: "data:text/html,<p>frame",
        target_is_child: true,
        target_origin: "*",
        expected: PM_OK,
        origin_seen: SORIGIN,
    },
    PostCase {
        wpt: "postMessage_origin_mismatch.sub.htm",
        source: PAGE,
        target: SAME_FRAME,
        target_is_child: true,
        target_origin: "http://www.invalid-domain.com",
        expected: PM_DROPPED,
        origin_seen: "",
    },
    // targetOrigin given as a full URL: only its origin counts.
    PostCase {
        wpt: "without-ports/020.html",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "http://www1.web-platform.test:8000/webmessaging/without-ports/020-1.html",
        expected: PM_OK,
        origin_seen: SORIGIN,
    },
    PostCase {
        wpt: "without-ports/020.html (query, fragment and userinfo ignored)",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "http://u:p@WWW1.web-platform.test:8000/other/path?q=1#frag",
        expected: PM_OK,
        origin_seen: SORIGIN,
    },
    PostCase {
        wpt: "without-ports/021.html (same host, other port)",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "http://www1.web-platform.test:8001/",
        expected: PM_DROPPED,
        origin_seen: "",
    },
    PostCase {
        wpt: "without-ports/021.html (same host, other scheme)",
        source: PAGE,
        target: CROSS_FRAME,
        target_is_child: true,
        target_origin: "https://www1.web-platform.test:8000/",
        expected: PM_DROPPED,
        origin_seen: "",
    },
    // event.origin omits a default port.
    PostCase {
        wpt: "event.origin.sub.htm (default http port)",
        source: "http://web-platform.test:80/webmessaging/event.origin.htm",
        target: "http://www.web-platform.test/webmessaging/support/child.htm",
        target_is_child: true,
        target_origin: "http://www.web-platform.test:80",
        expected: PM_OK,
        origin_seen: "http://web-platform.test",
    },
    PostCase {
        wpt: "event.origin.sub.htm (default https port)",
        source: "https://web-platform.test:443/",
        target: "https://www.web-platform.test:443/",
        target_is_child: true,
        target_origin: "https://www.web-platform.test",
        expected: PM_OK,
        origin_seen: "https://web-platform.test",
    },
    PostCase {
        wpt: "event.origin.sub.htm (non-default port kept)",
        source: "https://web-platform.test:8443/",
        target: "https://www.web-platform.test:8443/",
        target_is_child: true,
        target_origin: "https://www.web-platform.test:8443",
        expected: PM_OK,
        origin_seen: "https://web-platform.test:8443",
    },
    PostCase {
        wpt: "event.origin.htm (opaque poster serializes as \"null\")",
        source: "data:text/html,<p>poster",
        target: "http://www.web-platform.test/",
        target_is_child: false,
        target_origin: "http://www.web-platform.test",
        expected: PM_OK,
        origin_seen: "null",
    },
    PostCase {
        wpt: "postMessage_origin_mismatch_xorigin.sub.htm (\"null\" is not an origin)",
        source: PAGE,
        target: "data:text/html,x",
        target_is_child: true,
        target_origin: "null",
        expected: PM_ERR_SYNTAX,
        origin_seen: "",
    },
    PostCase {
        wpt: "postMessage_origin_mismatch_xorigin.sub.htm (opaque targets never match a URL)",
        source: PAGE,
        target: "data:text/html,x",
        target_is_child: true,
        target_origin: "data:text/html,x",
        expected: PM_DROPPED,
        origin_seen: "",
    },
];

#[test]
fn window_post_cases() {
    for case in POST_CASES {
        let source = window(case.source);
        let target = if case.target_is_child {
            child(source, case.target)
        } else {
            window(case.target)
        };
        let rec = Recorder::new();
        listen(target, &rec);
        let r = post(source, target, "message", case.target_origin);
        let what = format!("{}: targetOrigin {:?}", case.wpt, case.target_origin);
        if case.expected == PM_OK {
            assert_eq!(r, PM_OK, "{what}: {}", last_error());
            assert_eq!(rec.count(), 1, "{what}: delivered once");
            let got = rec.last();
            assert_eq!(got.data, b"message", "{what}");
            assert_eq!(got.origin, case.origin_seen, "{what}: event.origin");
            assert_eq!(got.source, source as usize, "{what}: event.source");
            assert_eq!(got.target, target as usize, "{what}: event.target");
            assert_eq!(got.last_event_id, "", "{what}: lastEventId");
            assert!(got.ports.is_empty(), "{what}: no ports");
        } else {
            assert_failed_with(r, case.expected, &what);
            assert_eq!(rec.count(), 0, "{what}: nothing delivered");
        }
        assert_eq!(pm_window_free(source), PM_OK);
        if !case.target_is_child {
            assert_eq!(pm_window_free(target), PM_OK);
        }
    }
}

/// postMessage_origin_mismatch_xorigin.sub.htm: four posts to a cross-origin frame, of which
/// the mismatched ones are dropped while the later matching ones still arrive, in order; the
/// frame echoes each to its source, so the page sees the frame's origin.
#[test]
fn mismatch_drops_and_later_matching_messages_arrive_in_order() {
    for (wpt, frame_url, frame_origin) in [
        (
            "postMessage_origin_mismatch_xorigin.sub.htm",
            CROSS_FRAME,
            XORIGIN,
        ),
        ("postMessage_origin_mismatch.sub.htm", SAME_FRAME, SORIGIN),
    ] {
        let page = window(PAGE);
        let frame = child(page, frame_url);
        let echoes = Mutex::new(Vec::new());
        let ud = &echoes as *const Mutex<Vec<pm_result>> as *mut c_void;
        assert!(pm_add_listener(frame, Some(echo), ud) > 0);
        let page_rec = Recorder::new();
        listen(page, &page_rec);

        let sends = [
            ("#0", frame_origin),
            ("#1", "http://www.invalid-domain.com"),
            (
                "#2",
                if frame_origin == SORIGIN {
                    XORIGIN
                } else {
                    SORIGIN
                },
            ),
            ("#3", "*"),
        ];
        let results: Vec<pm_result> = sends
            .iter()
            .map(|(data, to)| post(page, frame, data, to))
            .collect();
        assert_eq!(results, [PM_OK, PM_DROPPED, PM_DROPPED, PM_OK], "{wpt}");
        assert_eq!(*echoes.lock(), [PM_OK, PM_OK], "{wpt}: echoes delivered");
        let got: Vec<(String, String)> = page_rec
            .got
            .lock()
            .iter()
            .map(|g| {
                (
                    String::from_utf8_lossy(&g.data).into_owned(),
                    g.origin.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("#0".to_string(), frame_origin.to_string()),
                ("#3".to_string(), frame_origin.to_string())
            ],
            "{wpt}"
        );
        assert_eq!(pm_window_free(page), PM_OK);
    }
}

/// The same rule in the HTML standard's own (queued) delivery: a mismatch is decided when the
/// task runs, and it does not hold back the messages behind it.
#[test]
fn mismatch_in_queued_mode_keeps_order() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    assert_eq!(pm_window_set_dispatch_mode(frame, 1), PM_OK);
    let rec = Recorder::new();
    listen(frame, &rec);
    for (data, to) in [
        ("#0", XORIGIN),
        ("#1", "http://www.invalid-domain.com"),
        ("#2", SORIGIN),
        ("#3", "*"),
        ("#4", "http://www1.web-platform.test:8000/path"),
    ] {
        assert_eq!(
            post(page, frame, data, to),
            PM_OK,
            "queued: matched at delivery"
        );
    }
    assert_eq!(pm_window_pending(frame), 5);
    assert_eq!(pm_window_run_pending(frame, usize::MAX), 5);
    assert_eq!(rec.texts(), ["#0", "#3", "#4"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// event.source.htm, event.source.xorigin.sub.htm: event.source is the posting window (the
/// very handle the embedder holds), whose parent is the page; replying through it works.
#[test]
fn event_source_is_the_posting_window() {
    for (wpt, frame_url) in [
        ("event.source.htm", SAME_FRAME),
        ("event.source.xorigin.sub.htm", CROSS_FRAME),
    ] {
        let page = window(PAGE);
        let frame = child(page, frame_url);
        let rec = Recorder::new();
        listen(page, &rec);
        assert_eq!(post(frame, page, "foo", SORIGIN), PM_OK, "{wpt}");
        let got = rec.last();
        assert_eq!(got.source, frame as usize, "{wpt}");
        assert_eq!(got.target, page as usize, "{wpt}");
        assert_eq!(
            pm_window_parent(got.source as *mut pm_window),
            page,
            "{wpt}: e.source.parent === window"
        );
        // The page replies through e.source.
        let frame_rec = Recorder::new();
        listen(frame, &frame_rec);
        assert_eq!(
            post(
                got.target as *mut pm_window,
                got.source as *mut pm_window,
                "bar",
                "*"
            ),
            PM_OK
        );
        assert_eq!(frame_rec.last().origin, SORIGIN, "{wpt}");
        assert_eq!(pm_window_free(page), PM_OK);
    }
}

/// event.data.htm, postMessage_ArrayBuffer.htm: the data arrives byte for byte, including
/// empty data and embedded NULs, and the receiver's copy does not change with the sender's
/// buffer afterwards.
#[test]
fn empty_and_binary_data() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    let rec = Recorder::new();
    listen(frame, &rec);
    let payloads: [&[u8]; 5] = [
        b"",
        b"\0",
        &[0, 1, 2, 3, 0, 255, 254, 0],
        "\u{1F600} non-ASCII".as_bytes(),
        &[0xff, 0xfe, 0xc3, 0x28],
    ];
    for data in payloads {
        // SAFETY: valid buffer.
        let r = unsafe { pm_post_message(page, frame, data.as_ptr(), data.len(), c"*".as_ptr()) };
        assert_eq!(r, PM_OK);
        assert_eq!(rec.last().data, data);
    }
    // NULL data with length 0 is the empty message.
    // SAFETY: NULL is allowed with length 0.
    let r = unsafe { pm_post_message(page, frame, ptr::null(), 0, c"*".as_ptr()) };
    assert_eq!(r, PM_OK);
    assert!(rec.last().data.is_empty());
    // Queued delivery copies the data at post time.
    assert_eq!(pm_window_set_dispatch_mode(frame, 1), PM_OK);
    let mut buf = *b"before";
    // SAFETY: valid buffer.
    let r = unsafe { pm_post_message(page, frame, buf.as_ptr(), buf.len(), c"*".as_ptr()) };
    assert_eq!(r, PM_OK);
    buf.copy_from_slice(b"after!");
    assert_eq!(pm_window_run_pending(frame, 1), 1);
    assert_eq!(rec.last().data, b"before");
    assert_eq!(pm_window_free(page), PM_OK);
}

// ---------------------------------------------------------------------------------------------
// MessageChannel

/// Channel_MessagePort_initial_disabled.htm, MessagePort_initial_disabled.htm,
/// Channel_MessagePort_onmessage_start.htm: a port's queue starts disabled; the messages wait
/// and arrive in order once the port is started (our API: by its first listener).
#[test]
fn message_port_is_initially_disabled() {
    let page = window(PAGE);
    let (port1, port2) = channel(page);
    assert_eq!(port_post(port1, "ping", &[]), PM_OK);
    assert_eq!(port_post(port1, "pong", &[]), PM_OK);
    let rec = Recorder::new();
    // Nothing has been delivered anywhere; starting the port delivers both, in order, inside the
    // add call (SYNC mode).
    port_listen(port2, &rec);
    assert_eq!(rec.texts(), ["ping", "pong"]);
    let got = rec.last();
    assert_eq!(got.origin, "", "port events carry no origin");
    assert_eq!(got.source, 0, "port events carry no source");
    assert_eq!(got.target, 0);
    // Once started, messages arrive at once.
    assert_eq!(port_post(port1, "late", &[]), PM_OK);
    assert_eq!(rec.texts(), ["ping", "pong", "late"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// postMessage_dup_transfer_objects.htm: the same port twice in a transfer list is a
/// DataCloneError and nothing is transferred or posted.
#[test]
fn duplicate_transfer_is_a_data_clone_error() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    let rec = Recorder::new();
    listen(frame, &rec);
    let (port1, port2) = channel(page);
    let r = post_transfer(page, frame, "", "*", &[port1, port1]);
    assert_failed_with(r, PM_ERR_DATA_CLONE, "window post with [port1, port1]");
    assert_eq!(rec.count(), 0);
    // Through a port, too.
    let (other1, _other2) = channel(page);
    let r = port_post(other1, "", &[port2, port2]);
    assert_failed_with(r, PM_ERR_DATA_CLONE, "port post with [port2, port2]");
    // Nothing was transferred: both ports still work.
    let prec = Recorder::new();
    port_listen(port2, &prec);
    assert_eq!(port_post(port1, "still entangled", &[]), PM_OK);
    assert_eq!(prec.texts(), ["still entangled"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// Channel_postMessage_clone_port_error.htm: a port in its own message's transfer list is a
/// DataCloneError (so, in our API, is its entangled partner).
#[test]
fn cloning_a_port_into_its_own_message_fails() {
    let page = window(PAGE);
    let (port1, port2) = channel(page);
    let rec = Recorder::new();
    port_listen(port2, &rec);
    assert_failed_with(
        port_post(port1, "ports", &[port1]),
        PM_ERR_DATA_CLONE,
        "port1.postMessage(_, [port1])",
    );
    assert_failed_with(
        port_post(port1, "ports", &[port2]),
        PM_ERR_DATA_CLONE,
        "port1.postMessage(_, [port2])",
    );
    assert_eq!(rec.count(), 0);
    assert_eq!(port_post(port1, "fine", &[]), PM_OK);
    assert_eq!(rec.texts(), ["fine"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// event.ports.htm, Transferred_objects_unusable.htm: transferred ports arrive in order as new
/// handles owned by the receiver; the sender's handles are dead.
#[test]
fn transferred_ports_arrive_in_order_and_old_handles_die() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    let rec = Recorder::new();
    listen(frame, &rec);
    let (a1, a2) = channel(page);
    let (b1, b2) = channel(page);
    assert_eq!(
        post_transfer(page, frame, "ports", XORIGIN, &[a1, b1]),
        PM_OK
    );
    let got = rec.last();
    assert_eq!(got.ports.len(), 2);
    for old in [a1, b1] {
        assert_failed_with(
            port_post(old, "x", &[]),
            PM_ERR_INVALID_HANDLE,
            "old handle",
        );
    }
    // The received ports are entangled with a2 and b2, in order.
    let ra = Recorder::new();
    let rb = Recorder::new();
    port_listen(a2, &ra);
    port_listen(b2, &rb);
    assert_eq!(port_post(got.ports[0] as *mut pm_port, "to a2", &[]), PM_OK);
    assert_eq!(port_post(got.ports[1] as *mut pm_port, "to b2", &[]), PM_OK);
    assert_eq!(ra.texts(), ["to a2"]);
    assert_eq!(rb.texts(), ["to b2"]);
    // A dropped window post still consumes its transfer list.
    let (c1, c2) = channel(page);
    assert_eq!(
        post_transfer(page, frame, "lost", "https://elsewhere.example", &[c1]),
        PM_DROPPED
    );
    assert_failed_with(
        port_post(c1, "x", &[]),
        PM_ERR_INVALID_HANDLE,
        "consumed port",
    );
    assert_eq!(port_post(c2, "to a closed partner", &[]), PM_DROPPED);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// message-channels/close.html.
#[test]
fn closed_ports() {
    let page = window(PAGE);

    // "Message sent to closed port should not arrive."
    let (port1, port2) = channel(page);
    let rec = Recorder::new();
    port_listen(port1, &rec);
    assert_eq!(pm_port_close(port1), PM_OK);
    assert_failed_with(
        port_post(port2, "TEST", &[]),
        PM_DROPPED,
        "post to a closed partner",
    );
    assert_eq!(rec.count(), 0);

    // "Message sent from closed port should not arrive." (Ours: the handle is gone.)
    let (port1, port2) = channel(page);
    let rec = Recorder::new();
    port_listen(port1, &rec);
    assert_eq!(pm_port_close(port2), PM_OK);
    assert_failed_with(
        port_post(port2, "TEST", &[]),
        PM_ERR_INVALID_HANDLE,
        "closed sender",
    );
    assert_failed_with(pm_port_close(port2), PM_ERR_INVALID_HANDLE, "double close");
    assert_eq!(rec.count(), 0);

    // "Message sent to closed port from transferred port should not arrive."
    let (c_port1, c_port2) = channel(page);
    let rec = Recorder::new();
    port_listen(c_port1, &rec);
    assert_eq!(pm_port_close(c_port1), PM_OK);
    let (c2_port1, c2_port2) = channel(page);
    let forwarded = Arc::new(Mutex::new(Vec::<pm_result>::new()));
    unsafe extern "C" fn forward(e: *const pm_message_event, ud: *mut c_void) {
        // SAFETY: valid event; ud is a live Mutex<Vec<pm_result>>.
        let (e, out) = unsafe { (&*e, &*(ud as *const Mutex<Vec<pm_result>>)) };
        assert_eq!(e.ports_len, 1);
        // SAFETY: one entry.
        let p = unsafe { *e.ports };
        out.lock().push(port_post(p, "TESTMSG", &[]));
    }
    let ud = Arc::as_ptr(&forwarded) as *mut c_void;
    assert!(pm_port_add_listener(c2_port1, Some(forward), ud) > 0);
    assert_eq!(port_post(c2_port2, "TEST", &[c_port2]), PM_OK);
    assert_eq!(*forwarded.lock(), [PM_DROPPED]);
    assert_eq!(rec.count(), 0);

    // "Message sent from transferred closed port should not arrive." (Ours: a closed port in a
    // transfer list is a DataCloneError.)
    let (c_port1, c_port2) = channel(page);
    assert_eq!(pm_port_close(c_port2), PM_OK);
    let (_c2_port1, c2_port2) = channel(page);
    assert_failed_with(
        port_post(c2_port2, "TEST", &[c_port2]),
        PM_ERR_DATA_CLONE,
        "closed port in transfer list",
    );
    let _ = c_port1;

    // "Inflight messages should be delivered even when sending port is closed afterwards."
    let (port1, port2) = channel(page);
    assert_eq!(port_post(port2, "TEST", &[]), PM_OK);
    assert_eq!(pm_port_close(port2), PM_OK);
    let rec = Recorder::new();
    port_listen(port1, &rec);
    assert_eq!(
        rec.texts(),
        ["TEST"],
        "in-flight message survives the sender's close"
    );

    assert_eq!(pm_window_free(page), PM_OK);
}

// ---------------------------------------------------------------------------------------------
// BroadcastChannel (broadcastchannel/basics.html)

struct Tagged {
    tag: &'static str,
    log: Arc<Mutex<Vec<(&'static str, String)>>>,
}

unsafe extern "C" fn tagged(e: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid event; ud is a live Tagged.
    let (e, t) = unsafe { (&*e, &*(ud as *const Tagged)) };
    // SAFETY: data_len bytes.
    let data = unsafe { std::slice::from_raw_parts(e.data, e.data_len) };
    t.log
        .lock()
        .push((t.tag, String::from_utf8_lossy(data).into_owned()));
}

#[test]
fn broadcast_event_fields() {
    // "postMessage results in correct event"
    let page = window(PAGE);
    let c1 = broadcast(page, "eventType");
    let c2 = broadcast(page, "eventType");
    let rec = Recorder::new();
    assert!(pm_broadcast_add_listener(c2, Some(record), rec.ud()) > 0);
    assert_eq!(bpost(c1, "hello world"), PM_OK);
    let got = rec.last();
    assert_eq!(got.data, b"hello world");
    assert_eq!(got.origin, SORIGIN, "e.origin == location.origin");
    assert_eq!(got.source, 0, "e.source is null");
    assert_eq!(got.target, 0);
    assert_eq!(rec.count(), 1, "never delivered to the sender");
    assert_eq!(pm_window_free(page), PM_OK);
}

#[test]
fn broadcast_delivery_in_creation_order() {
    // "messages are delivered in port creation order"
    let page = window(PAGE);
    let frame = child(page, SAME_FRAME); // same origin, other document
    let log = Arc::new(Mutex::new(Vec::new()));
    let c1 = broadcast(page, "order");
    let c2 = broadcast(frame, "order");
    let c3 = broadcast(page, "order");
    let tags: Vec<Box<Tagged>> = ["c1", "c2", "c3"]
        .into_iter()
        .map(|tag| {
            Box::new(Tagged {
                tag,
                log: log.clone(),
            })
        })
        .collect();
    for (c, t) in [c1, c2, c3].into_iter().zip(&tags) {
        let ud = &**t as *const Tagged as *mut c_void;
        assert!(pm_broadcast_add_listener(c, Some(tagged), ud) > 0);
    }
    assert_eq!(bpost(c1, "from c1"), PM_OK);
    assert_eq!(bpost(c3, "from c3"), PM_OK);
    assert_eq!(bpost(c2, "done"), PM_OK);
    let expected: Vec<(&str, String)> = [
        ("c2", "from c1"),
        ("c3", "from c1"),
        ("c1", "from c3"),
        ("c2", "from c3"),
        ("c1", "done"),
        ("c3", "done"),
    ]
    .into_iter()
    .map(|(t, d)| (t, d.to_string()))
    .collect();
    assert_eq!(*log.lock(), expected);
    assert_eq!(pm_window_free(page), PM_OK);
}

#[test]
fn broadcast_closed_channels() {
    let page = window(PAGE);
    // "messages aren't delivered to a closed port"
    let c1 = broadcast(page, "closed");
    let c2 = broadcast(page, "closed");
    let c3 = broadcast(page, "closed");
    let r2 = Recorder::new();
    let r3 = Recorder::new();
    assert!(pm_broadcast_add_listener(c2, Some(record), r2.ud()) > 0);
    assert!(pm_broadcast_add_listener(c3, Some(record), r3.ud()) > 0);
    assert_eq!(pm_broadcast_close(c2), PM_OK);
    assert_eq!(bpost(c1, "test"), PM_OK);
    assert_eq!(r2.count(), 0);
    assert_eq!(r3.texts(), ["test"]);

    // "cannot post from a closed channel" (ours: the handle is gone)
    let d1 = broadcast(page, "closed-post");
    let d2 = broadcast(page, "closed-post");
    let d3 = broadcast(page, "closed-post");
    let rd2 = Recorder::new();
    assert!(pm_broadcast_add_listener(d2, Some(record), rd2.ud()) > 0);
    assert_eq!(pm_broadcast_close(d1), PM_OK);
    assert_failed_with(
        bpost(d1, "nope"),
        PM_ERR_INVALID_HANDLE,
        "post on a closed channel",
    );
    assert_eq!(bpost(d3, "yup"), PM_OK);
    assert_eq!(rd2.texts(), ["yup"]);

    assert_eq!(pm_window_free(page), PM_OK);
}

struct CreateInOnmessage {
    window: *mut pm_window,
    c1: *mut pm_broadcast,
    c2: *mut pm_broadcast,
    c3: Mutex<*mut pm_broadcast>,
    c3_rec: Arc<Recorder>,
    c2_seen: Mutex<Vec<String>>,
}

unsafe extern "C" fn c2_listener(e: *const pm_message_event, ud: *mut c_void) {
    // SAFETY: valid event; ud is a live CreateInOnmessage.
    let (e, s) = unsafe { (&*e, &*(ud as *const CreateInOnmessage)) };
    // SAFETY: data_len bytes.
    let data = unsafe { std::slice::from_raw_parts(e.data, e.data_len) };
    s.c2_seen
        .lock()
        .push(String::from_utf8_lossy(data).into_owned());
    assert_eq!(pm_broadcast_close(s.c2), PM_OK);
    let c3 = broadcast(s.window, "create-in-onmessage");
    assert!(pm_broadcast_add_listener(c3, Some(record), s.c3_rec.ud()) > 0);
    *s.c3.lock() = c3;
    assert_eq!(bpost(s.c1, "done"), PM_OK);
}

#[test]
fn broadcast_close_and_create_during_delivery() {
    // "closing and creating channels during message delivery works correctly"
    let page = window(PAGE);
    let state = Box::new(CreateInOnmessage {
        window: page,
        c1: broadcast(page, "create-in-onmessage"),
        c2: broadcast(page, "create-in-onmessage"),
        c3: Mutex::new(ptr::null_mut()),
        c3_rec: Recorder::new(),
        c2_seen: Mutex::new(Vec::new()),
    });
    let ud = &*state as *const CreateInOnmessage as *mut c_void;
    assert!(pm_broadcast_add_listener(state.c2, Some(c2_listener), ud) > 0);
    assert_eq!(bpost(state.c1, "first"), PM_OK);
    assert_failed_with(
        bpost(state.c2, "second"),
        PM_ERR_INVALID_HANDLE,
        "c2 closed itself",
    );
    assert_eq!(*state.c2_seen.lock(), ["first"]);
    assert_eq!(state.c3_rec.texts(), ["done"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

#[test]
fn broadcast_is_scoped_by_name_and_origin() {
    let page = window(PAGE);
    let same = window("http://web-platform.test:8000/elsewhere");
    let cross = window(CROSS_FRAME);
    let opaque_a = window("data:text/html,a");
    let opaque_b = window("data:text/html,a");
    let sender = broadcast(page, "scope");
    let recs: Vec<(Arc<Recorder>, usize)> = [
        (same, "scope", 1),
        (cross, "scope", 0),
        (page, "other-name", 0),
        (opaque_a, "scope", 0),
    ]
    .into_iter()
    .map(|(w, name, expected)| {
        let rec = Recorder::new();
        let c = broadcast(w, name);
        assert!(pm_broadcast_add_listener(c, Some(record), rec.ud()) > 0);
        (rec, expected)
    })
    .collect();
    assert_eq!(bpost(sender, "hi"), PM_OK);
    for (i, (rec, expected)) in recs.iter().enumerate() {
        assert_eq!(rec.count(), *expected, "receiver {i}");
    }
    // Two opaque origins never share a channel, even with the same URL.
    let oa = broadcast(opaque_a, "opaque");
    let ob = broadcast(opaque_b, "opaque");
    let rb = Recorder::new();
    assert!(pm_broadcast_add_listener(ob, Some(record), rb.ud()) > 0);
    assert_eq!(bpost(oa, "x"), PM_OK);
    assert_eq!(rb.count(), 0);
    for w in [page, same, cross, opaque_a, opaque_b] {
        assert_eq!(pm_window_free(w), PM_OK);
    }
}

// ---------------------------------------------------------------------------------------------
// URL Standard origins

/// (URL, its origin's ASCII serialization).
const ORIGINS: &[(&str, &str)] = &[
    // Default ports are omitted; others, including 0, are kept.
    ("http://example.com:80/", "http://example.com"),
    ("https://example.com:443/", "https://example.com"),
    ("ws://example.com:80/", "ws://example.com"),
    ("wss://example.com:443/", "wss://example.com"),
    ("ftp://example.com:21/", "ftp://example.com"),
    ("http://example.com:443/", "http://example.com:443"),
    ("https://example.com:80/", "https://example.com:80"),
    ("http://example.com:0/", "http://example.com:0"),
    ("http://example.com:08080/", "http://example.com:8080"),
    // Scheme and host case-folded.
    ("HTTP://EXAMPLE.COM/", "http://example.com"),
    // A trailing dot is part of the host.
    ("http://example.com./", "http://example.com."),
    // Userinfo is not part of the origin.
    ("http://user:pass@example.com/", "http://example.com"),
    ("http://user@example.com:8080/", "http://example.com:8080"),
    // IDN hosts become punycode (after IDNA mapping, so case folds too).
    ("http://bücher.example/", "http://xn--bcher-kva.example"),
    ("http://BÜCHER.example/", "http://xn--bcher-kva.example"),
    ("https://例え.jp/", "https://xn--r8jz45g.jp"),
    (
        "http://xn--bcher-kva.example/",
        "http://xn--bcher-kva.example",
    ),
    // IPv4 in its shorthand forms becomes dotted decimal.
    ("http://0x7f.1/", "http://127.0.0.1"),
    ("http://127.1/", "http://127.0.0.1"),
    ("http://2130706433/", "http://127.0.0.1"),
    ("http://0177.0.0.1/", "http://127.0.0.1"),
    ("http://0x7F000001:8080/", "http://127.0.0.1:8080"),
    // IPv6 is compressed, lowercased and bracketed.
    ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]"),
    (
        "http://[2001:DB8:0:0:1:0:0:1]:8080/",
        "http://[2001:db8::1:0:0:1]:8080",
    ),
    ("http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]"),
    // blob: has its inner URL's origin only for http(s) inner URLs.
    ("blob:https://a.example/uuid", "https://a.example"),
    ("blob:http://a.example:8080/uuid", "http://a.example:8080"),
    ("blob:file:///tmp/uuid", "null"),
    ("blob:ftp://a.example/uuid", "null"),
    ("blob:ws://a.example/uuid", "null"),
    ("blob:blob:https://a.example/uuid", "null"),
    ("blob:not-a-url", "null"),
    // Opaque: file, data, about, javascript and unregistered custom schemes.
    ("file:///etc/hosts", "null"),
    ("file://server/share/x", "null"),
    ("data:text/html,<p>hi", "null"),
    ("about:blank", "null"),
    ("javascript:void(0)", "null"),
    ("app://ui/index.html", "null"),
    ("web+custom:payload", "null"),
    ("chrome-extension://abcdef/page.html", "null"),
];

#[test]
fn url_standard_origin_serialization() {
    for &(url, expected) in ORIGINS {
        let w = window(url);
        assert_eq!(origin_of(w), expected, "origin of {url}");
        assert_eq!(pm_window_free(w), PM_OK);
    }
}

/// What the serialization means for matching: a tuple origin is matched by its serialization
/// and by any URL with that origin; an opaque one by no URL at all.
#[test]
fn url_standard_origin_matching() {
    let poster = window("https://poster.example/");
    for &(url, expected) in ORIGINS {
        let target = window(url);
        let rec = Recorder::new();
        listen(target, &rec);
        if expected == "null" {
            assert_eq!(
                post(poster, target, "m", url),
                PM_DROPPED,
                "{url} is opaque"
            );
            assert_eq!(post(poster, target, "m", "*"), PM_OK, "\"*\" reaches {url}");
            assert_eq!(rec.count(), 1);
        } else {
            assert_eq!(
                post(poster, target, "m", expected),
                PM_OK,
                "{url} by {expected}"
            );
            assert_eq!(post(poster, target, "m", url), PM_OK, "{url} by itself");
            assert_eq!(rec.count(), 2);
            // A window created from the serialization has the same origin.
            let again = window(expected);
            assert_eq!(origin_of(again), expected);
            assert_eq!(
                post(again, target, "m", "/"),
                PM_OK,
                "\"/\" from {expected}"
            );
            assert_eq!(pm_window_free(again), PM_OK);
        }
        assert_eq!(pm_window_free(target), PM_OK);
    }
    assert_eq!(pm_window_free(poster), PM_OK);
}

/// Pairs of URLs whose origins differ although they look alike.
#[test]
fn url_standard_distinct_origins() {
    let pairs = [
        ("http://example.com./", "http://example.com"),
        ("http://example.com:0/", "http://example.com"),
        ("http://example.com/", "https://example.com"),
        ("http://example.com/", "ws://example.com"),
        ("http://example.com:8080/", "http://example.com"),
        ("http://www.example.com/", "http://example.com"),
        ("http://[::1]/", "http://127.0.0.1"),
        ("blob:ftp://a.example/x", "ftp://a.example"),
        ("blob:file:///x", "file:///x"),
    ];
    let poster = window("https://poster.example/");
    for (url, target_origin) in pairs {
        let w = window(url);
        assert_eq!(
            post(poster, w, "m", target_origin),
            PM_DROPPED,
            "{url} vs {target_origin}"
        );
        assert_eq!(pm_window_free(w), PM_OK);
    }
    assert_eq!(pm_window_free(poster), PM_OK);
}

/// Opaque origins compare by identity: two windows at the same data: URL differ; a window is
/// same-origin with itself ("/" to itself works); an about:blank frame shares its creator's
/// opaque origin while a top-level about:blank gets a new one.
#[test]
fn opaque_origins_by_identity() {
    for url in [
        "data:text/html,x",
        "file:///tmp/x",
        "about:blank",
        "app://ui/",
    ] {
        let a = window(url);
        let b = window(url);
        let rec = Recorder::new();
        listen(a, &rec);
        assert_eq!(post(a, a, "self", "/"), PM_OK, "{url}: same opaque origin");
        assert_eq!(
            post(b, a, "other", "/"),
            PM_DROPPED,
            "{url}: another opaque origin"
        );
        assert_eq!(post(b, a, "star", "*"), PM_OK);
        assert_eq!(rec.last().origin, "null");
        let frame = child(a, "about:blank");
        assert_eq!(
            post(a, frame, "inherited", "/"),
            PM_OK,
            "{url}: about:blank frame"
        );
        assert_eq!(post(b, frame, "inherited", "/"), PM_DROPPED);
        assert_eq!(pm_window_free(a), PM_OK);
        assert_eq!(pm_window_free(b), PM_OK);
    }
}

/// Custom schemes are opaque until registered; afterwards new windows (only) get tuple origins
/// parsed like http's, with no default port.
#[test]
fn custom_schemes_opaque_unless_registered() {
    let before = window("conformance-app://ui/index.html");
    assert_eq!(origin_of(before), "null");
    // SAFETY: a valid C string.
    assert_eq!(
        unsafe { pm_register_standard_scheme(c"Conformance-App".as_ptr()) },
        PM_OK
    );
    assert_eq!(
        origin_of(before),
        "null",
        "earlier windows keep their origin"
    );
    let after = window("conformance-app://UI:8080/x");
    assert_eq!(origin_of(after), "conformance-app://ui:8080");
    let rec = Recorder::new();
    listen(after, &rec);
    assert_eq!(
        post(before, after, "m", "conformance-app://ui:8080/y"),
        PM_OK
    );
    assert_eq!(post(before, after, "m", "conformance-app://ui"), PM_DROPPED);
    assert_eq!(rec.last().origin, "null");
    // Reserved schemes cannot be registered.
    for reserved in [c"file", c"blob", c"data", c"about", c"javascript"] {
        // SAFETY: a valid C string.
        let r = unsafe { pm_register_standard_scheme(reserved.as_ptr()) };
        assert_failed_with(r, PM_ERR_INVALID_ARGUMENT, "register a reserved scheme");
    }
    assert_eq!(pm_window_free(before), PM_OK);
    assert_eq!(pm_window_free(after), PM_OK);
}

/// The event's strings are NUL-terminated C strings that a listener can read.
#[test]
fn event_strings_are_c_strings() {
    unsafe extern "C" fn check(e: *const pm_message_event, ud: *mut c_void) {
        // SAFETY: valid event; ud is a live Mutex<Option<String>>.
        let (e, out) = unsafe { (&*e, &*(ud as *const Mutex<Option<String>>)) };
        // SAFETY: NUL-terminated per the contract.
        let origin = unsafe { CStr::from_ptr(e.origin) }
            .to_str()
            .unwrap()
            .to_string();
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(e.last_event_id) }.to_bytes(), b"");
        *out.lock() = Some(origin);
    }
    let a = window("http://[::1]:8080/");
    let b = window("http://bücher.example/");
    let out = Mutex::new(None::<String>);
    assert!(pm_add_listener(b, Some(check), &out as *const _ as *mut c_void) > 0);
    assert_eq!(post(a, b, "m", "http://xn--bcher-kva.example"), PM_OK);
    assert_eq!(out.lock().as_deref(), Some("http://[::1]:8080"));
    pm_window_free(a);
    pm_window_free(b);
}

// ---------------------------------------------------------------------------------------------
// Neighbouring rules from SPEC-NOTES.md / API.md

/// The URL parser removes tabs and newlines inside a targetOrigin and strips leading and
/// trailing spaces and C0 controls; "*" and "/" are matched exactly before that.
#[test]
fn target_origin_whitespace_rules() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    let rec = Recorder::new();
    listen(frame, &rec);
    for (t, expected) in [
        ("http://www1.web-\tplatform.test:8000", PM_OK),
        ("http://www1.web-platform.test:80\n00", PM_OK),
        ("\u{1}  http://www1.web-platform.test:8000/ \u{1f}", PM_OK),
        ("\t*", PM_ERR_SYNTAX),
        ("/\n", PM_ERR_SYNTAX),
    ] {
        assert_eq!(post(page, frame, "m", t), expected, "targetOrigin {t:?}");
    }
    assert_eq!(rec.count(), 3);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// Navigating, even a frame, to about:blank gives a new opaque origin (only a frame *created*
/// at about:blank inherits its creator's origin).
#[test]
fn navigating_to_about_blank_gives_a_new_opaque_origin() {
    let page = window(PAGE);
    let frame = child(page, SAME_FRAME);
    let rec = Recorder::new();
    // SAFETY: a valid C string.
    assert_eq!(
        unsafe { pm_window_navigate(frame, c"about:blank".as_ptr()) },
        PM_OK
    );
    assert_eq!(origin_of(frame), "null");
    listen(frame, &rec);
    assert_eq!(post(page, frame, "m", "/"), PM_DROPPED);
    assert_eq!(post(page, frame, "m", SORIGIN), PM_DROPPED);
    assert_eq!(post(page, frame, "m", "*"), PM_OK);
    assert_eq!(rec.count(), 1);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// A bad entry anywhere in a transfer list fails the whole post and transfers nothing.
#[test]
fn a_bad_transfer_entry_transfers_nothing() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    let rec = Recorder::new();
    listen(frame, &rec);
    let (good1, good2) = channel(page);
    let (closed, _partner) = channel(page);
    assert_eq!(pm_port_close(closed), PM_OK);
    for (list, expected) in [
        (vec![good1, closed], PM_ERR_DATA_CLONE),
        (vec![good1, 0x1234 as *mut pm_port], PM_ERR_DATA_CLONE),
        (vec![good1, page.cast::<pm_port>()], PM_ERR_DATA_CLONE),
        (vec![good1, ptr::null_mut()], PM_ERR_NULL_ARGUMENT),
    ] {
        assert_failed_with(
            post_transfer(page, frame, "m", "*", &list),
            expected,
            "transfer list with a bad entry",
        );
    }
    assert_eq!(rec.count(), 0);
    let prec = Recorder::new();
    port_listen(good2, &prec);
    assert_eq!(port_post(good1, "still mine", &[]), PM_OK);
    assert_eq!(prec.texts(), ["still mine"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// A closed BroadcastChannel receives nothing more, not even messages already queued for it
/// (API.md; see the module comment for WPT's open question).
#[test]
fn closed_broadcast_channel_drops_its_queued_messages() {
    let page = window(PAGE);
    let other = window("http://web-platform.test:8000/other");
    assert_eq!(pm_window_set_dispatch_mode(other, 1), PM_OK);
    let sender = broadcast(page, "queued");
    let receiver = broadcast(other, "queued");
    let rec = Recorder::new();
    assert!(pm_broadcast_add_listener(receiver, Some(record), rec.ud()) > 0);
    assert_eq!(bpost(sender, "one"), PM_OK);
    assert_eq!(pm_window_pending(other), 1);
    assert_eq!(pm_broadcast_close(receiver), PM_OK);
    pm_window_run_pending(other, usize::MAX);
    assert_eq!(pm_window_pending(other), 0);
    assert_eq!(rec.count(), 0);
    assert_eq!(pm_window_free(page), PM_OK);
    assert_eq!(pm_window_free(other), PM_OK);
}

/// Port messages follow the receiving window's mode: a port transferred into a QUEUED window
/// gets its messages through that window's queue, in order.
#[test]
fn port_in_a_queued_window() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    assert_eq!(pm_window_set_dispatch_mode(frame, 1), PM_OK);
    let rec = Recorder::new();
    listen(frame, &rec);
    let (p1, p2) = channel(page);
    assert_eq!(post_transfer(page, frame, "port", XORIGIN, &[p1]), PM_OK);
    assert_eq!(pm_window_run_pending(frame, usize::MAX), 1);
    let received = rec.last().ports[0] as *mut pm_port;
    let prec = Recorder::new();
    port_listen(received, &prec);
    for m in ["a", "b", "c"] {
        assert_eq!(port_post(p2, m, &[]), PM_OK);
    }
    assert_eq!(prec.count(), 0, "queued, not dispatched inside the post");
    assert_eq!(pm_window_run_pending(frame, usize::MAX), 3);
    assert_eq!(prec.texts(), ["a", "b", "c"]);
    assert_eq!(pm_window_free(page), PM_OK);
}

/// The queued counterpart of "a dropped post still consumes its transfer list": ports in a
/// message dropped at delivery (origin mismatch, or the target navigated) are closed, so their
/// partners' posts are PM_DROPPED.
#[test]
fn ports_in_a_message_dropped_at_delivery_are_closed() {
    let page = window(PAGE);
    let frame = child(page, CROSS_FRAME);
    assert_eq!(pm_window_set_dispatch_mode(frame, 1), PM_OK);
    let (p1, p2) = channel(page);
    assert_eq!(
        post_transfer(page, frame, "m", "http://elsewhere.example", &[p1]),
        PM_OK
    );
    assert_eq!(pm_window_run_pending(frame, usize::MAX), 1);
    assert_eq!(port_post(p2, "x", &[]), PM_DROPPED, "origin mismatch");
    let (q1, q2) = channel(page);
    assert_eq!(post_transfer(page, frame, "m", "*", &[q1]), PM_OK);
    // SAFETY: a valid C string.
    assert_eq!(
        unsafe { pm_window_navigate(frame, c"http://www1.web-platform.test:8000/2".as_ptr()) },
        PM_OK
    );
    assert_eq!(port_post(q2, "x", &[]), PM_DROPPED, "navigated away");
    assert_eq!(pm_window_free(page), PM_OK);
}
