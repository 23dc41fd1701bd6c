"""Builds the wheel: the pure-Python package plus libpostmessage, compiled by cargo.

setuptools-rust runs ``cargo rustc --release --crate-type cdylib`` on the repository's
Cargo.toml (``../Cargo.toml``: build from a checkout, ``pip install ./python`` or
``pip wheel ./python``) and copies the library into the package. Two adjustments, because it
is a C library loaded with ctypes rather than a Python extension module:

* it keeps its own file name (``postmessage/libpostmessage.so``), not an extension module's
  ``.cpython-311-x86_64-linux-gnu.so`` name;
* the wheel is tagged ``py3-none-<platform>``: it works with any Python 3 on that platform,
  since nothing in it links against Python.

``CARGO_TARGET_DIR`` is honoured, so a build can reuse an existing cargo cache.
"""

import os
import runpy
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools_rust import Binding, RustExtension, Strip
from setuptools_rust.build import build_rust

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "..", "Cargo.toml")

# The package's own name for the library (run, not imported: importing the package loads it).
LIBRARY_FILE = runpy.run_path(os.path.join(HERE, "postmessage", "_libname.py"))["LIBRARY_FILE"]

if not os.path.isfile(MANIFEST):
    sys.exit(
        "postmessage: {} not found. Build the package from a checkout of the repository "
        "(pip install ./python), where the Rust library's sources are.".format(os.path.normpath(MANIFEST))
    )


class BuildLibrary(build_rust):
    """Copies the library to postmessage/<its platform file name>, where _lib.py looks."""

    def get_dylib_ext_path(self, ext, target_fname):
        default = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(default), LIBRARY_FILE)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: the library is native code, but no Python ABI is involved."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    rust_extensions=[
        RustExtension(
            "postmessage.libpostmessage",
            path=MANIFEST,
            binding=Binding.NoBinding,
            # The release profile keeps line tables for profiling; the wheel does not need them.
            strip=Strip.Debug,
        )
    ],
    cmdclass={"build_rust": BuildLibrary, "bdist_wheel": PlatformWheel},
)
