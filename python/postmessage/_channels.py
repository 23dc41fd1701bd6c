"""MessageChannel, MessagePort and BroadcastChannel: the Python face of ``pm_port`` and
``pm_broadcast`` (HTML5 Web Messaging).

Ports and channels belong to a window's document, like child windows: they are closed by
``close()`` (or a ``with`` block), when transferred away (ports), or when their window is closed
or navigates -- never by garbage collection. Each keeps its Window object alive. Their listeners
hold no reference to the Python object, so a port whose object was dropped still delivers to its
listeners (their events then get a fresh MessagePort for the same handle).
"""

from __future__ import annotations

import ctypes
import weakref

from . import _lib, _listeners
from ._errors import DataCloneError, InvalidHandleError, Result
from ._window import (
    MessageEvent,
    Window,
    _callback_arg,
    _c_string,
    _check,
    _last_failure,
    _listener_id_arg,
    _mark_closed,
    _message_bytes,
    _state,
)

lib = _lib.lib

# Port or channel handle -> its Python object (weak: holding one is up to the program). Port and
# channel handles carry different table tags in the library, so they never collide.
_objects: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

# Results of pm_port_post_message after which the transfer list has been taken: delivered or
# queued, or dropped because the partner is closed (the ports are closed with the message). A
# post refused for a full queue or the depth limit transfers nothing.
_PORT_POST_CONSUMED = (Result.OK, Result.DROPPED)


def transfer_list(transfer):
    """A ``transfer`` argument as (ports, C array of their handles or None)."""
    if transfer is None:
        return [], None
    if isinstance(transfer, MessagePort):
        raise TypeError("transfer must be a list of MessagePort objects, not a single MessagePort: use [port]")
    try:
        ports = list(transfer)
    except TypeError:
        raise TypeError("transfer must be a list of MessagePort objects, not {}".format(type(transfer).__name__)) from None
    if not ports:
        return [], None
    handles = []
    for port in ports:
        if not isinstance(port, MessagePort):
            raise TypeError("transfer list entries must be MessagePort objects, not {}".format(type(port).__name__))
        handle = port._handle
        if handle is None:
            raise DataCloneError("the transfer list holds a closed or already transferred MessagePort")
        handles.append(handle)
    return ports, (ctypes.c_void_p * len(handles))(*handles)


def _attach(obj, handle, window) -> None:
    """Gives a new MessagePort / BroadcastChannel object its handle and window (caller holds _state)."""
    obj._handle = handle
    obj._window = window
    _objects[handle] = obj
    if window is not None:
        if window._handle is None:
            obj._handle = None  # the window went away meanwhile, and its document's ports with it
        else:
            window._attached.add(obj)


class MessagePort:
    """One end of a ``MessageChannel`` (or a port received in ``event.ports``).

    Messages posted to a port wait until its first listener is added (which starts it), then
    follow its window's dispatch mode. ``post_message`` sends to the entangled partner port.
    Close it with ``close()`` or a ``with`` block; it is also closed when transferred (it then
    raises ``InvalidHandleError`` on use) and when its window is closed or navigates.
    """

    __slots__ = ("_handle", "_window", "__weakref__")

    def __init__(self, *args, **kwargs):
        raise TypeError("MessagePort objects come from MessageChannel(window) or event.ports")

    @classmethod
    def _for(cls, handle, window) -> MessagePort:
        """The MessagePort for a handle from the library: the object the program holds, else a
        new one belonging to ``window``."""
        with _state:
            port = _objects.get(handle)
            if isinstance(port, cls):
                return port
            port = cls.__new__(cls)
            _attach(port, handle, window)
            return port

    def _live_handle(self) -> int:
        handle = self._handle
        if handle is None:
            raise InvalidHandleError("the MessagePort is closed (closed, transferred, or its window was closed or navigated)")
        return handle

    @property
    def handle(self) -> int:
        """The ``pm_port *`` value, for passing this port to C code."""
        return self._live_handle()

    @property
    def closed(self) -> bool:
        """True once closed here, transferred away, or closed with its window."""
        return self._handle is None

    @_listeners.dispatches
    def post_message(self, data, transfer=()) -> bool:
        """Posts ``data`` (str as UTF-8, or bytes-like) to the entangled partner port, handing it
        the MessagePorts in ``transfer`` (closed here once posted).

        Returns True when delivered or queued (or waiting for the partner to be started), False
        when the partner is closed (the message and the transferred ports are dropped). Raises
        ``DataCloneError`` for a bad transfer list (this port, its partner, a duplicate, a closed
        port: nothing is posted or transferred), ``QueueFullError`` / ``DepthError`` when the
        receiving window refused it (nothing is posted or transferred).
        """
        handle = self._live_handle()
        payload = _message_bytes(data)
        ports, array = transfer_list(transfer)
        code = None
        try:
            with _listeners.dispatching():
                code = lib.pm_port_post_message(handle, payload, len(payload), array, len(ports))
        finally:
            if ports and code in _PORT_POST_CONSUMED:
                _mark_closed(ports)
        return _check(code) == Result.OK

    @_listeners.dispatches
    def add_listener(self, callback) -> int:
        """Registers ``callback(event)`` for messages to this port; returns its id. The first
        listener starts the port: messages that waited are delivered now (in SYNC mode, before
        this returns). Port events have ``origin`` "", ``source`` None, ``target`` this port,
        and ``reply()`` posts back through it. The callback is released when the listener is
        removed, or the port is closed or transferred, or its window is closed or navigates."""
        _callback_arg(callback)
        handle = self._live_handle()
        window = self._window
        key = _listeners.register(callback, _port_event_maker(handle, window))
        with _listeners.dispatching():
            listener_id = lib.pm_port_add_listener_full(
                handle, _listeners.LISTENER_TRAMPOLINE, key, _listeners.DESTROY_TRAMPOLINE
            )
            if listener_id == 0:
                _listeners.unregister(key)  # refused: the library will never call destroy
                raise _last_failure()
        return listener_id

    def remove_listener(self, listener_id: int) -> None:
        """Removes a listener of this port; it is not called again and its callback is released."""
        _check(lib.pm_port_remove_listener(self._live_handle(), _listener_id_arg(listener_id)))

    def close(self) -> None:
        """Disentangles and closes the port: later messages from its partner are dropped, and so
        are messages still waiting for it. Closing twice, or a transferred port, is a no-op."""
        with _state:
            handle = self._handle
            if handle is None:
                return
        code = lib.pm_port_close(handle)
        _mark_closed([self])
        if code != Result.ERR_INVALID_HANDLE:  # already closed with its window: closed either way
            _check(code)

    def __enter__(self) -> MessagePort:
        self._live_handle()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __repr__(self) -> str:
        handle = self._handle
        if handle is None:
            return "<postmessage.MessagePort closed>"
        return "<postmessage.MessagePort handle={:#x}>".format(handle)


def _port_event_maker(handle, window):
    """``make_event`` for a port listener: holds the port's handle and a weak reference to its
    window, not the MessagePort object (so that dropping it cannot keep a window alive)."""
    window_ref = weakref.ref(window) if window is not None else None

    def make_event(event_address):
        port = MessagePort._for(handle, window_ref() if window_ref is not None else None)
        return MessageEvent._from_c(event_address, port)

    return make_event


class MessageChannel:
    """A pair of entangled MessagePorts, ``port1`` and ``port2``, owned by ``window``'s current
    document: what one posts, the other receives. Hand a port to another window by transferring
    it: ``window.post_message(other, "port", "*", transfer=[channel.port2])``.

    ``with MessageChannel(w) as ch:`` closes both ports at the end of the block.
    """

    __slots__ = ("_port1", "_port2")

    def __init__(self, window: Window):
        if not isinstance(window, Window):
            raise TypeError("window must be a Window, not {}".format(type(window).__name__))
        handle = window._live_handle()
        port1 = ctypes.c_void_p()
        port2 = ctypes.c_void_p()
        _check(lib.pm_channel_new(handle, ctypes.byref(port1), ctypes.byref(port2)))
        self._port1 = MessagePort._for(port1.value, window)
        self._port2 = MessagePort._for(port2.value, window)

    @property
    def port1(self) -> MessagePort:
        return self._port1

    @property
    def port2(self) -> MessagePort:
        return self._port2

    def close(self) -> None:
        """Closes both ports (those not transferred away)."""
        self._port1.close()
        self._port2.close()

    def __enter__(self) -> MessageChannel:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<postmessage.MessageChannel port1={!r} port2={!r}>".format(self._port1, self._port2)


class BroadcastChannel:
    """``new BroadcastChannel(name)`` in ``window``'s current document.

    ``post_message(data)`` reaches every other open BroadcastChannel with the same name whose
    window has the same origin (in creation order, never the sender itself), following each
    receiving window's dispatch mode. Events carry the sender's origin, ``source`` None and
    ``target`` the receiving channel. Close it with ``close()`` or a ``with`` block; it is also
    closed when its window is closed or navigates.
    """

    __slots__ = ("_handle", "_window", "_name", "__weakref__")

    def __init__(self, window: Window, name):
        if not isinstance(window, Window):
            raise TypeError("window must be a Window, not {}".format(type(window).__name__))
        name_c = _c_string(name, "name")
        handle = lib.pm_broadcast_new(window._live_handle(), name_c)
        if not handle:
            raise _last_failure()
        self._name = name_c.decode("utf-8")
        with _state:
            _attach(self, handle, window)

    @classmethod
    def _for(cls, handle, name, window) -> BroadcastChannel:
        with _state:
            channel = _objects.get(handle)
            if isinstance(channel, cls):
                return channel
            channel = cls.__new__(cls)
            channel._name = name
            _attach(channel, handle, window)
            return channel

    def _live_handle(self) -> int:
        handle = self._handle
        if handle is None:
            raise InvalidHandleError("the BroadcastChannel is closed (closed, or its window was closed or navigated)")
        return handle

    @property
    def name(self) -> str:
        return self._name

    @property
    def handle(self) -> int:
        """The ``pm_broadcast *`` value, for passing this channel to C code."""
        return self._live_handle()

    @property
    def closed(self) -> bool:
        return self._handle is None

    @_listeners.dispatches
    def post_message(self, data) -> None:
        """Sends ``data`` (str as UTF-8, or bytes-like) to the other same-name, same-origin
        channels. Listeners in SYNC windows run before this returns. Raises ``QueueFullError`` /
        ``DepthError`` when some receiver refused it (the others still received it)."""
        handle = self._live_handle()
        payload = _message_bytes(data)
        with _listeners.dispatching():
            code = lib.pm_broadcast_post_message(handle, payload, len(payload))
        _check(code)

    def add_listener(self, callback) -> int:
        """Registers ``callback(event)`` for messages to this channel; returns its id. The
        callback is released when the listener is removed, or the channel or its window is closed,
        or the window navigates."""
        _callback_arg(callback)
        handle = self._live_handle()
        key = _listeners.register(callback, _broadcast_event_maker(handle, self._name, self._window))
        listener_id = lib.pm_broadcast_add_listener_full(
            handle, _listeners.LISTENER_TRAMPOLINE, key, _listeners.DESTROY_TRAMPOLINE
        )
        if listener_id == 0:
            _listeners.unregister(key)
            raise _last_failure()
        return listener_id

    def remove_listener(self, listener_id: int) -> None:
        """Removes a listener of this channel; it is not called again and its callback is released."""
        _check(lib.pm_broadcast_remove_listener(self._live_handle(), _listener_id_arg(listener_id)))

    def close(self) -> None:
        """Closes the channel: it receives nothing more, not even messages already queued for it.
        Closing twice is a no-op."""
        with _state:
            handle = self._handle
            if handle is None:
                return
        code = lib.pm_broadcast_close(handle)
        _mark_closed([self])
        if code != Result.ERR_INVALID_HANDLE:
            _check(code)

    def __enter__(self) -> BroadcastChannel:
        self._live_handle()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._handle is None:
            return "<postmessage.BroadcastChannel name={!r} closed>".format(self._name)
        return "<postmessage.BroadcastChannel name={!r} handle={:#x}>".format(self._name, self._handle)


def _broadcast_event_maker(handle, name, window):
    window_ref = weakref.ref(window) if window is not None else None

    def make_event(event_address):
        channel = BroadcastChannel._for(handle, name, window_ref() if window_ref is not None else None)
        return MessageEvent._from_c(event_address, channel)

    return make_event
