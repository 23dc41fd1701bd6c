"""Queued delivery: dispatch modes, run_pending, pending, wakers, queue limits, threads."""

import gc
import threading
import unittest
import weakref

import _support
import postmessage
from postmessage import (
    QUEUED,
    SYNC,
    BroadcastChannel,
    DepthError,
    DispatchMode,
    InvalidArgumentError,
    InvalidHandleError,
    MessageChannel,
    QueueFullError,
    Result,
    TargetOriginSyntaxError,
    Window,
)
from _support import registered, unraisable_hook


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)
        self.b.dispatch_mode = QUEUED
        self.got = []
        self.b.add_listener(lambda e: self.got.append(e.text))

    def tearDown(self):
        self.a.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")


class Modes(Base):
    def test_constants(self):
        self.assertEqual((SYNC, QUEUED), (0, 1))
        self.assertIs(postmessage.SYNC, DispatchMode.SYNC)
        self.assertIs(postmessage.QUEUED, DispatchMode.QUEUED)

    def test_default_is_sync(self):
        with Window("http://x.example/") as w:
            self.assertIs(w.dispatch_mode, SYNC)
        self.assertIs(self.b.dispatch_mode, QUEUED)

    def test_queued_post_waits_for_run_pending(self):
        self.assertTrue(self.a.post_message(self.b, "x", "http://localhost"))
        self.assertEqual(self.got, [])
        self.assertEqual(self.b.pending, 1)
        self.assertEqual(self.b.run_pending(), 1)
        self.assertEqual(self.got, ["x"])
        self.assertEqual(self.b.pending, 0)

    def test_event_of_a_queued_message(self):
        events = []
        self.b.add_listener(events.append)
        self.a.post_message(self.b, b"\x00bin", "*")
        self.b.run_pending()
        (e,) = events
        self.assertEqual((e.data, e.origin, e.last_event_id, e.ports), (b"\x00bin", "http://127.0.0.1", "", []))
        self.assertIs(e.source, self.a)
        self.assertIs(e.target, self.b)

    def test_data_is_copied_at_post_time(self):
        buf = bytearray(b"before")
        self.a.post_message(self.b, buf, "*")
        buf[:] = b"after!"
        self.b.run_pending()
        self.assertEqual(self.got, ["before"])

    def test_fifo_and_max(self):
        for i in range(5):
            self.a.post_message(self.b, str(i), "*")
        self.assertEqual(self.b.run_pending(2), 2)
        self.assertEqual(self.got, ["0", "1"])
        self.assertEqual(self.b.pending, 3)
        self.assertEqual(self.b.run_pending(0), 0)
        self.assertEqual(self.b.run_pending(), 3)
        self.assertEqual(self.got, ["0", "1", "2", "3", "4"])
        self.assertEqual(self.b.run_pending(), 0)

    def test_messages_queued_while_running_are_taken_up_to_max(self):
        def again(e):
            self.a.post_message(self.b, "again", "*")

        self.b.add_listener(again)  # re-posts forever: only max bounds the run
        self.a.post_message(self.b, "first", "*")
        self.assertEqual(self.b.run_pending(3), 3)
        self.assertEqual(self.got, ["first", "again", "again"])
        self.assertEqual(self.b.pending, 1)

    def test_origin_is_checked_at_delivery(self):
        self.assertTrue(self.a.post_message(self.b, "mismatch", "http://elsewhere.example"))
        self.assertEqual(self.b.pending, 1)
        self.assertEqual(self.b.run_pending(), 1)  # taken, and dropped
        self.assertEqual(self.got, [])

    def test_target_origin_syntax_is_checked_at_post(self):
        with self.assertRaises(TargetOriginSyntaxError):
            self.a.post_message(self.b, "x", "not a url")
        self.assertEqual(self.b.pending, 0)

    def test_navigation_discards_the_old_documents_queue(self):
        self.a.post_message(self.b, "old", "*")
        self.b.navigate("http://localhost/next")
        self.assertEqual(self.b.pending, 0)
        self.b.add_listener(lambda e: self.got.append("new doc: " + e.text))
        self.assertEqual(self.b.run_pending(), 0)
        self.assertEqual(self.got, [])
        self.assertIs(self.b.dispatch_mode, QUEUED, "the mode survives navigation")

    def test_source_freed_before_delivery(self):
        events = []
        self.b.add_listener(events.append)
        c = Window("http://source.example/")
        c.post_message(self.b, "x", "*")
        c.close()
        self.b.run_pending()
        self.assertIsNone(events[0].source)
        self.assertEqual(events[0].origin, "http://source.example")
        with self.assertRaises(InvalidHandleError):
            events[0].reply("nobody to answer")

    def test_origin_is_the_sources_origin_at_post_time(self):
        events = []
        self.b.add_listener(events.append)
        c = Window("http://before.example/")
        c.post_message(self.b, "x", "*")
        c.navigate("http://after.example/")
        self.b.run_pending()
        self.assertEqual(events[0].origin, "http://before.example")
        self.assertIs(events[0].source, c)
        c.close()

    def test_switching_back_to_sync_leaves_queued_messages_queued(self):
        self.a.post_message(self.b, "queued", "*")
        self.b.set_dispatch_mode(SYNC)
        self.assertIs(self.b.dispatch_mode, SYNC)
        self.a.post_message(self.b, "sync", "*")
        self.assertEqual(self.got, ["sync"])
        self.assertEqual(self.b.pending, 1)
        self.assertEqual(self.b.run_pending(), 1)
        self.assertEqual(self.got, ["sync", "queued"])

    def test_mode_belongs_to_the_handle(self):
        # A Window object made for the same handle (an event's target) sees the same mode.
        targets = []
        self.b.add_listener(lambda e: targets.append(e.target))
        self.a.post_message(self.b, "x", "*")
        self.b.run_pending()
        self.assertIs(targets[0].dispatch_mode, QUEUED)

    def test_bad_modes(self):
        for mode in (2, 7, 2**32 - 1):
            with self.assertRaises(InvalidArgumentError) as cm:
                self.b.set_dispatch_mode(mode)
            self.assertEqual(cm.exception.code, Result.ERR_INVALID_ARGUMENT)
        for mode in (-1, 2**32):
            with self.assertRaises(InvalidArgumentError):
                self.b.dispatch_mode = mode
        for mode in ("queued", None, True, 1.0):
            with self.assertRaises(TypeError):
                self.b.set_dispatch_mode(mode)
        self.assertIs(self.b.dispatch_mode, QUEUED)

    def test_run_pending_arguments(self):
        with self.assertRaises(InvalidArgumentError):
            self.b.run_pending(-1)
        with self.assertRaises(TypeError):
            self.b.run_pending("1")
        self.assertEqual(self.b.run_pending(max=10), 0)

    def test_closed_window(self):
        c = Window("http://c.example/")
        c.close()
        for call in (
            lambda: c.run_pending(),
            lambda: c.pending,
            lambda: c.dispatch_mode,
            lambda: c.set_dispatch_mode(QUEUED),
            lambda: c.set_waker(print),
            lambda: c.set_waker(None),
            lambda: c.set_queue_limit(1, 1),
        ):
            with self.assertRaises(InvalidHandleError):
                call()

    def test_window_freed_behind_the_bindings_back(self):
        c = Window("http://c.example/")
        _support.raw.pm_window_free(c.handle)
        with self.assertRaises(InvalidHandleError):
            c.run_pending()
        with self.assertRaises(InvalidHandleError):
            c.pending

    def test_run_pending_too_deep_raises_depth_error(self):
        outcome = []

        def recurse(e):
            try:
                self.a.post_message(self.a, "deeper", "*")
            except DepthError:
                try:
                    outcome.append(self.b.run_pending())
                except DepthError as exc:
                    outcome.append(exc)

        self.a.add_listener(recurse)
        self.a.post_message(self.b, "waiting", "*")
        self.a.post_message(self.a, "start", "*")
        self.assertIsInstance(outcome[0], DepthError)
        self.assertEqual(self.b.pending, 1, "nothing was taken")
        self.assertEqual(self.b.run_pending(), 1)

    def test_run_pending_from_a_listener(self):
        self.a.add_listener(lambda e: self.b.run_pending())
        self.a.post_message(self.b, "queued", "*")
        self.b.post_message(self.a, "run it", "*")
        self.assertEqual(self.got, ["queued"])

    def test_exceptions_in_queued_listeners_are_reported(self):
        def boom(e):
            raise ValueError("boom")

        self.b.add_listener(boom)
        self.b.add_listener(lambda e: self.got.append("after"))
        self.a.post_message(self.b, "x", "*")
        with unraisable_hook() as seen:
            self.assertEqual(self.b.run_pending(), 1)
        self.assertEqual([type(s.exc_value) for s in seen], [ValueError])
        self.assertEqual(self.got, ["x", "after"])

    def test_keyboard_interrupt_propagates_from_run_pending(self):
        def interrupt(e):
            raise KeyboardInterrupt

        self.b.add_listener(interrupt)
        self.a.post_message(self.b, "1", "*")
        self.a.post_message(self.b, "2", "*")
        with self.assertRaises(KeyboardInterrupt):
            self.b.run_pending()
        self.assertEqual(self.got, ["1"])


class Waker(Base):
    def test_called_when_the_queue_becomes_non_empty(self):
        calls = []
        self.b.set_waker(calls.append)
        self.a.post_message(self.b, "1", "*")
        self.a.post_message(self.b, "2", "*")
        self.assertEqual(len(calls), 1, "only on empty -> non-empty")
        self.assertIs(calls[0], self.b)
        self.b.run_pending(1)
        self.a.post_message(self.b, "3", "*")
        self.assertEqual(len(calls), 1, "the queue was not empty")
        self.b.run_pending()
        self.a.post_message(self.b, "4", "*")
        self.assertEqual(len(calls), 2)

    def test_not_called_in_sync_mode_or_for_dropped_posts(self):
        calls = []
        self.b.set_waker(calls.append)
        with self.assertRaises(TargetOriginSyntaxError):
            self.a.post_message(self.b, "x", "bad")
        self.b.dispatch_mode = SYNC
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(calls, [])

    def test_called_on_the_posting_thread(self):
        threads = []
        self.b.set_waker(lambda w: threads.append(threading.get_ident()))
        t = threading.Thread(target=self.a.post_message, args=(self.b, "x", "*"))
        t.start()
        t.join(30)
        self.assertEqual(threads, [t.ident])
        self.assertEqual(self.got, [], "the listener did not run on the posting thread")
        self.b.run_pending()
        self.assertEqual(self.got, ["x"])

    def test_port_and_broadcast_messages_wake_too(self):
        calls = []
        self.b.set_waker(calls.append)
        ch = MessageChannel(self.b)
        ch.port2.add_listener(lambda e: self.got.append("port " + e.text))
        ch.port1.post_message("p")
        self.assertEqual(len(calls), 1)
        self.b.run_pending()
        receiver = BroadcastChannel(self.b, "news")
        receiver.add_listener(lambda e: self.got.append("broadcast " + e.text))
        with Window("http://localhost/other") as sender_window:
            BroadcastChannel(sender_window, "news").post_message("n")
        self.assertEqual(len(calls), 2)
        self.b.run_pending()
        self.assertEqual(self.got, ["port p", "broadcast n"])

    def test_replace_and_remove(self):
        first, second = [], []
        self.b.set_waker(first.append)
        self.b.set_waker(second.append)
        self.a.post_message(self.b, "x", "*")
        self.b.run_pending()
        self.b.set_waker(None)
        self.a.post_message(self.b, "y", "*")
        self.assertEqual((len(first), len(second)), (0, 1))
        self.b.set_waker(None)  # removing twice is fine

    def test_waker_is_kept_alive_until_replaced(self):
        calls = []

        def waker(w):
            calls.append(w)

        ref = weakref.ref(waker)
        self.b.set_waker(waker)
        del waker
        gc.collect()
        self.assertIsNotNone(ref(), "a registered waker is kept alive")
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(len(calls), 1)
        self.b.set_waker(None)
        gc.collect()
        self.assertIsNone(ref(), "a removed waker is released")

    def test_waker_is_released_when_the_window_closes(self):
        for close in ("self", "parent"):
            parent = Window("http://p.example/")
            child = Window("http://c.example/", parent=parent)
            waker = lambda w: None  # noqa: E731
            ref = weakref.ref(waker)
            child.set_waker(waker)
            del waker
            if close == "self":
                child.close()
            else:
                parent.close()
            parent.close()
            gc.collect()
            self.assertIsNone(ref(), close)

    def test_waker_of_a_dropped_child_window_is_released(self):
        parent = Window("http://p.example/")
        child = Window("http://c.example/", parent=parent)
        waker = lambda w: None  # noqa: E731
        ref = weakref.ref(waker)
        child.set_waker(waker)
        del waker, child
        gc.collect()
        parent.close()
        self.b.set_waker(None)  # any later set_waker forgets wakers of freed windows
        gc.collect()
        self.assertIsNone(ref())

    def test_survives_navigation(self):
        calls = []
        self.b.set_waker(calls.append)
        self.b.navigate("http://localhost/next")
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(calls, [self.b])

    def test_waker_may_call_the_library(self):
        self.b.set_waker(lambda w: w.run_pending())
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(self.got, ["x"])
        self.assertEqual(self.b.pending, 0)

    def test_exception_in_waker_is_reported_and_the_message_stays_queued(self):
        def waker(w):
            raise RuntimeError("waker failed")

        self.b.set_waker(waker)
        with unraisable_hook() as seen:
            self.assertTrue(self.a.post_message(self.b, "x", "*"))
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0].exc_value, RuntimeError)
        self.assertEqual(seen[0].err_msg, "Exception ignored in postmessage waker")
        self.assertIs(seen[0].object, waker)
        self.assertEqual(self.b.pending, 1)

    def test_non_callable(self):
        with self.assertRaises(TypeError):
            self.b.set_waker("not callable")

    def test_event_loop_with_producer_threads(self):
        producers, posts = 6, 300
        wake = threading.Event()
        self.b.set_waker(lambda w: wake.set())
        received = {i: [] for i in range(producers)}
        loop_thread = threading.get_ident()
        wrong_thread = []

        def on_message(e):
            if threading.get_ident() != loop_thread:
                wrong_thread.append(e)
            i, n = map(int, e.text.split(":"))
            received[i].append(n)

        self.b.add_listener(on_message)
        senders = [Window("http://127.0.0.1/{}".format(i)) for i in range(producers)]

        def produce(i):
            for n in range(posts):
                senders[i].post_message(self.b, "{}:{}".format(i, n), "http://localhost")

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
        for t in threads:
            t.start()
        total = 0
        while total < producers * posts:
            self.assertTrue(wake.wait(30) or self.b.pending, "the waker fired")
            wake.clear()
            total += self.b.run_pending()
        for t in threads:
            t.join(30)
        self.assertEqual(total, producers * posts)
        self.assertEqual(wrong_thread, [])
        for i in range(producers):
            self.assertEqual(received[i], list(range(posts)), "FIFO per producer")
        for w in senders:
            w.close()


class Limits(Base):
    def test_max_messages(self):
        self.b.set_queue_limit(2, None)
        self.a.post_message(self.b, "1", "*")
        self.a.post_message(self.b, "2", "*")
        with self.assertRaises(QueueFullError) as cm:
            self.a.post_message(self.b, "3", "*")
        self.assertEqual(cm.exception.code, Result.ERR_QUEUE_FULL)
        self.assertEqual(self.b.pending, 2, "nothing was queued")
        self.b.run_pending()
        self.assertTrue(self.a.post_message(self.b, "4", "*"))
        self.b.run_pending()
        self.assertEqual(self.got, ["1", "2", "4"])

    def test_max_bytes(self):
        self.b.set_queue_limit(0, 10)
        self.a.post_message(self.b, "12345", "*")
        self.a.post_message(self.b, "67890", "*")
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "x", "*")
        self.a.post_message(self.b, "", "*")  # no data: fits
        self.b.run_pending()
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "x" * 11, "*")  # never fits
        self.assertEqual(self.b.pending, 0)

    def test_zero_or_none_means_no_limit(self):
        self.b.set_queue_limit(1, 1)
        self.b.set_queue_limit(0, None)
        for i in range(50):
            self.a.post_message(self.b, "x" * 100, "*")
        self.assertEqual(self.b.pending, 50)

    def test_default_limit_is_10000_messages(self):
        for i in range(10_000):
            self.a.post_message(self.b, "", "*")
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "", "*")
        self.assertEqual(self.b.run_pending(), 10_000)

    def test_limits_survive_navigation(self):
        self.b.set_queue_limit(1, 0)
        self.b.navigate("http://localhost/next")
        self.a.post_message(self.b, "1", "*")
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "2", "*")

    def test_port_and_broadcast_messages_count(self):
        self.b.set_queue_limit(1, 0)
        self.a.post_message(self.b, "fill", "*")
        ch = MessageChannel(self.b)
        ch.port2.add_listener(lambda e: None)
        with self.assertRaises(QueueFullError):
            ch.port1.post_message("port")
        BroadcastChannel(self.b, "news").add_listener(lambda e: None)
        with Window("http://localhost/") as other:
            with self.assertRaises(QueueFullError):
                BroadcastChannel(other, "news").post_message("broadcast")
        self.assertEqual(self.b.pending, 1)

    def test_bad_arguments(self):
        for bad in (-1, 2**64):
            with self.assertRaises(InvalidArgumentError):
                self.b.set_queue_limit(bad, 0)
            with self.assertRaises(InvalidArgumentError):
                self.b.set_queue_limit(0, bad)
        for bad in ("1", 1.5, True):
            with self.assertRaises(TypeError):
                self.b.set_queue_limit(bad, 0)


if __name__ == "__main__":
    unittest.main()
