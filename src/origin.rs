//! Origins (HTML standard, URL standard) and targetOrigin parsing and matching.
//!
//! An origin is computed once from a URL and stored: tuple origins compare by their ASCII
//! serialization (which is canonical: scheme and host normalized, default port omitted), opaque
//! origins compare by identity, never by the string "null". This avoids the `url` crate trap where
//! `Url::origin()` makes a fresh opaque origin on each call.

use crate::error::{Error, ErrorKind};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::{CStr, c_char};
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use url::Url;

/// An HTML origin.
#[derive(Clone, Debug)]
pub enum Origin {
    /// A tuple origin, held by its NUL-terminated ASCII serialization.
    Tuple(Arc<TupleOrigin>),
    /// An opaque origin: equal only to itself (same id). Serializes as "null".
    Opaque(u64),
}

/// A tuple origin's ASCII serialization ("scheme://host[:port]"), stored with a trailing NUL so
/// it can be handed to C without copying.
#[derive(Debug)]
pub struct TupleOrigin {
    serialized_nul: Box<str>,
}

impl TupleOrigin {
    #[inline]
    pub fn key(&self) -> OriginKey<'_> {
        OriginKey::Tuple(self, PhantomData)
    }

    /// The serialization as a NUL-terminated C string.
    #[inline]
    pub fn as_c_ptr(&self) -> *const c_char {
        self.serialized_nul.as_ptr().cast()
    }
}

/// Live tuple origins by serialization (weak: an origin no one uses is freed).
struct Interner {
    map: HashMap<Box<str>, Weak<TupleOrigin>>,
    /// Dead entries are swept when the map doubles past this.
    sweep_at: usize,
}

impl Interner {
    fn insert(&mut self, key: Box<str>, origin: Weak<TupleOrigin>) {
        self.map.insert(key, origin);
        if self.map.len() >= self.sweep_at {
            self.map.retain(|_, w| w.strong_count() > 0);
            self.sweep_at = (self.map.len() * 2).max(64);
        }
    }
}

static INTERNER: LazyLock<Mutex<Interner>> = LazyLock::new(|| {
    Mutex::new(Interner {
        map: HashMap::new(),
        sweep_at: 64,
    })
});

static NEXT_OPAQUE: AtomicU64 = AtomicU64::new(1);
const NULL_ORIGIN: &CStr = c"null";

impl Origin {
    /// A new opaque origin, distinct from every other.
    pub fn new_opaque() -> Origin {
        Origin::Opaque(NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed))
    }

    /// The tuple origin with this serialization. Tuple origins are interned: while one is alive,
    /// every origin with the same serialization is the same `Arc`, so "same origin" is a
    /// pointer comparison on the post path.
    fn tuple(serialized: String) -> Origin {
        let mut interner = INTERNER.lock();
        if let Some(existing) = interner
            .map
            .get(serialized.as_str())
            .and_then(Weak::upgrade)
        {
            return Origin::Tuple(existing);
        }
        let mut s = serialized.clone();
        s.push('\0');
        let origin = Arc::new(TupleOrigin {
            serialized_nul: s.into_boxed_str(),
        });
        interner.insert(serialized.into_boxed_str(), Arc::downgrade(&origin));
        Origin::Tuple(origin)
    }

    /// The origin of a parsed URL, per the URL standard.
    ///
    /// Differs from `Url::origin()` where the crate differs from the standard: a `blob:` URL has
    /// its inner URL's origin only when that inner URL is http(s) (file is opaque anyway), and
    /// schemes registered with `pm_register_standard_scheme` get tuple origins.
    pub fn of_url(url: &Url) -> Origin {
        match url.scheme() {
            "blob" => match Url::parse(url.path()) {
                Ok(inner) if matches!(inner.scheme(), "http" | "https") => Origin::of_url(&inner),
                _ => Origin::new_opaque(),
            },
            _ => match url.origin() {
                url::Origin::Tuple(..) => Origin::tuple(url.origin().ascii_serialization()),
                url::Origin::Opaque(_) => match crate::scheme::standard_origin(url) {
                    Some(serialized) => Origin::tuple(serialized),
                    None => Origin::new_opaque(),
                },
            },
        }
    }

    /// Parses `url` as an absolute URL and returns its origin.
    pub fn parse(url: &str) -> Result<Origin, Error> {
        Url::parse(url)
            .map(|u| Origin::of_url(&u))
            .map_err(|e| Error::new(ErrorKind::InvalidUrl, format!("invalid URL {url:?}: {e}")))
    }

    pub fn is_opaque(&self) -> bool {
        matches!(self, Origin::Opaque(_))
    }

    /// HTML "same origin": tuples by value, opaque origins by identity.
    pub fn same_origin(&self, other: &Origin) -> bool {
        self.key() == other.key()
    }

    /// What "same origin" compares.
    #[inline]
    pub fn key(&self) -> OriginKey<'_> {
        match self {
            Origin::Tuple(t) => t.key(),
            Origin::Opaque(id) => OriginKey::Opaque(*id),
        }
    }

    /// The ASCII serialization: "scheme://host[:port]", or "null" when opaque.
    pub fn serialization(&self) -> &str {
        match self {
            Origin::Tuple(t) => &t.serialized_nul[..t.serialized_nul.len() - 1],
            Origin::Opaque(_) => "null",
        }
    }

    /// The serialization as a NUL-terminated C string, valid while `self` lives.
    pub fn as_c_ptr(&self) -> *const c_char {
        match self {
            Origin::Tuple(t) => t.as_c_ptr(),
            Origin::Opaque(_) => NULL_ORIGIN.as_ptr(),
        }
    }
}

/// What "same origin" compares: a tuple origin's interned identity (equal serializations, which
/// are canonical, share one object), or an opaque origin's id. Equal keys mean same origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKey<'a> {
    /// Interned: equal serializations are the same object.
    Tuple(*const TupleOrigin, PhantomData<&'a TupleOrigin>),
    Opaque(u64),
}

impl OriginKey<'_> {
    /// The identity as a number: the interned object's address (even), or the opaque id
    /// tagged odd. Equal ids mean same origin.
    #[inline(always)]
    pub fn id(self) -> u64 {
        match self {
            OriginKey::Tuple(t, _) => t as usize as u64,
            OriginKey::Opaque(id) => id << 1 | 1,
        }
    }

    /// The origin this key is of (a new reference to a tuple origin's object).
    #[inline]
    pub fn to_origin(self) -> Origin {
        match self {
            OriginKey::Opaque(id) => Origin::Opaque(id),
            // SAFETY: every `TupleOrigin` is made in an `Arc` (`Origin::tuple`), and the key
            // borrows it for its lifetime, so that `Arc` is alive: taking another strong
            // reference through its own pointer is sound.
            OriginKey::Tuple(t, _) => Origin::Tuple(unsafe {
                Arc::increment_strong_count(t);
                Arc::from_raw(t)
            }),
        }
    }
}

/// The parsed `targetOrigin` argument of postMessage.
#[derive(Clone, Debug)]
pub enum TargetOrigin {
    /// `"*"`: any origin.
    Any,
    /// `"/"`: the source window's origin.
    SameAsSource,
    /// An absolute URL's origin (path, query and fragment ignored).
    Exact(Origin),
}

impl TargetOrigin {
    /// Parses per the HTML "window post message steps": `"*"` and `"/"` match exactly (before any
    /// trimming); anything else goes through the URL parser with no base, and failure is a
    /// SyntaxError. A URL with an opaque origin parses but can never match.
    pub fn parse(s: &str) -> Result<TargetOrigin, Error> {
        match s {
            "*" => Ok(TargetOrigin::Any),
            "/" => Ok(TargetOrigin::SameAsSource),
            _ => match Url::parse(s) {
                Ok(url) => Ok(TargetOrigin::Exact(Origin::of_url(&url))),
                Err(e) => {
                    let mut message =
                        format!("targetOrigin {s:?} is not \"*\", \"/\" or an absolute URL: {e}");
                    if let Some(hint) = opaque_host_port_hint(s) {
                        message = format!("{message}; {hint}");
                    }
                    Err(Error::new(ErrorKind::Syntax, message))
                }
            },
        }
    }

    /// Parses a targetOrigin argument from C; invalid UTF-8 is `PM_ERR_UTF8`.
    pub fn parse_bytes(bytes: &[u8]) -> Result<TargetOrigin, Error> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::new(ErrorKind::Utf8, "targetOrigin is not valid UTF-8"))?;
        TargetOrigin::parse(text)
    }

    /// Whether a message from origin `source` may be delivered to a document with origin
    /// `target`.
    #[inline]
    pub fn matches(&self, source: OriginKey<'_>, target: OriginKey<'_>) -> bool {
        match self {
            TargetOrigin::Any => true,
            TargetOrigin::SameAsSource => source == target,
            TargetOrigin::Exact(origin) => origin.key() == target,
        }
    }
}

const CACHE_CAPACITY: usize = 256;

/// A small, fast hasher for short keys (FxHash's multiply-rotate), used only for the
/// per-thread targetOrigin cache whose keys are not attacker-chosen in bulk.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A per-thread cache of parsed targetOrigins, so a string seen before is never re-parsed: the
/// last few strings are compared directly (no hashing), the rest looked up in a bounded map.
/// Cleared when a standard scheme is registered, since that changes what strings mean.
#[derive(Default)]
pub struct TargetOriginCache {
    generation: u64,
    recent: [Option<(Box<[u8]>, TargetOrigin)>; RECENT],
    next_recent: usize,
    map: HashMap<Box<[u8]>, TargetOrigin, BuildHasherDefault<FxHasher>>,
}

const RECENT: usize = 4;

/// Byte-string equality compiled inline: targetOrigins are short, and a library call to `bcmp`
/// costs more than the comparison itself. Strings of 8 to 16 bytes (most origins) take two
/// overlapping 8-byte loads from each side.
#[inline(always)]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    if n < 8 {
        return a == b;
    }
    if n <= 16 {
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last 8 bytes (overlapping what was compared when n is not a multiple of 8).
    word(a, n - 8) == word(b, n - 8)
}

impl TargetOriginCache {
    pub const fn new() -> Self {
        TargetOriginCache {
            generation: 0,
            recent: [const { None }; RECENT],
            next_recent: 0,
            map: HashMap::with_hasher(BuildHasherDefault::new()),
        }
    }

    /// Runs `f` on `bytes`' parse if it is `"*"`, `"/"` or one of the recently parsed strings.
    #[inline]
    pub fn with_recent<R>(
        &mut self,
        bytes: &[u8],
        f: impl FnOnce(&TargetOrigin) -> R,
    ) -> Option<R> {
        match bytes {
            b"*" => return Some(f(&TargetOrigin::Any)),
            b"/" => return Some(f(&TargetOrigin::SameAsSource)),
            _ => {}
        }
        if self.generation != crate::scheme::generation() {
            return None;
        }
        let (_, parsed) = self
            .recent
            .iter()
            .flatten()
            .find(|(k, _)| short_eq(k, bytes))?;
        Some(f(parsed))
    }

    /// Parses `bytes` (a targetOrigin from C) and runs `f` on the result, without cloning or
    /// allocating when the string was seen before. Invalid UTF-8 is `PM_ERR_UTF8`.
    #[inline]
    pub fn with_parsed<R>(
        &mut self,
        bytes: &[u8],
        f: impl FnOnce(&TargetOrigin) -> R,
    ) -> Result<R, Error> {
        match bytes {
            b"*" => return Ok(f(&TargetOrigin::Any)),
            b"/" => return Ok(f(&TargetOrigin::SameAsSource)),
            _ => {}
        }
        let generation = crate::scheme::generation();
        if self.generation != generation {
            *self = TargetOriginCache::new();
            self.generation = generation;
        }
        if let Some((_, parsed)) = self
            .recent
            .iter()
            .flatten()
            .find(|(k, _)| short_eq(k, bytes))
        {
            return Ok(f(parsed));
        }
        self.with_parsed_slow(bytes, f)
    }

    #[cold]
    fn with_parsed_slow<R>(
        &mut self,
        bytes: &[u8],
        f: impl FnOnce(&TargetOrigin) -> R,
    ) -> Result<R, Error> {
        let parsed = match self.map.get(bytes) {
            Some(hit) => hit.clone(),
            None => {
                let parsed = TargetOrigin::parse_bytes(bytes)?;
                if self.map.len() >= CACHE_CAPACITY {
                    self.map.clear();
                }
                self.map.insert(bytes.into(), parsed.clone());
                parsed
            }
        };
        let result = f(&parsed);
        self.recent[self.next_recent] = Some((bytes.into(), parsed));
        self.next_recent = (self.next_recent + 1) % RECENT;
        Ok(result)
    }
}

/// A hint for the common targetOrigin mistake of leaving out the scheme: `"localhost:8080"`
/// parses as a URL of scheme `localhost:` (an opaque origin, which matches no window), and
/// `"127.0.0.1:8080"` does not parse at all (a scheme cannot start with a digit). For a
/// targetOrigin shaped `host:port` (optionally followed by a path, query or fragment) that
/// parses to an opaque origin or not at all, returns a sentence suggesting `http://host:port`;
/// `None` for anything else. Only error and drop messages use it.
pub fn opaque_host_port_hint(target_origin: &str) -> Option<String> {
    let s = target_origin.trim_matches(|c: char| c <= ' ');
    let (host, rest) = if s.starts_with('[') {
        let close = s.find(']')?;
        let (host, rest) = s.split_at(close + 1);
        let inner = &host[1..close];
        let ipv6 = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        (ipv6.then_some(host)?, rest.strip_prefix(':')?)
    } else {
        s.split_once(':')?
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    let port_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let port_ok = (1..=5).contains(&port_len)
        && rest[..port_len].parse::<u32>().is_ok_and(|p| p <= 65535)
        && matches!(
            rest.as_bytes().get(port_len),
            None | Some(b'/' | b'?' | b'#')
        );
    // Schemes whose URLs never have a host: "mailto:1234" is not a forgotten "http://".
    const NO_HOST_SCHEMES: [&str; 7] = [
        "about",
        "blob",
        "data",
        "file",
        "javascript",
        "mailto",
        "tel",
    ];
    if !host_ok || !port_ok || NO_HOST_SCHEMES.iter().any(|n| host.eq_ignore_ascii_case(n)) {
        return None;
    }
    let suggestion = format!("http://{host}:{}", &rest[..port_len]);
    match Url::parse(s) {
        Ok(url) if !Origin::of_url(&url).is_opaque() => None,
        Ok(url) => Some(format!(
            "{target_origin:?} is a URL of scheme \"{}:\" with an opaque origin, which matches no \
             window; did you mean \"{suggestion}\"?",
            url.scheme()
        )),
        Err(_) => Some(format!(
            "a targetOrigin needs a scheme; did you mean \"{suggestion}\"?"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(url: &str) -> String {
        Origin::parse(url).unwrap().serialization().to_string()
    }

    #[test]
    fn serialization_follows_the_url_standard() {
        assert_eq!(ser("http://127.0.0.1/page"), "http://127.0.0.1");
        assert_eq!(ser("HTTP://LocalHost:80/x?y#z"), "http://localhost");
        assert_eq!(ser("https://example.com:443"), "https://example.com");
        assert_eq!(ser("https://example.com:8443"), "https://example.com:8443");
        assert_eq!(ser("http://example.com.:80/"), "http://example.com.");
        assert_eq!(ser("http://user:pw@example.com/"), "http://example.com");
        assert_eq!(ser("http://example.com:0/"), "http://example.com:0");
        assert_eq!(ser("http://bücher.de/"), "http://xn--bcher-kva.de");
        assert_eq!(ser("http://0x7f.1/"), "http://127.0.0.1");
        assert_eq!(ser("http://[0:0::1]:8080/"), "http://[::1]:8080");
        assert_eq!(ser("ws://x:80"), "ws://x");
        assert_eq!(ser("blob:https://a.example/uuid"), "https://a.example");
        assert_eq!(ser("blob:ftp://a.example/uuid"), "null");
        assert_eq!(ser("file:///etc/passwd"), "null");
        assert_eq!(ser("data:text/plain,hi"), "null");
        assert_eq!(ser("about:blank"), "null");
        assert_eq!(ser("app://ui/index.html"), "null");
    }

    #[test]
    fn opaque_origins_compare_by_identity() {
        let a = Origin::parse("data:,x").unwrap();
        let b = Origin::parse("data:,x").unwrap();
        assert!(a.same_origin(&a));
        assert!(a.same_origin(&a.clone()));
        assert!(!a.same_origin(&b));
        assert_eq!(a.serialization(), b.serialization());
    }

    #[test]
    fn tuple_origins_compare_by_value() {
        let a = Origin::parse("http://localhost/a").unwrap();
        let b = Origin::parse("http://LOCALHOST:80/b").unwrap();
        let c = Origin::parse("https://localhost/").unwrap();
        assert!(a.same_origin(&b));
        assert!(!a.same_origin(&c));
    }

    #[test]
    fn invalid_urls_are_rejected() {
        for bad in [
            "",
            "localhost",
            "//host",
            "null",
            "http://",
            "http://exa mple.com",
        ] {
            assert_eq!(
                Origin::parse(bad).unwrap_err().kind,
                ErrorKind::InvalidUrl,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn target_origin_syntax() {
        for bad in [
            "",
            "null",
            "localhost",
            "//host",
            " *",
            "* ",
            "/ ",
            "http://",
        ] {
            assert_eq!(
                TargetOrigin::parse(bad).unwrap_err().kind,
                ErrorKind::Syntax,
                "{bad:?}"
            );
        }
        assert!(matches!(TargetOrigin::parse("*"), Ok(TargetOrigin::Any)));
        assert!(matches!(
            TargetOrigin::parse("/"),
            Ok(TargetOrigin::SameAsSource)
        ));
        assert!(TargetOrigin::parse(" http://x ").is_ok());
        assert!(TargetOrigin::parse("data:,x").is_ok());
    }

    #[test]
    fn host_port_without_a_scheme_gets_a_hint() {
        let hint = |s: &str| opaque_host_port_hint(s);
        // Parses with scheme "localhost:": an opaque origin.
        assert_eq!(
            hint("localhost:8080").as_deref(),
            Some(
                "\"localhost:8080\" is a URL of scheme \"localhost:\" with an opaque origin, \
                 which matches no window; did you mean \"http://localhost:8080\"?"
            )
        );
        assert!(
            hint("Example.COM:443/app?x#y")
                .unwrap()
                .ends_with("did you mean \"http://Example.COM:443\"?")
        );
        assert!(
            hint(" my-host.local:3000 ")
                .unwrap()
                .contains("\"http://my-host.local:3000\"")
        );
        // Does not parse at all (a scheme starts with a letter): a syntax error, same advice.
        assert_eq!(
            hint("127.0.0.1:8080").as_deref(),
            Some("a targetOrigin needs a scheme; did you mean \"http://127.0.0.1:8080\"?")
        );
        assert!(
            hint("[::1]:8080")
                .unwrap()
                .contains("\"http://[::1]:8080\"")
        );
        // Not the host:port mistake.
        for fine in [
            "http://localhost:8080",
            "https://a.example",
            "*",
            "/",
            "localhost",
            "localhost:",
            "localhost:http",
            "localhost:123456",
            "localhost:70000",
            "localhost:80x",
            "data:1234",
            "mailto:1234",
            "a b:80",
            "[::1]",
            "[zz]:80",
            "",
        ] {
            assert_eq!(hint(fine), None, "{fine:?}");
        }
    }

    #[test]
    fn target_origin_matching() {
        let src = Origin::parse("http://127.0.0.1/").unwrap();
        let dst = Origin::parse("http://localhost/").unwrap();
        let m = |t: &str, s: &Origin, d: &Origin| {
            TargetOrigin::parse(t).unwrap().matches(s.key(), d.key())
        };
        assert!(m("*", &src, &dst));
        assert!(m("http://localhost", &src, &dst));
        assert!(m("http://localhost:80/some/path?q#f", &src, &dst));
        assert!(!m("https://localhost", &src, &dst));
        assert!(!m("http://localhost:8080", &src, &dst));
        assert!(!m("/", &src, &dst));
        assert!(m("/", &src, &src));
        let opaque = Origin::parse("data:,x").unwrap();
        assert!(!m("data:,x", &src, &opaque));
        assert!(m("/", &opaque, &opaque));
        assert!(!m("/", &opaque, &Origin::parse("data:,x").unwrap()));
        assert!(m("*", &opaque, &opaque));
    }

    #[test]
    fn cache_gives_same_answers_as_parse() {
        let mut cache = TargetOriginCache::new();
        for t in [
            "*",
            "/",
            "http://a.example/x",
            "http://a.example/x",
            "nope",
            "data:,x",
        ] {
            let direct = TargetOrigin::parse(t).map_err(|e| e.kind);
            let cached = cache
                .with_parsed(t.as_bytes(), |p| p.clone())
                .map_err(|e| e.kind);
            assert_eq!(direct.is_ok(), cached.is_ok(), "{t}");
            assert_eq!(direct.err(), cached.err(), "{t}");
        }
        assert_eq!(
            cache.with_parsed(b"http://\xff", |_| ()).unwrap_err().kind,
            ErrorKind::Utf8
        );
    }
}
