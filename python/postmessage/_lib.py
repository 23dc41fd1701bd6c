"""Finding and loading libpostmessage, and the ctypes declarations of its C API.

Nothing here is public API: the rest of the package calls ``lib.pm_*`` with the prototypes
declared below, which mirror ``include/postmessage.h``.

Where the library comes from, first match wins:

1. ``POSTMESSAGE_LIB``: the path of the shared library (nothing else is tried when it is set);
2. the copy inside the package (``postmessage/libpostmessage.so``), which an installed package
   (``pip install ./python``, a wheel) carries;
3. the repository this package sits in, for development: ``$CARGO_TARGET_DIR`` if set, then
   ``target/release/``, then ``target/debug/``;
4. the system's library search path (``ctypes.util.find_library``, ``LD_LIBRARY_PATH``...).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_size_t,
    c_uint,
    c_uint64,
    c_void_p,
)
from pathlib import Path

from ._libname import LIBRARY_FILE

#: The directory of this package: an installed package carries the library here.
PACKAGE_DIR = Path(__file__).resolve().parent
#: The repository checkout this package lives in (python/postmessage/ -> the repository root).
REPO_ROOT = PACKAGE_DIR.parent.parent


class LibraryNotFoundError(ImportError):
    """libpostmessage could not be found or loaded. The message says how to build it."""


LibraryNotFoundError.__module__ = "postmessage"


def _how_to_build() -> str:
    if (REPO_ROOT / "Cargo.toml").is_file():
        build = "Build it with:  cd {} && cargo build --release   (or `make demo`),\n".format(REPO_ROOT)
    else:
        build = (
            "This copy of the package carries no library: install it from a checkout of the\n"
            "postmessage repository with `pip install ./python`, which builds the library into the\n"
            "package (or build it there with `cargo build --release`),\n"
        )
    return build + "or set POSTMESSAGE_LIB to the path of an existing {}.".format(LIBRARY_FILE)


def _candidates() -> list[Path]:
    """The files to try before the system path: the package's own copy, then the repository's."""
    dirs = [PACKAGE_DIR]
    if os.environ.get("CARGO_TARGET_DIR"):
        target = Path(os.environ["CARGO_TARGET_DIR"])
        dirs += [target / "release", target / "debug"]
    dirs += [REPO_ROOT / "target" / "release", REPO_ROOT / "target" / "debug"]
    return [d / LIBRARY_FILE for d in dirs]


def _load() -> tuple[ctypes.CDLL, str]:
    explicit = os.environ.get("POSTMESSAGE_LIB")
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as e:
            raise LibraryNotFoundError(
                "POSTMESSAGE_LIB={!r} could not be loaded: {}\n{}".format(explicit, e, _how_to_build())
            ) from e

    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            try:
                return ctypes.CDLL(str(path)), str(path)
            except OSError as e:
                raise LibraryNotFoundError(
                    "{} exists but could not be loaded: {}\n{}".format(path, e, _how_to_build())
                ) from e

    for name in (ctypes.util.find_library("postmessage"), LIBRARY_FILE):
        if not name:
            continue
        tried.append(name + " (system library path)")
        try:
            return ctypes.CDLL(name), name
        except OSError:
            pass

    raise LibraryNotFoundError(
        "libpostmessage was not found. Looked for:\n  {}\n{}".format("\n  ".join(tried), _how_to_build())
    )


lib, LIBRARY_PATH = _load()


class pm_message_event(Structure):
    """``pm_message_event``; the library only ever appends fields. ``data`` is a ``char *``
    pointer object (``data[:data_len]`` copies the bytes in one step), ``ports`` a
    ``pm_port **`` one (``ports[i]`` is a handle)."""

    _fields_ = [
        ("data", POINTER(c_char)),
        ("data_len", c_size_t),
        ("origin", c_char_p),
        ("last_event_id", c_char_p),
        ("source", c_void_p),
        ("target", c_void_p),
        ("ports", POINTER(c_void_p)),
        ("ports_len", c_size_t),
    ]


class pm_drop_event(Structure):
    """``pm_drop_event``; the library only ever appends fields."""

    _fields_ = [
        ("reason", c_int),
        ("source_origin", c_char_p),
        ("target_origin", c_char_p),
        ("requested_origin", c_char_p),
        ("source", c_void_p),
        ("target", c_void_p),
        ("data_len", c_size_t),
    ]


# The event arrives as its address (an int), which ctypes makes far more cheaply than a pointer
# object; the listener reads it with pm_message_event.from_address.
pm_listener_fn = CFUNCTYPE(None, c_void_p, c_void_p)
pm_destroy_fn = CFUNCTYPE(None, c_void_p)
pm_wake_fn = CFUNCTYPE(None, c_void_p, c_void_p)
pm_drop_fn = CFUNCTYPE(None, POINTER(pm_drop_event), c_void_p)

#: SIZE_MAX: "no limit" for pm_window_run_pending.
SIZE_MAX = (1 << (8 * ctypes.sizeof(c_size_t))) - 1

# Handles (pm_window *, pm_port *, pm_broadcast *) are opaque pointer-sized values: c_void_p, seen from Python as int/None.
# pm_result is a C enum: c_int.
_PROTOTYPES = {
    "pm_last_error": (c_char_p, []),
    "pm_last_error_code": (c_int, []),
    "pm_version": (c_char_p, []),
    "pm_window_new": (c_void_p, [c_char_p]),
    "pm_window_new_child": (c_void_p, [c_void_p, c_char_p]),
    "pm_window_free": (c_int, [c_void_p]),
    "pm_window_navigate": (c_int, [c_void_p, c_char_p]),
    "pm_window_origin": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "pm_window_parent": (c_void_p, [c_void_p]),
    "pm_add_listener_full": (c_uint64, [c_void_p, pm_listener_fn, c_void_p, pm_destroy_fn]),
    "pm_remove_listener": (c_int, [c_void_p, c_uint64]),
    "pm_post_message": (c_int, [c_void_p, c_void_p, c_char_p, c_size_t, c_char_p]),
    "pm_post_message_transfer": (
        c_int,
        [c_void_p, c_void_p, c_char_p, c_size_t, c_char_p, POINTER(c_void_p), c_size_t],
    ),
    # Delivery modes. pm_dispatch_mode is taken as an unsigned integer by the library.
    "pm_window_set_dispatch_mode": (c_int, [c_void_p, c_uint]),
    "pm_window_set_waker": (c_int, [c_void_p, pm_wake_fn, c_void_p]),
    "pm_window_run_pending": (c_size_t, [c_void_p, c_size_t]),
    "pm_window_pending": (c_size_t, [c_void_p]),
    "pm_window_set_queue_limit": (c_int, [c_void_p, c_size_t, c_size_t]),
    # MessageChannel and BroadcastChannel.
    "pm_channel_new": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "pm_port_post_message": (c_int, [c_void_p, c_char_p, c_size_t, POINTER(c_void_p), c_size_t]),
    "pm_port_add_listener_full": (c_uint64, [c_void_p, pm_listener_fn, c_void_p, pm_destroy_fn]),
    "pm_port_remove_listener": (c_int, [c_void_p, c_uint64]),
    "pm_port_close": (c_int, [c_void_p]),
    "pm_broadcast_new": (c_void_p, [c_void_p, c_char_p]),
    "pm_broadcast_post_message": (c_int, [c_void_p, c_char_p, c_size_t]),
    "pm_broadcast_add_listener_full": (c_uint64, [c_void_p, pm_listener_fn, c_void_p, pm_destroy_fn]),
    "pm_broadcast_remove_listener": (c_int, [c_void_p, c_uint64]),
    "pm_broadcast_close": (c_int, [c_void_p]),
    # Embedder extensions.
    "pm_add_listener_for_origins": (
        c_uint64,
        [c_void_p, POINTER(c_char_p), c_size_t, pm_listener_fn, c_void_p, pm_destroy_fn],
    ),
    "pm_set_drop_handler": (c_int, [pm_drop_fn, c_void_p]),
    "pm_register_standard_scheme": (c_int, [c_char_p]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise LibraryNotFoundError(
            "{} does not export {}(): it is not libpostmessage, or it is too old.\n{}".format(
                LIBRARY_PATH, _name, _how_to_build()
            )
        ) from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes


# pm_post_message for Window.post_message's common case, called without argtypes: with them,
# ctypes converts each argument through its type's from_param, a Python-level call per argument
# per post. Its callers pass exactly typed values: c_void_p handles (Window keeps one per
# handle), bytes for the data and the targetOrigin (NUL-terminated by Python), and a c_size_t
# length (SIZES).
post_message_unconverted = lib["pm_post_message"]
post_message_unconverted.restype = c_int
post_message_unconverted.argtypes = None
#: c_size_t(n) for the small lengths, shared (never mutated): making one costs a call per post.
SIZES = tuple(c_size_t(n) for n in range(1024))


def last_error() -> str:
    """This thread's last failure message from the library ("" if none)."""
    raw = lib.pm_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def last_error_code() -> int:
    """This thread's last failure code (``pm_last_error_code()``; ``OK`` if none)."""
    return lib.pm_last_error_code()


def prime_last_error() -> None:
    """Makes this thread's last failure a known ``PM_ERR_NULL_ARGUMENT``, so that after a call
    whose 0 return is ambiguous (``pm_window_run_pending``, ``pm_window_pending``) a different
    ``last_error_code()`` tells that the call failed. Only a failure changes the code."""
    lib.pm_window_set_dispatch_mode(None, 0)
