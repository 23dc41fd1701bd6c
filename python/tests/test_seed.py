"""The seed scenario: document A (http://127.0.0.1) and its iframe B (http://localhost)."""

import os
import re
import subprocess
import sys
import unittest

import _support  # noqa: F401  (sets up the import path)
from postmessage import Window


class SeedScenario(unittest.TestCase):
    def test_hello_world_and_reply(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            seen_by_b, seen_by_a = [], []

            def on_b(e):
                seen_by_b.append(e)
                if e.origin == "http://127.0.0.1" and e.text == "Hello World":
                    e.reply("Hello")

            b.add_listener(on_b)
            a.add_listener(seen_by_a.append)

            self.assertTrue(a.post_message(b, "Hello World", "http://localhost"))

            self.assertEqual(len(seen_by_b), 1)
            e = seen_by_b[0]
            self.assertEqual(e.data, b"Hello World")
            self.assertEqual(e.text, "Hello World")
            self.assertEqual(e.origin, "http://127.0.0.1")
            self.assertEqual(e.last_event_id, "")
            self.assertIs(e.source, a)
            self.assertIs(e.target, b)

            self.assertEqual([(r.text, r.origin) for r in seen_by_a], [("Hello", "http://localhost")])
            self.assertIs(seen_by_a[0].source, b)
            self.assertIs(seen_by_a[0].target, a)
            self.assertIs(b.parent, a)
            self.assertIsNone(a.parent)
        self.assertTrue(a.closed)
        self.assertTrue(b.closed)

    def test_wrong_target_origin_is_dropped(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            got = []
            b.add_listener(got.append)
            self.assertFalse(a.post_message(b, "Hello World", "http://example.com"))
            self.assertEqual(got, [])

    def test_example_script(self):
        example = os.path.join(_support.PYTHON_DIR, "examples", "seed.py")
        out = subprocess.run(
            [sys.executable, example], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        self.assertEqual(out, "A received 'Hello' from http://localhost\ndelivered: True\n")

    def test_readme_examples(self):
        # python/README.md's examples and the main README's Python quick start.
        blocks = []
        for readme in ("README.md", os.path.join("..", "README.md")):
            with open(os.path.join(_support.PYTHON_DIR, readme), encoding="utf-8") as f:
                found = re.findall(r"```python\n(.*?)```", f.read(), re.S)
            self.assertTrue(any('"Hello World"' in code for code in found), readme)
            blocks += found
        seed_blocks = [code for code in blocks if '"Hello World"' in code]
        for code in blocks:
            result = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True, text=True, timeout=60, cwd=_support.PYTHON_DIR,
            )
            self.assertEqual(result.returncode, 0, code + result.stderr)
            if code in seed_blocks:  # the seed program, short, with its exact output
                self.assertEqual(result.stdout, "A got 'Hello' from http://localhost\n")
                self.assertLessEqual(len([line for line in code.splitlines() if line.strip()]), 10)

    def test_event_loop_example(self):
        example = os.path.join(_support.PYTHON_DIR, "examples", "event_loop.py")
        out = subprocess.run(
            [sys.executable, example], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        self.assertEqual(
            out.splitlines(),
            ["page got {!r} (on the event loop: True)".format(t) for t in ("hello", "from", "a worker thread", "bye")]
            + ["frame got 'see you'"],
        )


if __name__ == "__main__":
    unittest.main()
