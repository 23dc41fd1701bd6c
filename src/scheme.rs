//! Custom standard schemes: embedders serving their UI from e.g. `app://` register the scheme so
//! its URLs get tuple origins like http's, instead of the opaque origins the URL standard gives
//! unknown schemes.

use crate::error::Error;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use url::{Host, Url};

static SCHEMES: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Bumped on every registration so per-thread caches of parsed targetOrigins can be dropped.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Schemes that already have tuple origins (registering them is a no-op).
const TUPLE_SCHEMES: [&str; 5] = ["http", "https", "ws", "wss", "ftp"];
/// Schemes whose origin the standard defines otherwise; they cannot be registered.
const RESERVED: [&str; 5] = ["file", "blob", "data", "about", "javascript"];

/// Registration generation (changes whenever a scheme is registered).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Registers `scheme` (case-insensitive) as a standard scheme with tuple origins.
pub fn register(scheme: &str) -> Result<(), Error> {
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return Err(Error::invalid_argument(format!(
            "{scheme:?} is not a valid URL scheme name"
        )));
    }
    let scheme = scheme.to_ascii_lowercase();
    if RESERVED.contains(&scheme.as_str()) {
        return Err(Error::invalid_argument(format!(
            "the {scheme:?} scheme's origin is fixed by the URL standard and cannot be registered"
        )));
    }
    if TUPLE_SCHEMES.contains(&scheme.as_str()) {
        return Ok(());
    }
    let mut schemes = SCHEMES.write();
    if !schemes.contains(&scheme) {
        schemes.push(scheme);
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// The tuple origin serialization of `url` if its scheme is registered and it has a host:
/// the host parsed like a special URL's (lowercased, IDNA-mapped, IPv4 normalized), the port
/// kept as written (registered schemes have no default port).
pub fn standard_origin(url: &Url) -> Option<String> {
    if !SCHEMES.read().iter().any(|s| s == url.scheme()) {
        return None;
    }
    let host = Host::parse(url.host_str()?).ok()?;
    if matches!(&host, Host::Domain(d) if d.is_empty()) {
        return None;
    }
    Some(match url.port() {
        Some(port) => format!("{}://{}:{}", url.scheme(), host, port),
        None => format!("{}://{}", url.scheme(), host),
    })
}
