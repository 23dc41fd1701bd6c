"""The shared library's file name on this platform: where the wheel puts it (setup.py reads
this file without importing the package) and what _lib.py looks for."""

import sys

if sys.platform == "win32":
    LIBRARY_FILE = "postmessage.dll"
elif sys.platform == "darwin":
    LIBRARY_FILE = "libpostmessage.dylib"
else:
    LIBRARY_FILE = "libpostmessage.so"
