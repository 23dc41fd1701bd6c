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
_thread = threading.local()  # .depth: Python calls dispatching on this thread; .stopper


def _on_event(event_ptr, key):
    if getattr(_thread, "stopper", None) is not None:
        return  # a KeyboardInterrupt/SystemExit is on its way out: run no more listeners
    entry = _entries.get(key)
    if entry is None:
        return
    callback, make_event = entry
    call_guarded(callback, make_event, event_ptr.contents)


def call_guarded(callback, make_argument, raw, err_msg=None) -> None:
    """Runs ``callback(make_argument(raw))`` for the library (a listener, a waker, the drop
    handler): nothing may unwind into C. An ``Exception`` is reported; a ``KeyboardInterrupt`` or
    ``SystemExit`` is kept for the ``dispatching`` call that started this (reported if none)."""
    try:
        callback(make_argument(raw))
    except Exception as exc:
        _report_safely(exc, callback, err_msg)
    except BaseException as exc:
        if getattr(_thread, "depth", 0) > 0:
            _thread.stopper = exc  # re-raised by the `dispatching` call that started this
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
    """Wraps a library call that may run listeners on this thread (a post, ``run_pending``,
    adding a port listener, which starts the port): re-raises a ``KeyboardInterrupt`` or
    ``SystemExit`` that a listener, waker or drop handler raised."""

    __slots__ = ()

    def __enter__(self):
        _thread.depth = getattr(_thread, "depth", 0) + 1

    def __exit__(self, exc_type, exc, tb):
        _thread.depth -= 1
        stopper = getattr(_thread, "stopper", None)
        if stopper is not None and (exc is None or _thread.depth == 0):
            _thread.stopper = None  # never left behind once the outermost call is done
            if exc is None:
                raise stopper
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
