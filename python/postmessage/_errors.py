"""Result codes and the exceptions they become."""

from __future__ import annotations

import enum


class Result(enum.IntEnum):
    """``pm_result``: the numeric values are part of the C ABI and never change."""

    OK = 0
    DROPPED = 1
    ERR_NULL_ARGUMENT = 2
    ERR_INVALID_HANDLE = 3
    ERR_SYNTAX = 4
    ERR_INVALID_URL = 5
    ERR_UTF8 = 6
    ERR_DEPTH = 7
    ERR_PANIC = 8
    ERR_DATA_CLONE = 9
    ERR_CLOSED = 10
    ERR_QUEUE_FULL = 11
    ERR_INVALID_ARGUMENT = 12
    ERR_SOURCE_ORIGIN = 13


class Error(Exception):
    """A call into libpostmessage failed.

    ``code`` is the ``Result`` (``pm_result``) and ``message`` the library's description of the
    failure (``pm_last_error()``); ``str(error)`` is the message.
    """

    #: The code this class stands for (a subclass per code; ``Error`` itself for unknown codes).
    default_code: Result | None = None

    def __init__(self, message: str, code: int | None = None):
        if code is None:
            code = self.default_code
        try:
            code = Result(code)
        except ValueError:  # a code newer than this binding: keep the number
            pass
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.message, self.code))


class NullArgumentError(Error, ValueError):
    """``PM_ERR_NULL_ARGUMENT``: a required pointer was NULL (only reachable through raw calls)."""

    default_code = Result.ERR_NULL_ARGUMENT


class InvalidHandleError(Error):
    """``PM_ERR_INVALID_HANDLE``: a closed or freed window, or an unknown listener id."""

    default_code = Result.ERR_INVALID_HANDLE


class TargetOriginSyntaxError(Error, ValueError):
    """``PM_ERR_SYNTAX``: targetOrigin is not "*", "/" or an absolute URL (the DOM's SyntaxError)."""

    default_code = Result.ERR_SYNTAX


class InvalidURLError(Error, ValueError):
    """``PM_ERR_INVALID_URL``: a window URL that is not an absolute URL."""

    default_code = Result.ERR_INVALID_URL


class UTF8Error(Error, ValueError):
    """``PM_ERR_UTF8``: a string argument is not valid UTF-8."""

    default_code = Result.ERR_UTF8


class DepthError(Error, RecursionError):
    """``PM_ERR_DEPTH``: nested dispatch on this thread would exceed ``MAX_DISPATCH_DEPTH``."""

    default_code = Result.ERR_DEPTH


class PanicError(Error):
    """``PM_ERR_PANIC``: the library caught an internal panic; its state is still consistent."""

    default_code = Result.ERR_PANIC


class DataCloneError(Error, ValueError):
    """``PM_ERR_DATA_CLONE``: a bad transfer list (the DOM's DataCloneError)."""

    default_code = Result.ERR_DATA_CLONE


class ClosedError(Error):
    """``PM_ERR_CLOSED``: reserved by the library (closed objects answer ``PM_ERR_INVALID_HANDLE``)."""

    default_code = Result.ERR_CLOSED


class QueueFullError(Error):
    """``PM_ERR_QUEUE_FULL``: queuing would exceed the window's queue limits; nothing was queued."""

    default_code = Result.ERR_QUEUE_FULL


class InvalidArgumentError(Error, ValueError):
    """``PM_ERR_INVALID_ARGUMENT``: an argument out of its range (also raised by this binding for
    strings with an embedded NUL, which C cannot receive)."""

    default_code = Result.ERR_INVALID_ARGUMENT


class SourceOriginError(Error):
    """``PM_ERR_SOURCE_ORIGIN``: a record from another process claims a sender origin that its
    source proxy does not have (a compromised or confused sender); nothing was delivered."""

    default_code = Result.ERR_SOURCE_ORIGIN


ERROR_CLASSES = {
    cls.default_code: cls
    for cls in (
        NullArgumentError,
        InvalidHandleError,
        TargetOriginSyntaxError,
        InvalidURLError,
        UTF8Error,
        DepthError,
        PanicError,
        DataCloneError,
        ClosedError,
        QueueFullError,
        InvalidArgumentError,
        SourceOriginError,
    )
}


def error_for(code: int, message: str) -> Error:
    """The exception for a failed call's code and message."""
    return ERROR_CLASSES.get(code, Error)(message or "postmessage call failed", code)
