"""Python callables behind C listeners: the trampolines, their lifetime, and exception handling.

Every C listener this package registers uses the same two module-level ctypes trampolines (kept
alive for the life of the process). Its ``user_data`` is an integer key into ``_entries``, which
holds the Python callable and the function that turns the C event into a Python one. The entry
lives until the library calls the destroy trampoline: that is when the listener has been removed
(``remove_listener``, navigation, closing the window) and its last running call has returned, so
a registered callback can never be garbage-collected, and a removed one is released promptly.

An ``Exception`` raised by a callback is reported through ``sys.unraisablehook`` (printed like
any unraisable exception by default) and the remaining listeners still run, as in a browser. A
``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) stops the
dispatch instead: the remaining listeners of the posts in progress on this thread are skipped,
and the outermost Python call that started them re-raises it.

A callback gets the event's address (``pm_listener_fn`` takes a ``c_void_p``) and the listener's
key: ctypes then makes two ints, not a pointer object, and the event is read with one
``from_address``.
"""

from __future__ import annotations

import collections
import itertools
import sys
import threading
import traceback

from . import _lib

_keys = itertools.count(1)
# key -> (callback, make_event). Mutated only with single dict operations (atomic under the GIL),
# so no lock is needed, and none can be deadlocked by a callback or a finalizer.
_entries: dict = {}
_entries_get = _entries.get

# Thread id -> the KeyboardInterrupt/SystemExit a callback raised on that thread, waiting for the
# dispatching Python call that started it to re-raise it. Empty almost always, so the hot paths
# (every listener call, every post) pay one truthiness test of a module global for it, not a
# thread-local lookup; single dict operations only (atomic under the GIL).
_stoppers: dict = {}
# The code objects of the functions that call into the library in a way that may run callbacks
# on the calling thread (see ``dispatches``): a callback finds out whether such a call is on its
# thread's stack -- whether a stopper will be re-raised -- by walking its frames, which only a
# KeyboardInterrupt/SystemExit makes it do.
_dispatch_codes: set = set()
_get_ident = threading.get_ident


def dispatches(function):
    """Marks ``function`` as one that may run callbacks on its thread (a post, ``run_pending``,
    adding a port listener...): it must call ``raise_pending()`` after each such library call
    (or wrap it in ``with dispatching():``)."""
    _dispatch_codes.add(function.__code__)
    return function


def _dispatch_on_stack(frame) -> bool:
    """Whether a ``dispatches`` function is running at or below ``frame`` on this thread."""
    while frame is not None:
        if frame.f_code in _dispatch_codes:
            return True
        frame = frame.f_back
    return False


def raise_pending() -> None:
    """Re-raises the KeyboardInterrupt/SystemExit a callback on this thread raised, if any.
    Call it only when ``_stoppers`` is non-empty (``if _listeners._stoppers: raise_pending()``)."""
    stopper = _stoppers.pop(_get_ident(), None)
    if stopper is not None:
        raise stopper


def _on_event(event_address, key):
    # The per-message path: kept to a few dictionary operations and one call.
    if _stoppers and _get_ident() in _stoppers:
        return  # a KeyboardInterrupt/SystemExit is on its way out: run no more listeners
    entry = _entries_get(key)
    if entry is None:
        return
    callback = entry[0]
    try:
        callback(entry[1](event_address))
    except Exception as exc:
        _report_safely(exc, callback)
    except BaseException as exc:
        stop_or_report(exc, callback)


def call_guarded(callback, make_argument, raw, err_msg=None) -> None:
    """Runs ``callback(make_argument(raw))`` for the library (a listener, a waker, the drop
    handler): nothing may unwind into C. An ``Exception`` is reported; a ``KeyboardInterrupt`` or
    ``SystemExit`` is kept for the ``dispatching`` call that started this (reported if none)."""
    try:
        callback(make_argument(raw))
    except Exception as exc:
        _report_safely(exc, callback, err_msg)
    except BaseException as exc:
        stop_or_report(exc, callback, err_msg)


def stop_or_report(exc, callback, err_msg=None) -> None:
    """A KeyboardInterrupt/SystemExit from a callback: kept for the Python call on this thread
    that started the dispatch (which re-raises it; the remaining listeners are skipped), or
    reported when there is none (the library called back on a thread of its own, or from C)."""
    if _dispatch_on_stack(sys._getframe(1)):
        _stoppers[_get_ident()] = exc
    else:
        _report_safely(exc, callback, err_msg)


def _report_safely(exc, callback, err_msg=None):
    try:
        report_exception(exc, callback if callback is not None else _on_event, err_msg)
    except BaseException:  # nothing may unwind into C
        pass


def _on_destroy(key):
    _entries.pop(key, None)


LISTENER_TRAMPOLINE = _lib.pm_listener_fn(_on_event)
DESTROY_TRAMPOLINE = _lib.pm_destroy_fn(_on_destroy)


def register(callback, make_event) -> int:
    """Stores a callback; returns the key to pass as ``user_data`` with the trampolines.

    Call ``unregister(key)`` if the library refuses the listener (destroy is then never called).
    """
    key = next(_keys)
    _entries[key] = (callback, make_event)
    return key


def unregister(key: int) -> None:
    _entries.pop(key, None)


def registered_count() -> int:
    """How many callbacks the library still holds (for tests and leak checks)."""
    return len(_entries)


class dispatching:
    """Wraps a library call that may run listeners on this thread inside a ``dispatches``
    function: re-raises a ``KeyboardInterrupt`` or ``SystemExit`` that a listener, waker or drop
    handler raised. When the call itself raised, the stopper is kept for an outer dispatching
    call, or dropped if there is none (the call's own exception propagates)."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not _stoppers:
            return False
        if exc is None:
            raise_pending()
        elif not _dispatch_on_stack(sys._getframe(2)):
            _stoppers.pop(_get_ident(), None)  # never left behind once the outermost call is done
        return False


UnraisableHookArgs = collections.namedtuple(
    "UnraisableHookArgs", "exc_type exc_value exc_traceback err_msg object"
)
UnraisableHookArgs.__doc__ = "What ``sys.unraisablehook`` receives (the attributes of the built-in type)."

ERR_MSG = "Exception ignored in postmessage listener"
WAKER_ERR_MSG = "Exception ignored in postmessage waker"
DROP_HANDLER_ERR_MSG = "Exception ignored in postmessage drop handler"


def report_exception(exc: BaseException, callback, err_msg=None) -> None:
    """Reports an exception a listener (or waker, or drop handler) raised, as an unraisable
    exception."""
    args = UnraisableHookArgs(type(exc), exc, exc.__traceback__, err_msg or ERR_MSG, callback)
    hook = sys.unraisablehook
    if hook is not sys.__unraisablehook__:
        try:
            hook(args)
            return
        except Exception:
            pass  # e.g. a hook that insists on the built-in argument type: print it ourselves
    _print_unraisable(args)


def _print_unraisable(args) -> None:
    """Prints like the default ``sys.unraisablehook``."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        try:
            what = repr(args.object)
        except Exception:
            what = "<object repr() failed>"
        stream.write("{}: {}\n".format(args.err_msg, what))
        stream.write("".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))
        stream.flush()
    except Exception:
        pass
