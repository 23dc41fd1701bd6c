"""postmessage: the web's ``window.postMessage`` and ``message`` event, for Python.

A ctypes binding to libpostmessage (stdlib only)::

    from postmessage import Window

    a = Window("http://127.0.0.1/")                 # document A
    b = Window("http://localhost/", parent=a)       # document B, an iframe inside A
    b.add_listener(lambda e: e.reply("Hello") if e.text == "Hello World" else None)
    a.add_listener(lambda e: print(e.origin, e.text))
    a.post_message(b, "Hello World", "http://localhost")   # prints: http://localhost Hello

Also: queued delivery (``Window.dispatch_mode = QUEUED``, ``set_waker``, ``run_pending``),
``MessageChannel`` / ``MessagePort`` (transferable with ``transfer=[port]``), ``BroadcastChannel``,
allow-list listeners (``add_listener(cb, origins=[...])``), ``set_drop_handler``,
``register_standard_scheme``, and remote windows for documents in other processes
(``RemoteWindow(url, send)``, ``Window.deliver(record, source)``, ``set_broadcast_forwarder``).

The shared library is loaded from ``$POSTMESSAGE_LIB``, else the copy inside this package (which
``pip install ./python`` puts there), else this repository's ``target/release/`` then
``target/debug/``, else the system library path.
"""

from ._lib import LIBRARY_PATH as library_path
from ._lib import LibraryNotFoundError
from ._lib import lib as _raw_lib
from ._errors import (
    ClosedError,
    DataCloneError,
    DepthError,
    Error,
    InvalidArgumentError,
    InvalidHandleError,
    InvalidURLError,
    NullArgumentError,
    PanicError,
    QueueFullError,
    Result,
    SourceOriginError,
    TargetOriginSyntaxError,
    UTF8Error,
)
from ._listeners import UnraisableHookArgs
from ._window import DispatchMode, MessageEvent, Window
from ._channels import BroadcastChannel, MessageChannel, MessagePort
from ._extensions import DropEvent, DropReason, register_standard_scheme, set_drop_handler
from ._remote import RemoteWindow, RemoteWindowsUnavailable, deliver, set_broadcast_forwarder

__version__ = "0.1.0"

for _cls in (
    Window,
    MessageEvent,
    MessageChannel,
    MessagePort,
    BroadcastChannel,
    DispatchMode,
    DropEvent,
    DropReason,
    Result,
    Error,
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
    RemoteWindow,
    RemoteWindowsUnavailable,
    LibraryNotFoundError,
    UnraisableHookArgs,
):
    _cls.__module__ = __name__  # shown (and pickled) as postmessage.X
del _cls
for _fn in (register_standard_scheme, set_drop_handler, deliver, set_broadcast_forwarder):
    _fn.__module__ = __name__
del _fn

#: ``Window.dispatch_mode`` values (``PM_DISPATCH_SYNC`` / ``PM_DISPATCH_QUEUED``).
SYNC = DispatchMode.SYNC
QUEUED = DispatchMode.QUEUED

#: Nested dispatches allowed on one thread (``PM_MAX_DISPATCH_DEPTH`` in the C header).
MAX_DISPATCH_DEPTH = 32

# The C names of the result codes, as module constants: postmessage.PM_ERR_SYNTAX == 4.
globals().update({"PM_" + _r.name: _r for _r in Result})


def library_version() -> str:
    """The loaded libpostmessage's version (``pm_version()``), e.g. "0.1.0"."""
    return _raw_lib.pm_version().decode("ascii")


__all__ = [
    "Window",
    "MessageEvent",
    "MessageChannel",
    "MessagePort",
    "BroadcastChannel",
    "DispatchMode",
    "SYNC",
    "QUEUED",
    "DropEvent",
    "DropReason",
    "set_drop_handler",
    "register_standard_scheme",
    "Result",
    "Error",
    "NullArgumentError",
    "InvalidHandleError",
    "TargetOriginSyntaxError",
    "InvalidURLError",
    "UTF8Error",
    "DepthError",
    "PanicError",
    "DataCloneError",
    "ClosedError",
    "QueueFullError",
    "InvalidArgumentError",
    "SourceOriginError",
    "RemoteWindow",
    "RemoteWindowsUnavailable",
    "deliver",
    "set_broadcast_forwarder",
    "LibraryNotFoundError",
    "UnraisableHookArgs",
    "MAX_DISPATCH_DEPTH",
    *("PM_" + _r.name for _r in Result),
    "library_path",
    "library_version",
]
