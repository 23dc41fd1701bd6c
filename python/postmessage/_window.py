"""Window and MessageEvent: the Python face of ``pm_window`` and ``pm_message_event``."""

from __future__ import annotations

import atexit
import ctypes
import sys
import threading
import weakref

from . import _lib, _listeners
from ._errors import (
    Error,
    InvalidArgumentError,
    InvalidHandleError,
    Result,
    TargetOriginSyntaxError,
    UTF8Error,
    error_for,
)

lib = _lib.lib

# Handle value -> the Window object for it. Weak, so holding a Window is up to the program; an
# event whose source or target nobody holds gets a fresh non-owning Window (see Window._for).
_registry: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
# Guards handle state changes (open -> closed) and the parent/children links. Reentrant, because
# a finalizer (Window.__del__) may run on a thread that already holds it. Never held while the
# library may call back into Python.
_state = threading.RLock()
_exiting = False


@atexit.register
def _at_exit():
    # From here on a Window that is garbage-collected is left to the process exit: freeing it
    # could call back into a half torn-down interpreter.
    global _exiting
    _exiting = True


def _check(code: int) -> int:
    """Returns OK / DROPPED; raises the matching Error for anything else."""
    if code == Result.OK or code == Result.DROPPED:
        return code
    raise error_for(code, _lib.last_error())


def _c_string(value, what: str) -> bytes:
    """A str (UTF-8) or bytes argument as a C string."""
    if isinstance(value, str):
        # Lone surrogates are passed through, so that the library reports PM_ERR_UTF8 itself.
        raw = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise TypeError("{} must be str or bytes, not {}".format(what, type(value).__name__))
    if b"\0" in raw:
        raise InvalidArgumentError("{} contains a NUL character, which a C string cannot carry".format(what))
    return raw


def _message_bytes(data) -> bytes:
    """Message data: str is sent as UTF-8, any bytes-like object as its bytes."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise UTF8Error("data cannot be sent as UTF-8: {}".format(e)) from e
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError("data must be str or a bytes-like object, not {}".format(type(data).__name__)) from None
    return view.tobytes()


def _closed_error() -> InvalidHandleError:
    return InvalidHandleError("the Window is closed (its handle was freed, or its parent was closed or navigated)")


class Window:
    """A browsing context: a document at a URL, with an origin, that can post and receive messages.

    ``Window(url)`` makes a top-level window; ``Window(url, parent=p)`` an iframe inside ``p``'s
    current document (``about:blank`` inherits ``p``'s origin). Use it as a context manager, or
    call ``close()``; a top-level Window that is garbage-collected while open is freed then too.

    A child window belongs to its parent's document, like an iframe: it is freed when it is closed,
    or when its parent is closed or navigates (its Window then reports ``closed``) -- not when its
    Python object is garbage-collected. A closed Window raises ``InvalidHandleError`` on use.

    The same window is always the same object while the program holds it, so ``event.source is a``.
    """

    __slots__ = ("_handle", "_owned", "_parent", "_children", "__weakref__")

    def __init__(self, url, parent: Window | None = None):
        url_c = _c_string(url, "url")
        if parent is None:
            handle = lib.pm_window_new(url_c)
        elif isinstance(parent, Window):
            parent_handle = parent._live_handle()
            handle = lib.pm_window_new_child(parent_handle, url_c)
        else:
            raise TypeError("parent must be a Window or None, not {}".format(type(parent).__name__))
        if not handle:
            raise _creation_error(url_c, parent)
        self._attach(handle, parent, owned=True)

    def _attach(self, handle, parent, owned: bool) -> None:
        with _state:
            self._handle = handle
            self._owned = owned
            self._parent = parent
            self._children = weakref.WeakSet()
            _registry[handle] = self
            if parent is not None:
                parent._children.add(self)

    @classmethod
    def _for(cls, handle) -> Window | None:
        """The Window object for a handle the library gave us (an event's source or target, a
        parent): the one the program holds, else a new non-owning one, which is never freed by
        garbage collection."""
        if not handle:
            return None
        window = _registry.get(handle)
        if window is not None:
            return window
        with _state:
            window = _registry.get(handle)
            if window is not None:
                return window
            parent_handle = lib.pm_window_parent(handle)
            parent = cls._for(parent_handle) if parent_handle else None
            window = cls.__new__(cls)
            window._attach(handle, parent, owned=False)
            if parent is None and lib.pm_window_origin(handle, None, 0) == 0:
                window._handle = None  # already freed: a closed Window
            return window

    # -- state ---------------------------------------------------------------------------------

    def _live_handle(self) -> int:
        handle = self._handle
        if handle is None:
            raise _closed_error()
        return handle

    @property
    def handle(self) -> int:
        """The ``pm_window *`` value, for passing this window to C code (keep the Window alive)."""
        return self._live_handle()

    @property
    def closed(self) -> bool:
        """True once the window has been freed (closed here, or with its parent)."""
        return self._handle is None

    @property
    def origin(self) -> str:
        """The serialized origin of the current document: "http://127.0.0.1", or "null" when opaque."""
        handle = self._live_handle()
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            length = lib.pm_window_origin(handle, buf, size)
            if length == 0:
                raise error_for(Result.ERR_INVALID_HANDLE, _lib.last_error())
            if length < size:
                return buf.value.decode("utf-8", "replace")
            size = length + 1  # truncated (or the window navigated meanwhile): try again

    @property
    def parent(self) -> Window | None:
        """The parent Window (None for a top-level window)."""
        self._live_handle()
        return self._parent

    def navigate(self, url) -> None:
        """Loads a new document at ``url``: a new origin (``about:blank`` gets a new opaque one).
        The old document's listeners and child windows are gone (those children become closed)."""
        url_c = _c_string(url, "url")
        handle = self._live_handle()
        with _state:
            old_children = list(self._children)  # not frames the new document gets meanwhile
        _check(lib.pm_window_navigate(handle, url_c))
        _mark_freed(old_children)

    def close(self) -> None:
        """Frees the window, its child windows and all their listeners. Closing twice is a no-op."""
        with _state:
            handle = self._handle
            if handle is None:
                return
            self._handle = None
        code = lib.pm_window_free(handle)
        _mark_freed([self])
        if code != Result.ERR_INVALID_HANDLE:  # already freed elsewhere: closed either way
            _check(code)

    def __enter__(self) -> Window:
        self._live_handle()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __del__(self):
        try:
            handle = self._handle
            if handle is None or not self._owned or self._parent is not None or _exiting or sys.is_finalizing():
                return
            self._handle = None
            lib.pm_window_free(handle)
        except Exception:
            pass

    def __repr__(self) -> str:
        handle = self._handle
        if handle is None:
            return "<postmessage.Window closed>"
        try:
            return "<postmessage.Window origin={!r} handle={:#x}>".format(self.origin, handle)
        except Error:
            return "<postmessage.Window handle={:#x} (freed)>".format(handle)

    # -- messaging ------------------------------------------------------------------------------

    def add_listener(self, callback) -> int:
        """Registers ``callback(event)`` for messages to this window's current document; returns
        its id (for ``remove_listener``).

        Listeners run in registration order, synchronously inside the post that delivers to them,
        on the posting thread. The window keeps ``callback`` alive until it is removed, the window
        navigates, or it is closed. An exception it raises is reported (``sys.unraisablehook``)
        and the other listeners still run.
        """
        if not callable(callback):
            raise TypeError("callback must be callable, not {}".format(type(callback).__name__))
        handle = self._live_handle()
        key = _listeners.register(callback, MessageEvent._from_c)
        listener_id = lib.pm_add_listener_full(
            handle, _listeners.LISTENER_TRAMPOLINE, key, _listeners.DESTROY_TRAMPOLINE
        )
        if listener_id == 0:
            _listeners.unregister(key)  # refused: the library will never call destroy
            raise error_for(Result.ERR_INVALID_HANDLE, _lib.last_error())
        return listener_id

    def remove_listener(self, listener_id: int) -> None:
        """Removes a listener; it is not called again, and its callback is released. An id that is
        not a listener of the current document raises ``InvalidHandleError``."""
        if not isinstance(listener_id, int) or isinstance(listener_id, bool):
            raise TypeError("listener_id must be an int, not {}".format(type(listener_id).__name__))
        if not 0 < listener_id < 1 << 64:
            raise InvalidHandleError("{} is not a listener id".format(listener_id))
        _check(lib.pm_remove_listener(self._live_handle(), listener_id))

    def post_message(self, target: Window, data, target_origin) -> bool:
        """Posts ``data`` from this window to ``target`` (``target.postMessage(data, targetOrigin)``
        run by this window's script).

        ``data`` is a str (sent as UTF-8) or a bytes-like object. ``target_origin`` is ``"*"`` (any
        origin: only for data anyone may see), ``"/"`` (this window's own origin) or an absolute
        URL whose origin the target must have.

        Returns True when delivered (the target's listeners have run, on this thread), False when
        the target's origin did not match (dropped silently, as the HTML standard says). Raises
        ``TargetOriginSyntaxError`` (a ``ValueError``) for a malformed ``target_origin``,
        ``InvalidHandleError`` for a closed window, ``DepthError`` when nested posting from
        listeners gets too deep.
        """
        if not isinstance(target, Window):
            raise TypeError("target must be a Window, not {}".format(type(target).__name__))
        source_handle = self._live_handle()
        target_handle = target._live_handle()
        payload = _message_bytes(data)
        origin_c = _c_string(target_origin, "target_origin")
        with _listeners.dispatching():
            code = lib.pm_post_message(source_handle, target_handle, payload, len(payload), origin_c)
        return _check(code) == Result.OK


def _mark_freed(windows) -> None:
    """Marks Window objects whose handles the library has freed, and their descendants, closed."""
    with _state:
        stack = list(windows)
        while stack:
            window = stack.pop()
            window._handle = None
            if window._parent is not None:
                window._parent._children.discard(window)
            stack.extend(window._children)
            window._children.clear()


def _creation_error(url_c: bytes, parent: Window | None) -> Error:
    """The error for a NULL from pm_window_new / pm_window_new_child.

    Constructors report only a message (pm_last_error), not a code, so the code is worked out
    from the arguments, in the order the library checks them.
    """
    message = _lib.last_error()
    try:
        url_c.decode("utf-8")
    except UnicodeDecodeError:
        return error_for(Result.ERR_UTF8, message)
    if parent is not None and lib.pm_window_origin(parent._handle, None, 0) == 0:
        _mark_freed([parent])
        return error_for(Result.ERR_INVALID_HANDLE, message)
    return error_for(Result.ERR_INVALID_URL, message)


class MessageEvent:
    """A ``message`` event, as a listener receives it. Everything in it is a copy: keep it freely.

    ``data`` (bytes), ``text`` (``data`` decoded as UTF-8), ``origin`` (the source's serialized
    origin), ``last_event_id`` (always ""), ``source`` and ``target`` (Window objects: the same
    ones the program holds).
    """

    __slots__ = ("data", "origin", "last_event_id", "source", "target")

    def __init__(self, data: bytes, origin: str, last_event_id: str, source, target):
        self.data = data
        self.origin = origin
        self.last_event_id = last_event_id
        self.source = source
        self.target = target

    @classmethod
    def _from_c(cls, event: _lib.pm_message_event) -> MessageEvent:
        return cls(
            ctypes.string_at(event.data, event.data_len) if event.data_len else b"",
            (event.origin or b"").decode("utf-8", "replace"),
            (event.last_event_id or b"").decode("utf-8", "replace"),
            Window._for(event.source),
            Window._for(event.target),
        )

    @property
    def text(self) -> str:
        """``data`` decoded as UTF-8 (raises ``UnicodeDecodeError`` for binary data)."""
        return self.data.decode("utf-8")

    def reply(self, data, target_origin=None) -> bool:
        """Posts ``data`` back to ``source`` from ``target``, with ``target_origin`` defaulting to
        this event's ``origin`` (so the reply reaches the same document that sent the message).

        A source with an opaque origin ("null") can only be answered with ``target_origin="*"``.
        """
        if self.source is None:
            raise InvalidHandleError("this event has no source window to reply to")
        if target_origin is None:
            if self.origin == "null":
                raise TargetOriginSyntaxError(
                    'the source\'s origin is opaque ("null"), which only targetOrigin "*" matches; '
                    'pass target_origin="*" to reply anyway'
                )
            target_origin = self.origin
        return self.target.post_message(self.source, data, target_origin)

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 40 else self.data[:40] + b"..."
        return "<postmessage.MessageEvent origin={!r} data={!r}>".format(self.origin, data)
