//! The core's error type: a Rust error kind and a message, no C codes (the edge maps kinds to
//! `pm_result` in one place).

use std::borrow::Cow;

/// What kind of failure an [`Error`] is. The edge maps each to its C result code (in one
/// function, `ffi::code_of`); the core never sees C codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A required argument was missing (NULL from C).
    NullArgument,
    /// A window, port, channel or listener id that was freed, closed, transferred or never issued.
    InvalidHandle,
    /// targetOrigin is not "*", "/" or an absolute URL (the DOM's SyntaxError).
    Syntax,
    /// A window URL that does not parse as an absolute URL.
    InvalidUrl,
    /// A string argument is not valid UTF-8.
    Utf8,
    /// Nested dispatch on this thread would exceed the depth limit.
    Depth,
    /// A panic was caught at the edge.
    Panic,
    /// A bad transfer list (the DOM's DataCloneError).
    DataClone,
    /// Queuing would exceed the window's queue limits.
    QueueFull,
    /// An enum value or other argument out of its range.
    InvalidArgument,
    /// A record from another process claims a sender origin that is not its source's.
    SourceOrigin,
    /// Closed (reserved: only an embedder's callback reports it, e.g. a remote `send`).
    Closed,
}

/// A failure: its kind and a human-readable message (which C reads with `pm_last_error()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: Cow<'static, str>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn null(what: &'static str) -> Self {
        Error::new(ErrorKind::NullArgument, format!("{what} must not be NULL"))
    }

    pub fn invalid_handle(what: &'static str) -> Self {
        Error::new(
            ErrorKind::InvalidHandle,
            format!("{what} is not a live handle (freed, closed, transferred or never issued)"),
        )
    }

    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn depth() -> Self {
        Error::new(
            ErrorKind::Depth,
            "nested dispatch on this thread would exceed PM_MAX_DISPATCH_DEPTH",
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}
