"""Remote windows: documents that live in another process (site isolation).

``RemoteWindow`` is the Python face of ``pm_remote_window_new``: a proxy window whose posts the
library encodes as *records* and hands to a Python ``send`` callable (the embedder's IPC);
``Window.deliver`` / ``deliver`` pass the records that arrive to ``pm_remote_deliver``;
``set_broadcast_forwarder`` hands BroadcastChannel records to the other processes.

The C prototypes are declared here rather than with the others in ``_lib``: a library built
before remote windows existed still loads, and only these calls fail (``RemoteWindowsUnavailable``).
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int, c_size_t, c_ubyte, c_void_p

from . import _lib, _listeners
from ._errors import Error, Result
from ._window import Window, _c_string, _callback_arg, _check, _creation_error

lib = _lib.lib

#: ``pm_remote_send_fn`` and ``pm_broadcast_forward_fn``.
pm_remote_send_fn = CFUNCTYPE(c_int, c_void_p, POINTER(c_ubyte), c_size_t, c_void_p)
pm_broadcast_forward_fn = CFUNCTYPE(c_int, POINTER(c_ubyte), c_size_t, c_void_p)

_PROTOTYPES = {
    "pm_remote_window_new": (c_void_p, [c_void_p, c_char_p, pm_remote_send_fn, c_void_p, _lib.pm_destroy_fn]),
    "pm_remote_deliver": (c_int, [c_void_p, c_void_p, c_char_p, c_size_t]),
    "pm_set_broadcast_forwarder": (c_int, [pm_broadcast_forward_fn, c_void_p]),
}

AVAILABLE = all(hasattr(lib, name) for name in _PROTOTYPES)
if AVAILABLE:
    for _name, (_restype, _argtypes) in _PROTOTYPES.items():
        _fn = getattr(lib, _name)
        _fn.restype = _restype
        _fn.argtypes = _argtypes

SEND_ERR_MSG = "Exception ignored in postmessage remote send"
FORWARDER_ERR_MSG = "Exception ignored in postmessage broadcast forwarder"


class RemoteWindowsUnavailable(Error):
    """The loaded libpostmessage predates remote windows (no ``pm_remote_window_new``)."""

    default_code = Result.ERR_INVALID_ARGUMENT


def _require() -> None:
    if not AVAILABLE:
        raise RemoteWindowsUnavailable(
            "{} has no remote windows (pm_remote_window_new): rebuild it".format(_lib.LIBRARY_PATH)
        )


def _result_of(value) -> int:
    """What a ``send`` or forwarder returned, as a ``pm_result``: None or True is ``OK`` (sent,
    or delivered there), False ``DROPPED`` (what ``Window.deliver`` returns for a mismatch on the
    other side), an int (a ``Result``) is passed on as is."""
    if value is None or value is True:
        return Result.OK
    if value is False:
        return Result.DROPPED
    if isinstance(value, int) and 0 <= value <= 0x7FFFFFFF:
        return int(value)
    raise TypeError(
        "send and the broadcast forwarder must return None, a bool or a postmessage.Result, not {!r}".format(value)
    )


def _call(callback, record_ptr, length, err_msg) -> int:
    """Calls ``callback(record)`` for the library; nothing may unwind into C. A
    ``postmessage.Error`` it raises becomes its code (a synchronous IPC whose other side's
    ``deliver`` raised ``DepthError`` or ``SourceOriginError`` passes that on to the poster);
    any other ``Exception`` is reported like a listener's (``sys.unraisablehook``) and the post
    gets ``ERR_INVALID_ARGUMENT``; a ``KeyboardInterrupt`` or ``SystemExit`` is re-raised by the
    Python call that posted, as for listeners."""
    try:
        record = ctypes.string_at(record_ptr, length) if length else b""
        return _result_of(callback(record))
    except Error as exc:
        code = exc.code
        if isinstance(code, int) and 1 < code <= 0x7FFFFFFF:
            return int(code)
        _listeners._report_safely(exc, callback, err_msg)
    except Exception as exc:
        _listeners._report_safely(exc, callback, err_msg)
    except BaseException as exc:
        _listeners.stop_or_report(exc, callback, err_msg)
    return Result.ERR_INVALID_ARGUMENT


def _on_send(_proxy, record_ptr, length, key):
    entry = _listeners._entries.get(key)
    if entry is None:
        return Result.ERR_INVALID_HANDLE
    return _call(entry[0], record_ptr, length, SEND_ERR_MSG)


SEND_TRAMPOLINE = pm_remote_send_fn(_on_send)


class RemoteWindow(Window):
    """A proxy for a document that lives in another process, at ``url``.

    It sits in the frame tree like any window (``parent`` is None, a local Window or another
    RemoteWindow; local windows may be its children: an iframe here inside a page elsewhere) but
    runs no script here: adding a listener to it, posting from it, opening channels in it or
    setting its dispatch mode raise ``InvalidArgumentError``.

    A post to it (``window.post_message(proxy, data, target_origin)``) is checked here (source,
    targetOrigin syntax, transfer list), encoded as a record, and handed to ``send(record)``
    (``bytes``) on the posting thread. ``send`` passes it to the process holding the document,
    which calls ``Window.deliver(record, source=...)``; what ``send`` returns is what the post
    returns: ``None`` / ``True`` (sent, or delivered there: ``post_message`` returns True),
    ``False`` (dropped there: ``post_message`` returns False) or a ``Result``. A synchronous IPC
    returns the other side's ``deliver`` result, so the post completes after the remote listeners
    ran, as in one process; ``send`` may deliver records that arrive while it waits. A
    ``postmessage.Error`` raised by ``send`` (say, from the other side's ``deliver``) is the post's
    error; any other exception is reported (``sys.unraisablehook``) and the post raises
    ``InvalidArgumentError``.

    The library keeps ``send`` until the proxy is freed (``close()``, its parent closed or
    navigated) and its last call has returned.
    """

    __slots__ = ()

    def __init__(self, url, send, parent: Window | None = None):
        _require()
        url_c = _c_string(url, "url")
        _callback_arg(send)
        if parent is not None and not isinstance(parent, Window):
            raise TypeError("parent must be a Window or None, not {}".format(type(parent).__name__))
        parent_handle = parent._live_handle() if parent is not None else None
        key = _listeners.register(send, None)
        handle = lib.pm_remote_window_new(parent_handle, url_c, SEND_TRAMPOLINE, key, _listeners.DESTROY_TRAMPOLINE)
        if not handle:
            _listeners.unregister(key)  # refused: the library will never call destroy
            raise _creation_error(url_c, parent)
        self._attach(handle, parent, owned=True)

    def __repr__(self) -> str:
        return super().__repr__().replace("postmessage.Window", "postmessage.RemoteWindow", 1)


@_listeners.dispatches
def deliver(record, target: Window | None = None, source: Window | None = None) -> bool:
    """Passes a record from another process to ``pm_remote_deliver``.

    ``target`` is the local Window a window record is for (``Window.deliver`` is the same call);
    port and broadcast records ignore it, so None is fine for them. ``source`` is this process's
    RemoteWindow for the sender, or None for a peer the program vouches for: the origin the
    record claims must be ``source``'s, else ``SourceOriginError`` and nothing is delivered.

    Returns True when delivered (or queued, for a QUEUED target), False when dropped (a
    targetOrigin that does not match the target's current origin, a closed port). Raises
    ``InvalidArgumentError`` for a malformed record (nothing delivered), ``SourceOriginError``,
    and the errors of a local post (``QueueFullError``, ``DepthError``...).
    """
    _require()
    if isinstance(record, str):
        raise TypeError("record must be bytes-like, not str")
    payload = bytes(memoryview(record))
    target_handle = target._live_handle() if target is not None else None
    source_handle = source._live_handle() if source is not None else None
    with _listeners.dispatching():
        code = lib.pm_remote_deliver(target_handle, source_handle, payload, len(payload))
    return _check(code) == Result.OK


_forwarder = None
_forwarder_lock = threading.Lock()


def _on_forward(record_ptr, length, _user_data):
    forwarder = _forwarder
    if forwarder is None:
        return Result.OK
    return _call(forwarder, record_ptr, length, FORWARDER_ERR_MSG)


FORWARD_TRAMPOLINE = pm_broadcast_forward_fn(_on_forward)
_NO_FORWARDER = pm_broadcast_forward_fn()  # a NULL pm_broadcast_forward_fn


def set_broadcast_forwarder(forward):
    """Sets the process-wide broadcast forwarder, ``forward(record)`` (``bytes``), called on the
    posting thread with every BroadcastChannel post encoded as a record: hand it to the other
    processes, which pass it to ``deliver(record, source=...)``. ``None`` removes it (then nothing
    crosses). Returns the previous forwarder. Its return value and exceptions are handled as for
    ``RemoteWindow``'s ``send``."""
    global _forwarder
    _require()
    if forward is not None and not callable(forward):
        raise TypeError("forward must be callable or None, not {}".format(type(forward).__name__))
    with _forwarder_lock:
        previous = _forwarder
        _forwarder = forward
        code = lib.pm_set_broadcast_forwarder(_NO_FORWARDER if forward is None else FORWARD_TRAMPOLINE, None)
        if code != Result.OK:
            _forwarder = previous
            _check(code)
    return previous


