"""Shared test setup: import the in-tree package, and small helpers.

Imported first by every test module, so the tests run the same from the repository root
(`python3 -m unittest discover -s python/tests`) and from python/ (`-s tests`).
"""

import contextlib
import gc
import os
import sys

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != PYTHON_DIR:
    sys.path.insert(0, PYTHON_DIR)

import postmessage  # noqa: E402
from postmessage import _lib, _listeners  # noqa: E402

raw = _lib.lib


def handle_alive(handle):
    """Whether the library still knows this window handle."""
    return raw.pm_window_origin(handle, None, 0) != 0


def registered():
    """How many Python callbacks the library still holds."""
    gc.collect()
    return _listeners.registered_count()


@contextlib.contextmanager
def unraisable_hook():
    """Collects what sys.unraisablehook receives."""
    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = old
