"""Window and MessageEvent: the Python face of ``pm_window`` and ``pm_message_event``, with
queued delivery (``pm_window_set_dispatch_mode`` and friends)."""

from __future__ import annotations

import atexit
import ctypes
import enum
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

# Handle value -> a weak reference to the Window object for it. Weak, so holding a Window is up
# to the program; an event whose source or target nobody holds gets a fresh non-owning Window
# (see Window._for). A plain dict of weakref.ref (each removes its own entry when its Window
# dies) rather than a WeakValueDictionary, whose Python-level get() every event paid twice.
_registry: dict = {}
_registry_get = _registry.get
# Guards handle state changes (open -> closed) and the parent/children links. Reentrant, because
# a finalizer (Window.__del__) may run on a thread that already holds it. Never held while the
# library may call back into Python.
_state = threading.RLock()
_exiting = False

# Window handle -> its waker (the Python callable); handle -> the mode set through this binding.
# Keyed by handle (the library keeps both per handle, across navigation), so every Window object
# for the same window agrees. Single dict operations only (atomic under the GIL).
_wakers: dict = {}
_modes: dict = {}


class DispatchMode(enum.IntEnum):
    """``pm_dispatch_mode``: how a window receives messages."""

    #: Listeners run on the posting thread before the post returns (the default).
    SYNC = 0
    #: Posts queue a task; ``Window.run_pending()`` runs it (the HTML standard's behaviour).
    QUEUED = 1


def _registered(handle):
    """The live Window object registered for ``handle``, or None."""
    ref = _registry_get(handle)
    return ref() if ref is not None else None


def _register(window, handle) -> None:
    def forget(ref, handle=handle):
        try:
            if _registry.get(handle) is ref:
                del _registry[handle]
        except Exception:  # at interpreter exit, or a racing re-registration: nothing to undo
            pass

    _registry[handle] = weakref.ref(window, forget)


def _on_wake(window_handle, _user_data):
    waker = _wakers.get(window_handle)
    if waker is not None:
        _listeners.call_guarded(waker, Window._for, window_handle, _listeners.WAKER_ERR_MSG)


WAKE_TRAMPOLINE = _lib.pm_wake_fn(_on_wake)
_NO_WAKER = _lib.pm_wake_fn()  # a NULL pm_wake_fn


def _forget_handle(handle) -> None:
    """Drops the per-handle state of a freed window."""
    _wakers.pop(handle, None)
    _modes.pop(handle, None)


def _forget_freed_handles() -> None:
    """Drops the per-handle state of windows the library has freed without this binding seeing
    it (a child whose Window object was dropped, freed with its parent)."""
    for handle in list(_wakers) + list(_modes):
        if lib.pm_window_origin(handle, None, 0) == 0:
            _forget_handle(handle)


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


def _last_failure() -> Error:
    """The error for a call that returned NULL or 0 (``pm_last_error_code()`` says which)."""
    return error_for(_lib.last_error_code(), _lib.last_error())


def _counted(function, *args) -> int:
    """Calls a library function whose 0 return means either "none" or a failure, and raises
    in the second case."""
    _lib.prime_last_error()
    count = function(*args)
    if count == 0:
        code = _lib.last_error_code()
        # PM_OK: the library says 0 is the answer (it sets PM_OK on success); the primed
        # PM_ERR_NULL_ARGUMENT left alone: a library that does not.
        if code not in (Result.OK, Result.ERR_NULL_ARGUMENT):
            raise error_for(code, _lib.last_error())
    return count


def _size_arg(value, what: str) -> int:
    """A size_t argument, with None meaning 0 ("no limit")."""
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("{} must be an int or None, not {}".format(what, type(value).__name__))
    if not 0 <= value <= _lib.SIZE_MAX:
        raise InvalidArgumentError("{} must be between 0 and {}, not {}".format(what, _lib.SIZE_MAX, value))
    return value


def _listener_id_arg(listener_id) -> int:
    if not isinstance(listener_id, int) or isinstance(listener_id, bool):
        raise TypeError("listener_id must be an int, not {}".format(type(listener_id).__name__))
    if not 0 < listener_id < 1 << 64:
        raise InvalidHandleError("{} is not a listener id".format(listener_id))
    return listener_id


def _callback_arg(callback):
    if not callable(callback):
        raise TypeError("callback must be callable, not {}".format(type(callback).__name__))
    return callback


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


_post_unconverted = _lib.post_message_unconverted
_SIZES = _lib.SIZES
_SIZES_LEN = len(_SIZES)
_stoppers = _listeners._stoppers  # the same dict (never rebound)
_NO_TRANSFER = ()  # post_message's default (the empty tuple is a single object)
# targetOrigin str -> its C string, for the ones that passed _c_string (a handful per program:
# cleared when it would grow past _TARGET_ORIGINS_MAX). Whether one is *valid* is the library's
# to say on each post.
_target_origins: dict = {}
_target_origins_get = _target_origins.get
_TARGET_ORIGINS_MAX = 256


def _str_bytes(data):
    """``data`` as UTF-8 if it is a str that has such an encoding, else None."""
    if type(data) is str:
        try:
            return data.encode()
        except UnicodeEncodeError:
            return None  # _message_bytes raises the error
    return None


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

    # _c: the handle as a c_void_p, passed as is to the unconverted pm_post_message.
    __slots__ = ("_handle", "_c", "_owned", "_parent", "_children", "_attached", "__weakref__")

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
            self._c = ctypes.c_void_p(handle)
            self._owned = owned
            self._parent = parent
            self._children = weakref.WeakSet()
            self._attached = weakref.WeakSet()  # MessagePort / BroadcastChannel objects of its document
            _register(self, handle)
            if parent is not None:
                parent._children.add(self)

    @classmethod
    def _for(cls, handle) -> Window | None:
        """The Window object for a handle the library gave us (an event's source or target, a
        parent): the one the program holds, else a new non-owning one, which is never freed by
        garbage collection."""
        if not handle:
            return None
        window = _registered(handle)
        if window is not None:
            return window
        with _state:
            window = _registered(handle)
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
        The old document's listeners, child windows, ports, broadcast channels and queued
        messages are gone (those children, ports and channels become closed). The dispatch mode,
        waker and queue limits stay."""
        url_c = _c_string(url, "url")
        handle = self._live_handle()
        with _state:
            old_children = list(self._children)  # not frames the new document gets meanwhile
            old_attached = list(self._attached)  # nor its ports and channels
        _check(lib.pm_window_navigate(handle, url_c))
        _mark_freed(old_children)
        _mark_closed(old_attached)

    def close(self) -> None:
        """Frees the window, its child windows and all their listeners, ports, broadcast channels,
        queued messages and wakers. Closing twice is a no-op."""
        with _state:
            handle = self._handle
            if handle is None:
                return
            self._handle = None
        code = lib.pm_window_free(handle)
        _forget_handle(handle)
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
            _forget_handle(handle)
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

    def add_listener(self, callback, origins=None) -> int:
        """Registers ``callback(event)`` for messages to this window's current document; returns
        its id (for ``remove_listener``).

        Listeners run in registration order, on the thread that delivers (the posting thread, or
        the one calling ``run_pending`` in QUEUED mode). The window keeps ``callback`` alive until
        it is removed, the window navigates, or it is closed. An exception it raises is reported
        (``sys.unraisablehook``) and the other listeners still run.

        ``origins``, a list of absolute URLs or serialized origins (``["https://app.example"]``),
        makes an allow-list listener: the library calls it only for messages whose source origin
        is one of them (others skip it and are reported to the drop handler as
        ``DropReason.FILTERED``). ``"*"``, ``"/"``, ``"null"`` and unparsable entries raise
        ``TargetOriginSyntaxError``; an empty list, or an entry with an opaque origin
        (``"data:,x"``), ``InvalidArgumentError``.
        """
        _callback_arg(callback)
        if origins is None:
            handle = self._live_handle()
            key = _listeners.register(callback, _event_from_c)
            listener_id = lib.pm_add_listener_full(
                handle, _listeners.LISTENER_TRAMPOLINE, key, _listeners.DESTROY_TRAMPOLINE
            )
        else:
            if isinstance(origins, (str, bytes, bytearray)):
                raise TypeError("origins must be a list of strings, not a single {}".format(type(origins).__name__))
            try:
                entries = [_c_string(origin, "origins entry") for origin in origins]
            except TypeError as e:
                if not hasattr(origins, "__iter__"):
                    raise TypeError("origins must be a list of strings, not {}".format(type(origins).__name__)) from None
                raise e
            array = (ctypes.c_char_p * max(len(entries), 1))(*entries)
            handle = self._live_handle()
            key = _listeners.register(callback, _event_from_c)
            listener_id = lib.pm_add_listener_for_origins(
                handle,
                array,
                len(entries),
                _listeners.LISTENER_TRAMPOLINE,
                key,
                _listeners.DESTROY_TRAMPOLINE,
            )
        if listener_id == 0:
            _listeners.unregister(key)  # refused: the library will never call destroy
            raise _last_failure()
        return listener_id

    def remove_listener(self, listener_id: int) -> None:
        """Removes a listener; it is not called again, and its callback is released. An id that is
        not a listener of the current document raises ``InvalidHandleError``."""
        _check(lib.pm_remove_listener(self._live_handle(), _listener_id_arg(listener_id)))

    @_listeners.dispatches
    def post_message(self, target: Window, data, target_origin, transfer=()) -> bool:
        """Posts ``data`` from this window to ``target`` (``target.postMessage(data, targetOrigin,
        transfer)`` run by this window's script).

        ``data`` is a str (sent as UTF-8) or a bytes-like object. ``target_origin`` is ``"*"`` (any
        origin: only for data anyone may see), ``"/"`` (this window's own origin) or an absolute
        URL whose origin the target must have. ``transfer`` is an iterable of ``MessagePort``
        objects handed to the receiver (``event.ports``); once posted they are closed here.

        Returns True when delivered (SYNC: the target's listeners have run, on this thread) or
        queued (QUEUED: the origin is checked at delivery), False when the target's origin did not
        match (dropped silently, as the HTML standard says; transferred ports are closed). Raises
        ``TargetOriginSyntaxError`` (a ``ValueError``) for a malformed ``target_origin``,
        ``InvalidHandleError`` for a closed window, ``DataCloneError`` for a bad transfer list
        (nothing is posted or transferred), ``QueueFullError`` when the target's queue is full,
        ``DepthError`` when nested posting from listeners gets too deep.
        """
        # The common case (open windows, str/bytes data, a str targetOrigin seen before, nothing
        # to transfer) straight to the library, with arguments ctypes passes as they are; all
        # else, and every error, takes _post_message.
        if (
            (transfer is _NO_TRANSFER or transfer is None)
            and self._handle is not None
            and type(target) is Window
            and target._handle is not None
        ):
            origin_c = _target_origins_get(target_origin) if type(target_origin) is str else None
            if origin_c is not None:
                payload = data if type(data) is bytes else _str_bytes(data)
                if payload is not None:
                    n = len(payload)
                    code = _post_unconverted(
                        self._c, target._c, payload, _SIZES[n] if n < _SIZES_LEN else ctypes.c_size_t(n), origin_c
                    )
                    if _stoppers:
                        _listeners.raise_pending()
                    if code == 0:
                        return True
                    if code == 1:
                        return False
                    raise error_for(code, _lib.last_error())
        return self._post_message(target, data, target_origin, transfer)

    @_listeners.dispatches
    def _post_message(self, target: Window, data, target_origin, transfer) -> bool:
        if not isinstance(target, Window):
            raise TypeError("target must be a Window, not {}".format(type(target).__name__))
        source_handle = self._live_handle()
        target_handle = target._live_handle()
        payload = _message_bytes(data)
        origin_c = _c_string(target_origin, "target_origin")
        if type(target_origin) is str:
            if len(_target_origins) >= _TARGET_ORIGINS_MAX:
                _target_origins.clear()
            _target_origins[target_origin] = origin_c
        ports, array = _channels.transfer_list(transfer)
        if not ports:
            with _listeners.dispatching():
                code = lib.pm_post_message(source_handle, target_handle, payload, len(payload), origin_c)
            return _check(code) == Result.OK
        code = None
        try:
            with _listeners.dispatching():
                code = lib.pm_post_message_transfer(
                    source_handle, target_handle, payload, len(payload), origin_c, array, len(ports)
                )
        finally:
            if code == Result.OK or code == Result.DROPPED:
                _mark_closed(ports)  # transferred (or closed with a dropped message)
        return _check(code) == Result.OK

    def deliver(self, record, source: Window | None = None) -> bool:
        """Delivers a record that another process's ``RemoteWindow`` sent to this (local) window,
        exactly as a local post: the targetOrigin inside it is matched against this window's
        current origin, in its dispatch mode. ``source`` is this process's ``RemoteWindow`` for
        the sender (the event's ``source``, and the origin lock: a record claiming another
        origin raises ``SourceOriginError``), or None for a peer the program vouches for.
        Returns True when delivered (or queued), False when dropped; a malformed record raises
        ``InvalidArgumentError`` and delivers nothing. See ``postmessage.deliver``."""
        from . import _remote

        return _remote.deliver(record, self, source)

    # -- queued delivery ------------------------------------------------------------------------

    @property
    def dispatch_mode(self) -> DispatchMode:
        """How this window receives messages: ``SYNC`` (the default) or ``QUEUED``. Settable. (The
        value read is the last one set through this binding.)"""
        return _modes.get(self._live_handle(), DispatchMode.SYNC)

    @dispatch_mode.setter
    def dispatch_mode(self, mode) -> None:
        self.set_dispatch_mode(mode)

    def set_dispatch_mode(self, mode) -> None:
        """Sets how this window receives messages: ``postmessage.SYNC`` (listeners run inside the
        post, on the posting thread) or ``postmessage.QUEUED`` (posts queue; call
        ``run_pending()``, typically after the waker fired). The mode survives navigation;
        switching back to SYNC leaves queued messages queued. Unknown values raise
        ``InvalidArgumentError``."""
        if not isinstance(mode, int) or isinstance(mode, bool):
            raise TypeError("mode must be postmessage.SYNC or postmessage.QUEUED, not {!r}".format(mode))
        handle = self._live_handle()
        if not 0 <= mode <= 0xFFFFFFFF:
            raise InvalidArgumentError("{} is not a dispatch mode".format(mode))
        _check(lib.pm_window_set_dispatch_mode(handle, mode))
        _forget_freed_handles()
        _modes[handle] = DispatchMode(mode)

    def set_waker(self, waker) -> None:
        """Sets (or with None removes) ``waker(window)``, called each time this window's queue goes
        from empty to non-empty, on the posting thread (any thread). It should only signal the
        program's event loop, which then calls ``run_pending()``, e.g.
        ``w.set_waker(lambda w: loop.call_soon_threadsafe(w.run_pending))``. The window keeps it
        alive until it is replaced or the window is closed; it survives navigation."""
        if waker is not None and not callable(waker):
            raise TypeError("waker must be callable or None, not {}".format(type(waker).__name__))
        handle = self._live_handle()
        _forget_freed_handles()
        if waker is None:
            code = lib.pm_window_set_waker(handle, _NO_WAKER, None)
            _wakers.pop(handle, None)
            _check(code)
            return
        previous = _wakers.get(handle)
        _wakers[handle] = waker  # before the library can call it
        code = lib.pm_window_set_waker(handle, WAKE_TRAMPOLINE, None)
        if code != Result.OK:
            if previous is None:
                _wakers.pop(handle, None)
            else:
                _wakers[handle] = previous
            _check(code)

    @_listeners.dispatches
    def run_pending(self, max=None) -> int:
        """Delivers up to ``max`` (default: all) queued messages, in order, on this thread, and
        returns how many were taken off the queue (messages that were dropped instead -- origin
        mismatch, closed port or channel -- count too). Messages queued meanwhile are taken too,
        up to ``max``. Raises ``DepthError`` when called from too deeply nested listeners."""
        if max is None:
            max = _lib.SIZE_MAX
        else:
            max = _size_arg(max, "max")
        handle = self._live_handle()
        with _listeners.dispatching():
            return _counted(lib.pm_window_run_pending, handle, max)

    @property
    def pending(self) -> int:
        """How many messages wait in this window's queue."""
        return _counted(lib.pm_window_pending, self._live_handle())

    def set_queue_limit(self, max_messages, max_bytes) -> None:
        """Limits this window's queue: a post (window, port or broadcast message) that would take
        it past ``max_messages`` messages or ``max_bytes`` bytes of data raises
        ``QueueFullError`` and is not queued. 0 or None means no limit; the defaults are 10,000
        messages and 64 MiB. Survives navigation; messages already queued stay."""
        max_messages = _size_arg(max_messages, "max_messages")
        max_bytes = _size_arg(max_bytes, "max_bytes")
        _check(lib.pm_window_set_queue_limit(self._live_handle(), max_messages, max_bytes))


def _mark_freed(windows) -> None:
    """Marks Window objects whose handles the library has freed, and their descendants (with
    their ports and broadcast channels), closed."""
    with _state:
        stack = list(windows)
        while stack:
            window = stack.pop()
            if window._handle is not None:
                _forget_handle(window._handle)
            window._handle = None
            if window._parent is not None:
                window._parent._children.discard(window)
            stack.extend(window._children)
            window._children.clear()
            _mark_closed(list(window._attached))


def _mark_closed(objects) -> None:
    """Marks MessagePort / BroadcastChannel objects whose handles the library has freed (closed,
    transferred, or gone with their window's document) closed."""
    with _state:
        for obj in objects:
            obj._handle = None
            window = obj._window
            if window is not None:
                window._attached.discard(obj)


def _creation_error(url_c: bytes, parent: Window | None) -> Error:
    """The error for a NULL from pm_window_new / pm_window_new_child (``pm_last_error_code()``)."""
    error = _last_failure()
    if error.code == Result.ERR_INVALID_HANDLE and parent is not None:
        _mark_freed([parent])  # freed elsewhere (with its own parent, or from C)
    return error


class MessageEvent:
    """A ``message`` event, as a listener receives it. Everything in it is a copy: keep it freely.

    ``data`` (bytes), ``text`` (``data`` decoded as UTF-8), ``origin`` (the source's serialized
    origin; "" for port messages), ``last_event_id`` (always ""), ``source`` (the posting Window,
    the same object the program holds; None for port and broadcast messages, or when the source
    window was freed before a queued message was delivered), ``target`` (the Window, MessagePort
    or BroadcastChannel whose listener this is) and ``ports`` (the MessagePorts transferred with
    the message, now owned by the receiving window).
    """

    __slots__ = ("data", "origin", "last_event_id", "source", "target", "ports")

    def __init__(self, data: bytes, origin: str, last_event_id: str, source, target, ports=()):
        self.data = data
        self.origin = origin
        self.last_event_id = last_event_id
        self.source = source
        self.target = target
        self.ports = list(ports)

    @classmethod
    def _from_c(cls, event_address: int, receiver=None) -> MessageEvent:
        """The event at ``event_address`` (a ``pm_message_event *``), copied. ``receiver``: the
        MessagePort or BroadcastChannel whose listener this is (None for a window listener: the
        event's target then is the Window)."""
        return _event_from_c(event_address, receiver)

    @property
    def text(self) -> str:
        """``data`` decoded as UTF-8 (raises ``UnicodeDecodeError`` for binary data)."""
        return self.data.decode("utf-8")

    def reply(self, data, target_origin=None, transfer=()) -> bool:
        """Posts ``data`` back to ``source`` from ``target``, with ``target_origin`` defaulting to
        this event's ``origin`` (so the reply reaches the same document that sent the message).

        A source with an opaque origin ("null") can only be answered with ``target_origin="*"``.
        For a port message, posts back through the receiving port (no ``target_origin``).
        """
        if isinstance(self.target, _channels.MessagePort):
            if target_origin is not None:
                raise TypeError("a port message is answered through its port: target_origin does not apply")
            return self.target.post_message(data, transfer)
        if self.source is None or not isinstance(self.target, Window):
            raise InvalidHandleError("this event has no source window to reply to")
        if target_origin is None:
            if self.origin == "null":
                raise TargetOriginSyntaxError(
                    'the source\'s origin is opaque ("null"), which only targetOrigin "*" matches; '
                    'pass target_origin="*" to reply anyway'
                )
            target_origin = self.origin
        return self.target.post_message(self.source, data, target_origin, transfer)

    def __repr__(self) -> str:
        data = self.data if len(self.data) <= 40 else self.data[:40] + b"..."
        return "<postmessage.MessageEvent origin={!r} data={!r}>".format(self.origin, data)


_event_at = _lib.pm_message_event.from_address
_new_event = object.__new__
# Origin / lastEventId C strings -> str: the same few origins arrive again and again.
_strings: dict = {None: "", b"": ""}
_strings_get = _strings.get
_STRINGS_MAX = 256


def _string(raw) -> str:
    if not raw:
        return ""  # NULL or empty (also while another thread refills a cleared cache)
    text = _strings_get(raw)
    if text is None:
        text = raw.decode("utf-8", "replace")
        if len(_strings) >= _STRINGS_MAX:
            _strings.clear()
            _strings[None] = _strings[b""] = ""
        _strings[raw] = text
    return text


def _event_from_c(event_address: int, receiver=None) -> MessageEvent:
    """``make_event`` of a window listener (``receiver`` None) and the body of
    ``MessageEvent._from_c``: one ``from_address``, then the fields, copied. Runs for every
    message a Python listener gets, so the Window lookups are spelled out."""
    event = _event_at(event_address)
    e = _new_event(MessageEvent)
    n = event.data_len
    e.data = event.data[:n] if n else b""
    raw = event.origin
    origin = _strings_get(raw)
    e.origin = origin if origin is not None else _string(raw)
    raw = event.last_event_id
    last_event_id = _strings_get(raw)
    e.last_event_id = last_event_id if last_event_id is not None else _string(raw)
    handle = event.source
    if handle:
        ref = _registry_get(handle)
        source = ref() if ref is not None else None
        e.source = source if source is not None else Window._for(handle)
    else:
        e.source = None
    if receiver is None:
        handle = event.target
        ref = _registry_get(handle)
        target = ref() if ref is not None else None
        owner = e.target = target if target is not None else Window._for(handle)
    else:
        e.target = receiver
        owner = receiver._window
    n = event.ports_len
    if n:
        handles = event.ports
        e.ports = [_channels.MessagePort._for(handles[i], owner) for i in range(n)]
    else:
        e.ports = []
    return e


from . import _channels  # noqa: E402  (MessagePort needs Window: imported once both exist)
