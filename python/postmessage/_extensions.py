"""Embedder extensions beyond the standard: the drop handler and standard schemes. (Allow-list
listeners are ``Window.add_listener(callback, origins=[...])``.)"""

from __future__ import annotations

import enum
import threading

from . import _lib, _listeners
from ._window import Window, _c_string, _check

lib = _lib.lib


class DropReason(enum.IntEnum):
    """``pm_drop_reason``: why a message was not delivered."""

    #: targetOrigin did not match the target's origin.
    ORIGIN_MISMATCH = 1
    #: Queued for a document the window has navigated away from.
    NAVIGATED = 2
    #: The target window was freed, or the port's partner (or the receiving channel) closed,
    #: before delivery.
    TARGET_GONE = 3
    #: Refused with ``QueueFullError``.
    QUEUE_FULL = 4
    #: Refused with ``DepthError``.
    DEPTH = 5
    #: Skipped by one allow-list listener (reported once per such listener).
    FILTERED = 6


class DropEvent:
    """A message the library decided not to deliver, as the drop handler receives it (a copy).

    ``reason`` (a ``DropReason``), ``source_origin`` (the sender's serialized origin; "" for port
    messages), ``target_origin`` (the origin of the document the message was meant for -- for
    ``NAVIGATED`` the old one; "" if unknown), ``requested_origin`` (the targetOrigin the poster
    gave; "" for ports and broadcasts), ``source`` and ``target`` (Window objects, or None when
    unknown or gone; ``source`` is None for port and broadcast messages) and ``data_len``.
    """

    __slots__ = ("reason", "source_origin", "target_origin", "requested_origin", "source", "target", "data_len")

    def __init__(self, reason, source_origin, target_origin, requested_origin, source, target, data_len):
        self.reason = reason
        self.source_origin = source_origin
        self.target_origin = target_origin
        self.requested_origin = requested_origin
        self.source = source
        self.target = target
        self.data_len = data_len

    @classmethod
    def _from_c(cls, event: _lib.pm_drop_event) -> DropEvent:
        try:
            reason = DropReason(event.reason)
        except ValueError:  # a reason newer than this binding: keep the number
            reason = event.reason
        return cls(
            reason,
            (event.source_origin or b"").decode("utf-8", "replace"),
            (event.target_origin or b"").decode("utf-8", "replace"),
            (event.requested_origin or b"").decode("utf-8", "replace"),
            Window._for(event.source),
            Window._for(event.target),
            event.data_len,
        )

    def __repr__(self) -> str:
        reason = self.reason.name if isinstance(self.reason, DropReason) else self.reason
        return "<postmessage.DropEvent {} source_origin={!r} target_origin={!r} requested_origin={!r} data_len={}>".format(
            reason, self.source_origin, self.target_origin, self.requested_origin, self.data_len
        )


_handler = None
_handler_lock = threading.Lock()


def _on_drop(event_ptr, _user_data):
    handler = _handler
    if handler is not None:
        _listeners.call_guarded(handler, DropEvent._from_c, event_ptr.contents, _listeners.DROP_HANDLER_ERR_MSG)


DROP_TRAMPOLINE = _lib.pm_drop_fn(_on_drop)
_NO_HANDLER = _lib.pm_drop_fn()  # a NULL pm_drop_fn


def set_drop_handler(handler):
    """Sets the process-wide drop handler, ``handler(event)`` with a ``DropEvent``, told about
    every message the library decides not to deliver (a targetOrigin mismatch, a full queue, a
    closed port...), on the thread that decided it; ``None`` removes it. Returns the previous
    handler (None if none was set through this function), so it can be restored.

    Exceptions it raises are reported like a listener's (``sys.unraisablehook``). It may call the
    library; a drop it causes is not reported again.
    """
    global _handler
    if handler is not None and not callable(handler):
        raise TypeError("handler must be callable or None, not {}".format(type(handler).__name__))
    with _handler_lock:
        previous = _handler
        _handler = handler
        lib.pm_set_drop_handler(_NO_HANDLER if handler is None else DROP_TRAMPOLINE, None)
    return previous


def register_standard_scheme(scheme) -> None:
    """Makes URLs of ``scheme`` (case-insensitive, e.g. "app") get tuple origins parsed like
    http's: ``Window("app://UI:8080/x").origin == "app://ui:8080"``. Process-wide and permanent.
    Windows created earlier keep their origin; windows created or navigated, and targetOrigins and
    allow-lists parsed, afterwards use it. A scheme that already has tuple origins ("https") is
    accepted and changes nothing; an invalid name, or file, blob, data, about or javascript,
    raises ``InvalidArgumentError``."""
    _check(lib.pm_register_standard_scheme(_c_string(scheme, "scheme")))
