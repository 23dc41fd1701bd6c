"""Finding the shared library: POSTMESSAGE_LIB, the package's own copy, the repository's
target/, and a clear error."""

import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import _support
import postmessage


def run_python(code, env_changes, cwd=None):
    env = dict(os.environ)
    env.pop("POSTMESSAGE_LIB", None)
    env.pop("CARGO_TARGET_DIR", None)
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )


class Loading(unittest.TestCase):
    def test_loaded_from_the_repository_by_default(self):
        expected = [
            os.path.join(_support.PYTHON_DIR, "..", "target", profile, postmessage._lib.LIBRARY_FILE)
            for profile in ("release", "debug")
        ]
        found = [os.path.realpath(p) for p in expected if os.path.isfile(p)]
        if os.environ.get("POSTMESSAGE_LIB") or os.environ.get("CARGO_TARGET_DIR") or not found:
            self.skipTest("library comes from elsewhere in this environment")
        self.assertEqual(os.path.realpath(postmessage.library_path), found[0])

    def test_import_from_the_python_directory(self):
        out = run_python("import postmessage; print(postmessage.library_version())", {}, cwd=_support.PYTHON_DIR)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), postmessage.library_version())

    def test_postmessage_lib_wins(self):
        path = os.path.abspath(postmessage.library_path)
        out = run_python("import postmessage; print(postmessage.library_path)", {"POSTMESSAGE_LIB": path}, cwd=_support.PYTHON_DIR)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), path)

    def test_bad_postmessage_lib_is_a_clear_error(self):
        out = run_python("import postmessage", {"POSTMESSAGE_LIB": "/nonexistent/libpostmessage.so"}, cwd=_support.PYTHON_DIR)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("LibraryNotFoundError", out.stderr)
        self.assertIn("POSTMESSAGE_LIB='/nonexistent/libpostmessage.so'", out.stderr)
        self.assertIn("cargo build --release", out.stderr)

    def test_a_library_that_is_not_postmessage(self):
        libc = ctypes.util.find_library("c")
        if not libc or sys.platform != "linux":
            self.skipTest("needs a libc to load")
        out = run_python("import postmessage", {"POSTMESSAGE_LIB": libc}, cwd=_support.PYTHON_DIR)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("does not export pm_", out.stderr)

    def test_the_package_s_own_library_comes_first(self):
        # What an installed package (a wheel) looks like: the library inside the package. It
        # wins over a repository's target/ (here: the one CARGO_TARGET_DIR names).
        with tempfile.TemporaryDirectory() as tmp:
            package = os.path.join(tmp, "site", "postmessage")
            shutil.copytree(
                os.path.join(_support.PYTHON_DIR, "postmessage"),
                package,
                ignore=shutil.ignore_patterns("__pycache__", "libpostmessage.*"),
            )
            bundled = os.path.join(package, postmessage._lib.LIBRARY_FILE)
            shutil.copyfile(postmessage.library_path, bundled)
            out = run_python(
                "import postmessage; print(postmessage.library_path)",
                {"CARGO_TARGET_DIR": os.path.dirname(os.path.dirname(postmessage.library_path))},
                cwd=os.path.join(tmp, "site"),
            )
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), bundled)

    def test_not_found_says_how_to_build(self):
        if ctypes.util.find_library("postmessage"):
            self.skipTest("a libpostmessage is installed system-wide")
        with tempfile.TemporaryDirectory() as tmp:
            # A copy of the package in a tree with no target/ directory.
            shutil.copytree(
                os.path.join(_support.PYTHON_DIR, "postmessage"),
                os.path.join(tmp, "python", "postmessage"),
                ignore=shutil.ignore_patterns("__pycache__", "libpostmessage.*"),
            )
            out = run_python(
                "import postmessage",
                {"LD_LIBRARY_PATH": "", "DYLD_LIBRARY_PATH": ""},
                cwd=os.path.join(tmp, "python"),
            )
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("libpostmessage was not found", out.stderr)
        self.assertIn(os.path.join("target", "release"), out.stderr)
        self.assertIn("cargo build --release", out.stderr)
        self.assertIn("POSTMESSAGE_LIB", out.stderr)
        # Outside a checkout, the package itself was looked at, and the advice is to install
        # it from one (which builds the library into it).
        self.assertIn(os.path.join("python", "postmessage", postmessage._lib.LIBRARY_FILE), out.stderr)
        self.assertIn("pip install ./python", out.stderr)

    def test_library_is_catchable_as_import_error(self):
        self.assertTrue(issubclass(postmessage.LibraryNotFoundError, ImportError))


if __name__ == "__main__":
    unittest.main()
