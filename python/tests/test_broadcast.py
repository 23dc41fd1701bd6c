"""BroadcastChannel: who receives a broadcast, the event, closing, queued receivers."""

import gc
import unittest

import _support  # noqa: F401  (puts the in-tree package on sys.path)
from postmessage import (
    QUEUED,
    BroadcastChannel,
    InvalidArgumentError,
    InvalidHandleError,
    MessageEvent,
    QueueFullError,
    UTF8Error,
    Window,
)
from _support import registered, unraisable_hook


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.got = []
        self.events = []
        self.windows = [self.a]

    def tearDown(self):
        for w in self.windows:
            w.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")

    def window(self, url, parent=None):
        w = Window(url, parent=parent)
        self.windows.append(w)
        return w

    def channel(self, window, name, tag):
        """A channel whose listener records (tag, text)."""
        ch = BroadcastChannel(window, name)
        ch.add_listener(lambda e: (self.got.append((tag, e.text)), self.events.append(e)))
        return ch


class Delivery(Base):
    def test_same_name_same_origin_in_creation_order_never_the_sender(self):
        same_origin = self.window("http://127.0.0.1/other-page")
        child = self.window("about:blank", parent=self.a)  # inherits http://127.0.0.1
        sender = self.channel(self.a, "news", "sender")
        self.channel(same_origin, "news", "other window")
        self.channel(self.a, "news", "same window")
        self.channel(child, "news", "child")
        self.channel(self.window("http://localhost/"), "news", "other origin")
        self.channel(self.window("http://127.0.0.1:8080/"), "news", "other port")
        self.channel(self.a, "sports", "other name")
        self.channel(self.a, "News", "name is case-sensitive")
        self.assertIsNone(sender.post_message("hello"))
        self.assertEqual(self.got, [("other window", "hello"), ("same window", "hello"), ("child", "hello")])

    def test_event(self):
        sender = BroadcastChannel(self.a, "news")
        receiver = BroadcastChannel(self.window("http://127.0.0.1/2"), "news")
        receiver.add_listener(self.events.append)
        sender.post_message(b"\x00data")
        (e,) = self.events
        self.assertIsInstance(e, MessageEvent)
        self.assertEqual((e.data, e.origin, e.last_event_id, e.ports), (b"\x00data", "http://127.0.0.1", "", []))
        self.assertIsNone(e.source)
        self.assertIs(e.target, receiver)
        with self.assertRaises(InvalidHandleError):
            e.reply("no window to answer")

    def test_opaque_origins(self):
        one = self.window("data:,one")
        two = self.window("data:,one")  # another opaque origin: not the same
        blank_child = self.window("about:blank", parent=one)  # inherits one's opaque origin
        sender = BroadcastChannel(one, "n")
        self.channel(one, "n", "same window")
        self.channel(two, "n", "other opaque origin")
        self.channel(blank_child, "n", "child")
        sender.post_message("x")
        self.assertEqual(self.got, [("same window", "x"), ("child", "x")])
        self.assertEqual(self.events[0].origin, "null")

    def test_names(self):
        for name, expected in (("news", "news"), ("名前", "名前"), (b"bytes", "bytes"), ("", "")):
            ch = BroadcastChannel(self.a, name)
            self.assertEqual(ch.name, expected)
            self.assertIn(repr(expected), repr(ch))
        with self.assertRaises(UTF8Error):
            BroadcastChannel(self.a, b"\xff")
        with self.assertRaises(InvalidArgumentError):
            BroadcastChannel(self.a, "nul\0")
        with self.assertRaises(TypeError):
            BroadcastChannel(self.a, 5)
        with self.assertRaises(TypeError):
            BroadcastChannel("http://127.0.0.1/", "news")

    def test_remove_listener(self):
        sender = BroadcastChannel(self.a, "n")
        receiver = BroadcastChannel(self.a, "n")
        lid = receiver.add_listener(lambda e: self.got.append(e.text))
        sender.post_message("1")
        receiver.remove_listener(lid)
        sender.post_message("2")
        self.assertEqual(self.got, ["1"])
        with self.assertRaises(InvalidHandleError):
            receiver.remove_listener(lid)
        with self.assertRaises(TypeError):
            receiver.add_listener(None)

    def test_exceptions_in_listeners_are_reported(self):
        sender = BroadcastChannel(self.a, "n")

        def boom(e):
            raise ValueError("boom")

        BroadcastChannel(self.a, "n").add_listener(boom)
        self.channel(self.a, "n", "after")
        with unraisable_hook() as seen:
            sender.post_message("x")
        self.assertEqual(len(seen), 1)
        self.assertEqual(self.got, [("after", "x")])

    def test_delivers_when_the_channel_object_is_dropped(self):
        sender = BroadcastChannel(self.a, "n")
        receiver = BroadcastChannel(self.a, "n")
        receiver.add_listener(self.events.append)
        del receiver
        gc.collect()
        sender.post_message("x")
        self.assertIsInstance(self.events[0].target, BroadcastChannel)
        self.assertEqual(self.events[0].target.name, "n")


class Closing(Base):
    def test_close(self):
        sender = BroadcastChannel(self.a, "n")
        receiver = self.channel(self.a, "n", "r")
        receiver.close()
        self.assertTrue(receiver.closed)
        receiver.close()  # a no-op
        sender.post_message("x")
        self.assertEqual(self.got, [])
        for call in (
            lambda: receiver.post_message("x"),
            lambda: receiver.add_listener(print),
            lambda: receiver.remove_listener(1),
            lambda: receiver.handle,
        ):
            with self.assertRaises(InvalidHandleError):
                call()
        self.assertIn("closed", repr(receiver))

    def test_context_manager(self):
        with BroadcastChannel(self.a, "n") as ch:
            self.assertFalse(ch.closed)
        self.assertTrue(ch.closed)

    def test_closed_with_the_window_and_on_navigation(self):
        c = self.window("http://127.0.0.1/c", parent=self.a)
        d = self.window("http://127.0.0.1/d")
        in_c = self.channel(c, "n", "c")
        in_d = self.channel(d, "n", "d")
        c.close()
        d.navigate("http://127.0.0.1/d2")
        self.assertTrue(in_c.closed and in_d.closed)
        self.assertEqual(registered(), self.baseline, "their listeners were released")
        BroadcastChannel(self.a, "n").post_message("x")
        self.assertEqual(self.got, [])
        with self.assertRaises(InvalidHandleError):
            BroadcastChannel(c, "n")


class Queued(Base):
    def test_queued_receivers(self):
        q = self.window("http://127.0.0.1/q")
        q.dispatch_mode = QUEUED
        sender = BroadcastChannel(self.a, "n")
        self.channel(q, "n", "queued")
        self.channel(self.a, "n", "sync")
        sender.post_message("x")
        self.assertEqual(self.got, [("sync", "x")])
        self.assertEqual(q.pending, 1)
        q.run_pending()
        self.assertEqual(self.got, [("sync", "x"), ("queued", "x")])

    def test_a_channel_closed_while_its_message_is_queued_gets_nothing(self):
        q = self.window("http://127.0.0.1/q")
        q.dispatch_mode = QUEUED
        sender = BroadcastChannel(self.a, "n")
        receiver = self.channel(q, "n", "queued")
        sender.post_message("x")
        receiver.close()
        self.assertEqual(q.run_pending(), 1)
        self.assertEqual(self.got, [])

    def test_queue_full_still_reaches_the_others(self):
        q = self.window("http://127.0.0.1/q")
        q.dispatch_mode = QUEUED
        q.set_queue_limit(1, 0)
        sender = BroadcastChannel(self.a, "n")
        self.channel(q, "n", "queued")
        self.channel(self.a, "n", "sync")
        sender.post_message("1")
        with self.assertRaises(QueueFullError):
            sender.post_message("2")
        self.assertEqual(self.got, [("sync", "1"), ("sync", "2")])
        q.run_pending()
        self.assertEqual(self.got[-1], ("queued", "1"))


if __name__ == "__main__":
    unittest.main()
