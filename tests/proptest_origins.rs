//! Property tests of origins against the `url` crate as the oracle.
//!
//! For generated URLs (http, https, ws, wss, ftp, file, data and unregistered custom schemes;
//! hosts with uppercase, IDN, trailing dots, IPv4 in its shorthand forms, IPv6; ports including
//! the defaults, 0 and out-of-range ones; userinfo, paths, queries and fragments):
//! - `pm_window_new` accepts exactly the URLs `Url::parse` accepts;
//! - `pm_window_origin` equals `Url::origin().ascii_serialization()` for tuple origins and is
//!   "null" for opaque ones, and a window created from a tuple serialization has that origin;
//! - the verdict of a post from a window at A to a window at B with targetOrigin T (`PM_OK` or
//!   `PM_DROPPED`, or `PM_ERR_SYNTAX` for a T that does not parse) is what comparing
//!   `Url::origin()`s says: tuple origins by value; an opaque origin matches nothing but "*"
//!   (A and B are separate windows, so "/" never makes two opaque origins equal).
//!
//! No scheme is registered in this test binary, so custom schemes stay opaque.

mod common;

use common::*;
use postmessage::capi::error::*;
use postmessage::capi::window::*;
use postmessage::{pm_result, pm_window};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::ffi::CString;
use url::Url;

use pm_result::*;

// ---------------------------------------------------------------------------------------------
// Generators

fn scheme() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "http",
        "https",
        "ws",
        "wss",
        "ftp",
        "file",
        "data",
        "app",
        "x-custom+v1",
        "HTTP",
        "Https",
    ])
}

fn ascii_label() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,6}"
}

fn idn_label() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "bücher",
        "BÜCHER",
        "münchen",
        "пример",
        "ПРИМЕР",
        "例え",
        "straße",
        "faß",
        "xn--bcher-kva",
        "ÅÄÖ",
        "ﬁ",
    ])
    .prop_map(str::to_string)
}

fn domain() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![3 => ascii_label(), 1 => idn_label()], 1..4),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(labels, trailing_dot)| {
            let mut d = labels.join(".");
            if trailing_dot {
                d.push('.');
            }
            d
        })
}

fn ipv4() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        (any::<u8>(), 0u32..(1 << 24)).prop_map(|(a, rest)| format!("{a}.{rest}")),
        (any::<u8>(), any::<u8>(), any::<u16>()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        any::<u32>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| format!("0x{n:X}")),
        any::<[u8; 4]>().prop_map(|b| format!("0{:o}.0x{:x}.{}.0{:o}", b[0], b[1], b[2], b[3])),
        // Out of range: not an IPv4 address, and not a valid domain either.
        Just("256.0.0.1".to_string()),
        Just("1.2.3.4.5".to_string()),
    ]
}

fn ipv6() -> impl Strategy<Value = String> {
    (any::<[u16; 8]>(), 0usize..4, 0usize..8, any::<[u8; 4]>()).prop_map(
        |(groups, form, at, v4)| {
            // Make zero runs likely so compression matters.
            let g: Vec<u16> = groups
                .iter()
                .enumerate()
                .map(|(i, &x)| if (i + at) % 3 == 0 { 0 } else { x })
                .collect();
            let hex = |v: &[u16], upper: bool| {
                v.iter()
                    .map(|x| {
                        if upper {
                            format!("{x:X}")
                        } else {
                            format!("{x:x}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(":")
            };
            let inner = match form {
                0 => hex(&g, false),
                1 => hex(&g, true),
                2 => {
                    let cut = at.min(6);
                    format!("{}::{}", hex(&g[..cut], false), hex(&g[cut + 1..], false))
                        .replace(":::", "::")
                }
                _ => format!("::ffff:{}.{}.{}.{}", v4[0], v4[1], v4[2], v4[3]),
            };
            format!("[{inner}]")
        },
    )
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![4 => domain(), 2 => ipv4(), 2 => ipv6(), 1 => Just("localhost".to_string())]
}

fn port() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(0)),
        1 => Just(Some(80)),
        1 => Just(Some(443)),
        1 => Just(Some(21)),
        1 => Just(Some(8080)),
        1 => (0u32..70_000).prop_map(Some),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        "(/[a-zA-Z0-9._~-]{0,5}){0,3}",
        prop::option::of("[a-z0-9=&]{0,6}"),
        prop::option::of("[a-z0-9]{0,4}"),
    )
        .prop_map(|(p, q, f)| {
            let mut s = if p.is_empty() { "/".to_string() } else { p };
            if let Some(q) = q {
                s.push('?');
                s.push_str(&q);
            }
            if let Some(f) = f {
                s.push('#');
                s.push_str(&f);
            }
            s
        })
}

fn url_string() -> impl Strategy<Value = String> {
    (
        scheme(),
        host(),
        port(),
        path(),
        prop::option::weighted(0.1, "[a-z]{1,4}(:[a-z0-9]{0,4})?@"),
    )
        .prop_map(|(scheme, host, port, path, userinfo)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            match scheme {
                "data" => format!("data:text/plain,{}", path.trim_start_matches('/')),
                "file" => format!(
                    "file://{}{path}",
                    if port.is_empty() { &host[..] } else { "" }
                ),
                _ => format!(
                    "{scheme}://{}{host}{port}{path}",
                    userinfo.unwrap_or_default()
                ),
            }
        })
}

// ---------------------------------------------------------------------------------------------
// Oracle

/// The serialization the URL Standard gives `url`'s origin ("null" when opaque). No scheme in
/// the generator is blob:, where the library (rightly) differs from the crate.
fn oracle_serialization(url: &Url) -> String {
    match url.origin() {
        o @ url::Origin::Tuple(..) => o.ascii_serialization(),
        url::Origin::Opaque(_) => "null".to_string(),
    }
}

/// Whether a message addressed with targetOrigin `t` reaches a document at `b`, posted from
/// a document at `a` in another window.
fn oracle_verdict(a: &Url, b: &Url, t: &str) -> pm_result {
    let same = |x: &Url, y: &Url| match (x.origin(), y.origin()) {
        (o1 @ url::Origin::Tuple(..), o2 @ url::Origin::Tuple(..)) => o1 == o2,
        _ => false,
    };
    match t {
        "*" => PM_OK,
        "/" => {
            if same(a, b) {
                PM_OK
            } else {
                PM_DROPPED
            }
        }
        _ => match Url::parse(t) {
            Err(_) => PM_ERR_SYNTAX,
            Ok(t) if same(&t, b) => PM_OK,
            Ok(_) => PM_DROPPED,
        },
    }
}

fn try_window(url: &str) -> *mut pm_window {
    let c = CString::new(url).unwrap();
    // SAFETY: a valid C string.
    unsafe { pm_window_new(c.as_ptr()) }
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// How a property's targetOrigin is chosen from the generated URLs.
#[derive(Clone, Copy, Debug)]
enum TargetChoice {
    Star,
    Slash,
    BOrigin,
    BWithOtherPath,
    AUrl,
    Random,
}

fn target_choice() -> impl Strategy<Value = TargetChoice> {
    prop_oneof![
        1 => Just(TargetChoice::Star),
        2 => Just(TargetChoice::Slash),
        3 => Just(TargetChoice::BOrigin),
        2 => Just(TargetChoice::BWithOtherPath),
        1 => Just(TargetChoice::AUrl),
        2 => Just(TargetChoice::Random),
    ]
}

proptest! {
    #![proptest_config(config(800))]

    /// Window creation accepts what the URL parser accepts, and reports the origin it gives.
    #[test]
    fn window_origin_matches_the_url_crate(url in url_string()) {
        let w = try_window(&url);
        match Url::parse(&url) {
            Err(e) => {
                prop_assert!(w.is_null(), "{url:?} accepted, but the url crate says {e}");
                prop_assert_eq!(pm_last_error_code(), PM_ERR_INVALID_URL);
                prop_assert!(!last_error().is_empty());
            }
            Ok(parsed) => {
                prop_assert!(!w.is_null(), "{url:?} rejected: {}", last_error());
                let expected = oracle_serialization(&parsed);
                let got = origin_of(w);
                prop_assert_eq!(&got, &expected, "origin of {:?}", url);
                if expected != "null" {
                    // Round trip: the serialization parses to the same origin.
                    let again = try_window(&expected);
                    prop_assert!(!again.is_null(), "serialization {expected:?} rejected");
                    prop_assert_eq!(origin_of(again), expected.clone());
                    // ... and that window is same-origin with the first ("/" matches).
                    let rec = Recorder::new();
                    listen(w, &rec);
                    prop_assert_eq!(post(again, w, "rt", "/"), PM_OK);
                    prop_assert_eq!(post(again, w, "rt", &expected), PM_OK);
                    prop_assert_eq!(rec.count(), 2);
                    prop_assert_eq!(pm_window_free(again), PM_OK);
                }
                prop_assert_eq!(pm_window_free(w), PM_OK);
            }
        }
    }

    /// The post verdict agrees with comparing `Url::origin()`s.
    #[test]
    fn post_verdict_matches_the_url_crate(
        a in url_string(),
        b in url_string(),
        choice in target_choice(),
        random in url_string(),
        other_path in path(),
    ) {
        let (Ok(a_url), Ok(b_url)) = (Url::parse(&a), Url::parse(&b)) else {
            // Parse agreement is the property above.
            return Ok(());
        };
        let t = match choice {
            TargetChoice::Star => "*".to_string(),
            TargetChoice::Slash => "/".to_string(),
            TargetChoice::BOrigin => match oracle_serialization(&b_url) {
                s if s == "null" => b.clone(),
                s => s,
            },
            TargetChoice::BWithOtherPath => {
                let mut u = b_url.clone();
                u.set_path(&other_path);
                u.to_string()
            }
            TargetChoice::AUrl => a.clone(),
            TargetChoice::Random => random,
        };
        let expected = oracle_verdict(&a_url, &b_url, &t);
        let wa = try_window(&a);
        let wb = try_window(&b);
        prop_assert!(!wa.is_null() && !wb.is_null());
        let rec = Recorder::new();
        listen(wb, &rec);
        let got = post(wa, wb, "m", &t);
        prop_assert_eq!(got, expected, "{:?} -> {:?} with targetOrigin {:?}", a, b, t);
        prop_assert_eq!(rec.count(), usize::from(expected == PM_OK));
        if expected == PM_OK {
            prop_assert_eq!(rec.last().origin, oracle_serialization(&a_url));
        } else {
            prop_assert_eq!(pm_last_error_code(), expected);
        }
        prop_assert_eq!(pm_window_free(wa), PM_OK);
        prop_assert_eq!(pm_window_free(wb), PM_OK);
    }
}
