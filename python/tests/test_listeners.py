"""Listeners: delivery, the event, re-entrancy, exceptions in callbacks, and callback lifetime."""

import array
import contextlib
import gc
import io
import sys
import unittest
import weakref

import _support
import postmessage
from postmessage import MessageEvent, Window
from _support import registered, unraisable_hook


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)

    def tearDown(self):
        self.a.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")


class Delivery(Base):
    def test_listeners_run_in_order_on_this_thread_before_post_returns(self):
        order = []
        ids = [self.b.add_listener(lambda e, i=i: order.append(i)) for i in range(5)]
        self.assertEqual(len(set(ids)), 5)
        self.assertTrue(all(isinstance(i, int) and i > 0 for i in ids))
        self.assertTrue(self.a.post_message(self.b, "x", "*"))
        self.assertEqual(order, [0, 1, 2, 3, 4])

    def test_no_listener_still_delivers(self):
        self.assertTrue(self.a.post_message(self.b, "x", "*"))

    def test_data_types(self):
        got = []
        self.b.add_listener(lambda e: got.append(e.data))
        for data, expected in (
            ("héllo ✓", "héllo ✓".encode()),
            (b"\x00\xff binary", b"\x00\xff binary"),
            (bytearray(b"ba"), b"ba"),
            (memoryview(b"abcdef")[1:4], b"bcd"),
            (array.array("B", [1, 2, 3]), b"\x01\x02\x03"),
            ("", b""),
            (b"", b""),
            ("x" * 1_000_000, b"x" * 1_000_000),
        ):
            self.assertTrue(self.a.post_message(self.b, data, "*"))
            self.assertEqual(got.pop(), expected)
            self.assertIs(type(expected), bytes)

    def test_event_is_a_copy_that_outlives_the_callback(self):
        kept = []
        self.b.add_listener(kept.append)
        buf = bytearray(b"original")
        self.a.post_message(self.b, buf, "*")
        buf[:] = b"changed!"
        e = kept[0]
        self.assertIsInstance(e, MessageEvent)
        self.assertEqual(e.data, b"original")
        self.assertEqual((e.text, e.origin, e.last_event_id), ("original", "http://127.0.0.1", ""))
        self.assertIs(e.source, self.a)
        self.assertIs(e.target, self.b)
        self.assertIn("original", repr(e))

    def test_text_of_binary_data_raises(self):
        kept = []
        self.b.add_listener(kept.append)
        self.a.post_message(self.b, b"\xff\xfe", "*")
        with self.assertRaises(UnicodeDecodeError):
            kept[0].text

    def test_remove_listener(self):
        got = []
        lid = self.b.add_listener(got.append)
        self.b.remove_listener(lid)
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(got, [])

    def test_added_during_dispatch_runs_from_the_next_message(self):
        order = []

        def first(e):
            order.append("first:" + e.text)
            if e.text == "1":
                self.b.add_listener(lambda e: order.append("late:" + e.text))

        self.b.add_listener(first)
        self.a.post_message(self.b, "1", "*")
        self.a.post_message(self.b, "2", "*")
        self.assertEqual(order, ["first:1", "first:2", "late:2"])

    def test_removed_during_dispatch_does_not_run(self):
        order = []
        ids = {}
        self.b.add_listener(lambda e: (order.append("first"), self.b.remove_listener(ids["second"])))
        ids["second"] = self.b.add_listener(lambda e: order.append("second"))
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(order, ["first"])

    def test_listener_removes_itself(self):
        calls = []
        ids = {}

        def once(e):
            calls.append(e.text)
            self.b.remove_listener(ids["once"])

        ids["once"] = self.b.add_listener(once)
        self.a.post_message(self.b, "1", "*")
        self.a.post_message(self.b, "2", "*")
        self.assertEqual(calls, ["1"])

    def test_listener_closes_its_own_window(self):
        calls = []

        def close_it(e):
            calls.append(e.text)
            e.target.close()

        self.b.add_listener(close_it)
        self.b.add_listener(lambda e: calls.append("after close"))
        self.assertTrue(self.a.post_message(self.b, "bye", "*"))
        self.assertEqual(calls, ["bye"])  # no listener of a freed window starts a new call
        self.assertTrue(self.b.closed)


class Reentrancy(Base):
    def test_reply_from_a_callback(self):
        log = []
        self.b.add_listener(lambda e: (log.append("b got " + e.text), e.reply("pong")))
        self.a.add_listener(lambda e: log.append("a got " + e.text))
        self.assertTrue(self.a.post_message(self.b, "ping", "http://localhost"))
        self.assertEqual(log, ["b got ping", "a got pong"])  # nested, synchronously

    def test_reply_goes_to_the_source_document_only(self):
        replies = []

        def on_b(e):
            e.source.navigate("https://elsewhere.example/")  # the source document is gone
            e.source.add_listener(replies.append)
            replies.append(e.reply("late"))

        self.b.add_listener(on_b)
        with Window("http://c.example/") as c:
            self.assertTrue(c.post_message(self.b, "x", "*"))
        self.assertEqual(replies, [False])  # dropped: "http://c.example" no longer matches

    def test_ping_pong_until_done(self):
        counts = []

        def bounce(e):
            n = int(e.text)
            counts.append(n)
            if n < 10:
                e.reply(str(n + 1))

        self.a.add_listener(bounce)
        self.b.add_listener(bounce)
        self.a.post_message(self.b, "0", "*")
        self.assertEqual(counts, list(range(11)))

    def test_depth_limit(self):
        levels, errors = [], []

        def recurse(e):
            levels.append(e.text)
            try:
                e.target.post_message(e.target, "deeper", "*")
            except postmessage.DepthError as err:
                errors.append(err)

        lid = self.a.add_listener(recurse)
        self.assertTrue(self.a.post_message(self.a, "go", "*"))
        self.assertEqual(len(levels), postmessage.MAX_DISPATCH_DEPTH)
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0], RecursionError)
        self.a.remove_listener(lid)
        self.assertTrue(self.a.post_message(self.a, "depth is back to zero", "*"))


class CallbackExceptions(Base):
    def test_exception_is_reported_and_other_listeners_run(self):
        ran = []

        def bad(e):
            raise ValueError("listener failed")

        self.b.add_listener(bad)
        self.b.add_listener(lambda e: ran.append(e.text))
        with unraisable_hook() as seen:
            self.assertTrue(self.a.post_message(self.b, "x", "*"))
        self.assertEqual(ran, ["x"])
        self.assertEqual(len(seen), 1)
        report = seen[0]
        self.assertIs(report.exc_type, ValueError)
        self.assertEqual(str(report.exc_value), "listener failed")
        self.assertIsNotNone(report.exc_traceback)
        self.assertIs(report.object, bad)
        self.assertIn("postmessage listener", report.err_msg)

    def test_default_report_is_printed_to_stderr(self):
        self.b.add_listener(lambda e: 1 / 0)
        err = io.StringIO()
        self.assertIs(sys.unraisablehook, sys.__unraisablehook__)
        with contextlib.redirect_stderr(err):
            self.assertTrue(self.a.post_message(self.b, "x", "*"))
        text = err.getvalue()
        self.assertIn("Exception ignored in postmessage listener", text)
        self.assertIn("Traceback (most recent call last)", text)
        self.assertIn("ZeroDivisionError", text)

    def test_a_hook_that_fails_falls_back_to_printing(self):
        def broken_hook(args):
            raise TypeError("hook wants the built-in type")

        self.b.add_listener(lambda e: 1 / 0)
        old = sys.unraisablehook
        sys.unraisablehook = broken_hook
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                self.assertTrue(self.a.post_message(self.b, "x", "*"))
        finally:
            sys.unraisablehook = old
        self.assertIn("ZeroDivisionError", err.getvalue())

    def test_exceptions_in_nested_dispatch(self):
        log = []

        def on_b(e):
            e.reply("reply")
            log.append("b continues after the failing reply listener")
            raise KeyError("b")

        self.a.add_listener(lambda e: (_ for _ in ()).throw(RuntimeError("a")))
        self.b.add_listener(on_b)
        with unraisable_hook() as seen:
            self.assertTrue(self.a.post_message(self.b, "x", "*"))
        self.assertEqual([r.exc_type for r in seen], [RuntimeError, KeyError])
        self.assertEqual(len(log), 1)

    def test_keyboard_interrupt_propagates_to_the_poster(self):
        ran = []

        def interrupt(e):
            raise KeyboardInterrupt

        lid = self.b.add_listener(interrupt)
        self.b.add_listener(lambda e: ran.append(e.text))
        with unraisable_hook() as seen:
            with self.assertRaises(KeyboardInterrupt):
                self.a.post_message(self.b, "interrupted", "*")
        self.assertEqual(seen, [])
        self.assertEqual(ran, [])  # the rest of that dispatch was skipped
        self.b.remove_listener(lid)
        self.assertTrue(self.a.post_message(self.b, "next", "*"))  # nothing left behind
        self.assertEqual(ran, ["next"])

    def test_system_exit_from_a_nested_listener_reaches_the_outer_poster(self):
        after = []
        self.b.add_listener(lambda e: e.reply("go"))
        self.b.add_listener(lambda e: after.append("b listener 2"))
        self.a.add_listener(lambda e: sys.exit(3))
        with self.assertRaises(SystemExit) as cm:
            self.a.post_message(self.b, "x", "*")
        self.assertEqual(cm.exception.code, 3)
        self.assertEqual(after, [])
        self.a.close()
        self.a = Window("http://127.0.0.1/")
        got = []
        self.a.add_listener(got.append)
        self.assertTrue(self.a.post_message(self.a, "still works", "*"))
        self.assertEqual(len(got), 1)


class CallbackLifetime(Base):
    def test_lambda_registered_then_dereferenced_still_fires(self):
        got = []
        self.b.add_listener(lambda e: got.append(e.text))
        gc.collect()
        self.a.post_message(self.b, "still here", "*")
        self.assertEqual(got, ["still here"])

    def test_callback_is_held_while_registered_and_released_on_remove(self):
        got = []

        class Callback:
            def __call__(self, e):
                got.append(e.text)

        cb = Callback()
        ref = weakref.ref(cb)
        lid = self.b.add_listener(cb)
        del cb
        gc.collect()
        self.assertIsNotNone(ref())
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(got, ["x"])
        self.b.remove_listener(lid)
        gc.collect()
        self.assertIsNone(ref())

    def test_callbacks_released_on_close_and_navigate(self):
        refs = []
        for window in (self.b, self.a):
            f = lambda e: None  # noqa: E731
            refs.append(weakref.ref(f))
            window.add_listener(f)
            del f
        gc.collect()
        self.assertTrue(all(r() is not None for r in refs))
        self.b.close()
        gc.collect()
        self.assertIsNone(refs[0]())
        self.assertIsNotNone(refs[1]())
        self.a.navigate("http://127.0.0.1/next")
        gc.collect()
        self.assertIsNone(refs[1]())

    def test_a_callback_removing_itself_stays_alive_until_it_returns(self):
        during = []
        ids = {}

        def once(e):
            before = _support._listeners.registered_count()
            self.b.remove_listener(ids["once"])
            during.append(_support._listeners.registered_count() - before)

        ids["once"] = self.b.add_listener(once)
        with_it = _support._listeners.registered_count()
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(during, [0])  # destroy waits for the running call...
        self.assertEqual(_support._listeners.registered_count(), with_it - 1)  # ...then runs

    def test_a_refused_listener_is_not_kept(self):
        self.b.close()
        f = lambda e: None  # noqa: E731
        ref = weakref.ref(f)
        with self.assertRaises(postmessage.InvalidHandleError):
            self.b.add_listener(f)
        del f
        gc.collect()
        self.assertIsNone(ref())

    def test_many_listeners(self):
        hits = []
        ids = [self.b.add_listener(lambda e, i=i: hits.append(i)) for i in range(500)]
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(hits, list(range(500)))
        for i in ids[::2]:
            self.b.remove_listener(i)
        hits.clear()
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(hits, list(range(1, 500, 2)))


if __name__ == "__main__":
    unittest.main()
