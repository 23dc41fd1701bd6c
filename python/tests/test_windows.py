"""Window lifetime: close, context manager, children, navigation, identity and garbage collection."""

import gc
import subprocess
import sys
import unittest
import weakref

import _support
import postmessage
from postmessage import Window
from _support import handle_alive, raw, registered


class Lifetime(unittest.TestCase):
    def test_close_frees_and_is_idempotent(self):
        w = Window("http://127.0.0.1/")
        handle = w.handle
        self.assertFalse(w.closed)
        w.close()
        self.assertTrue(w.closed)
        self.assertFalse(handle_alive(handle))
        w.close()  # no-op

    def test_context_manager(self):
        with Window("http://127.0.0.1/") as w:
            self.assertIsInstance(w, Window)
            handle = w.handle
        self.assertTrue(w.closed)
        self.assertFalse(handle_alive(handle))
        with self.assertRaises(postmessage.InvalidHandleError):
            with w:
                pass

    def test_closed_window_raises_on_use(self):
        other = Window("http://localhost/")
        w = Window("http://127.0.0.1/")
        lid = w.add_listener(print)
        w.close()
        for name, call in {
            "handle": lambda: w.handle,
            "origin": lambda: w.origin,
            "parent": lambda: w.parent,
            "navigate": lambda: w.navigate("http://x/"),
            "add_listener": lambda: w.add_listener(print),
            "remove_listener": lambda: w.remove_listener(lid),
            "post from": lambda: w.post_message(other, "x", "*"),
            "post to": lambda: other.post_message(w, "x", "*"),
            "child": lambda: Window("about:blank", parent=w),
        }.items():
            with self.subTest(call=name):
                with self.assertRaises(postmessage.InvalidHandleError) as cm:
                    call()
                self.assertEqual(cm.exception.code, postmessage.Result.ERR_INVALID_HANDLE)
        self.assertEqual(repr(w), "<postmessage.Window closed>")
        other.close()

    def test_closing_a_parent_closes_its_children(self):
        a = Window("http://127.0.0.1/")
        b = Window("http://localhost/", parent=a)
        c = Window("http://c.example/", parent=b)
        handles = [a.handle, b.handle, c.handle]
        a.close()
        self.assertTrue(b.closed and c.closed)
        self.assertFalse(any(map(handle_alive, handles)))
        with self.assertRaises(postmessage.InvalidHandleError):
            c.origin

    def test_closing_a_child_leaves_the_parent(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            b.close()
            self.assertFalse(a.closed)
            self.assertEqual(a.origin, "http://127.0.0.1")

    def test_navigation_closes_children_and_drops_listeners(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            c = Window("about:blank", parent=b)
            got = []
            a.add_listener(got.append)
            baseline = registered()
            a.navigate("https://example.com/")
            self.assertTrue(b.closed and c.closed)
            self.assertFalse(a.closed)
            self.assertEqual(registered(), baseline - 1)  # the old document's callback is released
            self.assertTrue(a.post_message(a, "x", "*"))
            self.assertEqual(got, [])
            self.assertIsNone(a.parent)

    def test_parent_and_repr(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            self.assertIsNone(a.parent)
            self.assertIs(b.parent, a)
            self.assertEqual(raw.pm_window_parent(b.handle), a.handle)
            self.assertIn("'http://localhost'", repr(b))

    def test_long_origin(self):
        host = "h" * 60 + "." + "x" * 60 + ".example"
        with Window("https://{}:8443/".format(host)) as w:
            self.assertEqual(w.origin, "https://{}:8443".format(host))


class GarbageCollection(unittest.TestCase):
    def test_a_dropped_top_level_window_is_freed(self):
        w = Window("http://127.0.0.1/")
        handle = w.handle
        ref = weakref.ref(w)
        baseline = registered()
        w.add_listener(lambda e: None)
        self.assertEqual(registered(), baseline + 1)
        del w
        gc.collect()
        self.assertIsNone(ref())
        self.assertFalse(handle_alive(handle))
        self.assertEqual(registered(), baseline)

    def test_a_listener_that_uses_its_window_keeps_it_alive(self):
        w = Window("http://127.0.0.1/")
        got = []
        w.add_listener(lambda e, w=w: got.append(w.origin))
        handle = w.handle
        del w
        gc.collect()
        self.assertTrue(handle_alive(handle))
        raw.pm_post_message(handle, handle, b"x", 1, b"*")
        self.assertEqual(got, ["http://127.0.0.1"])
        raw.pm_window_free(handle)

    def test_a_child_outlives_its_python_object_like_an_iframe(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            handle = b.handle
            targets = []
            b.add_listener(lambda e: targets.append(e.target))
            del b
            gc.collect()
            self.assertTrue(handle_alive(handle))
            # An event for a window nobody holds gets a Window object that does not own it.
            self.assertEqual(raw.pm_post_message(a.handle, handle, b"x", 1, b"*"), 0)
            proxy = targets.pop()
            self.assertEqual(proxy.handle, handle)
            self.assertIs(proxy.parent, a)
            self.assertEqual(proxy.origin, "http://localhost")
            # While the program holds it, it is the same object every time.
            self.assertTrue(a.post_message(proxy, "again", "*"))
            self.assertIs(targets.pop(), proxy)
            del proxy
            gc.collect()
            self.assertTrue(handle_alive(handle))
        self.assertFalse(handle_alive(handle))

    def test_a_child_keeps_its_parent_object_alive(self):
        b = Window("http://localhost/", parent=Window("http://127.0.0.1/"))
        gc.collect()
        self.assertEqual(b.parent.origin, "http://127.0.0.1")
        self.assertEqual(b.origin, "http://localhost")
        b.parent.close()
        self.assertTrue(b.closed)

    def test_interpreter_exit_with_open_windows(self):
        code = """
import gc, postmessage
from postmessage import Window
a = Window("http://127.0.0.1/")
b = Window("http://localhost/", parent=a)
b.add_listener(lambda e, a=a: e.reply("hi"))
a.add_listener(lambda e, b=b: None)
cycle = [Window("http://c.example/")]
cycle.append(cycle)
cycle[0].add_listener(lambda e: cycle)
a.post_message(b, "x", "*")
Window("http://garbage.example/").add_listener(print)
print("done")
"""
        out = subprocess.run(
            [sys.executable, "-X", "dev", "-c", code],
            capture_output=True, text=True, timeout=60, cwd=_support.PYTHON_DIR,
        )
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, "done\n", ""))

    def test_event_source_is_the_object_the_program_holds(self):
        with Window("http://127.0.0.1/") as a:
            b = Window("http://localhost/", parent=a)
            seen = []
            b.add_listener(lambda e: seen.append((e.source, e.target)))
            for _ in range(3):
                a.post_message(b, "x", "*")
                gc.collect()
            self.assertTrue(all(s is a and t is b for s, t in seen))
            self.assertEqual(seen[0][0].handle, a.handle)


if __name__ == "__main__":
    unittest.main()
