"""The per-message fast paths (issue #13): Window.post_message's unconverted call, the event
read from its address, the string caches and the handle registry behave exactly as the general
path does -- for errors too, and after the caches have seen the arguments once."""

import gc
import unittest

import _support
import postmessage
from postmessage import Window, _window
from _support import raw, registered, unraisable_hook


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)
        self.got = []
        self.b.add_listener(self.got.append)

    def tearDown(self):
        self.a.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")


class PostErrors(Base):
    """Each case runs twice: the first call puts the targetOrigin in the cache, the second
    takes the fast path with it."""

    def test_delivered_and_mismatch(self):
        for _ in range(2):
            self.assertIs(self.a.post_message(self.b, "hi", "http://localhost"), True)
            self.assertIs(self.a.post_message(self.b, "no", "http://example.com"), False)
        self.assertEqual([e.text for e in self.got], ["hi", "hi"])

    def test_malformed_target_origin_raises_every_time(self):
        for _ in range(3):
            with self.assertRaises(postmessage.TargetOriginSyntaxError):
                self.a.post_message(self.b, "x", "not a url")
        self.assertEqual(self.got, [])

    def test_nul_in_target_origin_is_never_cached(self):
        for _ in range(2):
            with self.assertRaises(postmessage.InvalidArgumentError):
                self.a.post_message(self.b, "x", "http://localhost\0")
        self.assertNotIn("http://localhost\0", _window._target_origins)

    def test_closed_source_or_target(self):
        self.assertTrue(self.a.post_message(self.b, "x", "*"))
        c = Window("http://localhost/", parent=self.a)
        c.close()
        with self.assertRaises(postmessage.InvalidHandleError):
            self.a.post_message(c, "x", "*")
        with self.assertRaises(postmessage.InvalidHandleError):
            c.post_message(self.b, "x", "*")

    def test_target_freed_behind_the_objects_back(self):
        # Freed from C: the Window object still has its handle; the library refuses it.
        self.assertTrue(self.a.post_message(self.b, "x", "*"))
        d = Window("http://localhost/")
        self.assertEqual(raw.pm_window_free(d.handle), postmessage.PM_OK)
        with self.assertRaises(postmessage.InvalidHandleError):
            self.a.post_message(d, "x", "*")

    def test_lone_surrogate_data_raises_utf8_error(self):
        for _ in range(2):
            with self.assertRaises(postmessage.UTF8Error):
                self.a.post_message(self.b, "\ud800", "*")
        self.assertEqual(self.got, [])

    def test_other_data_types_and_empty_transfer_lists(self):
        self.a.post_message(self.b, "s", "*")
        self.a.post_message(self.b, b"b", "*")
        self.a.post_message(self.b, bytearray(b"ba"), "*")
        self.a.post_message(self.b, memoryview(b"mv"), "*")
        self.a.post_message(self.b, "", "*")
        self.a.post_message(self.b, "t", "*", [])
        self.a.post_message(self.b, "n", "*", None)
        self.a.post_message(self.b, "t2", "*", ())
        self.assertEqual([e.data for e in self.got], [b"s", b"b", b"ba", b"mv", b"", b"t", b"n", b"t2"])
        with self.assertRaises(TypeError):
            self.a.post_message(self.b, 42, "*")
        with self.assertRaises(TypeError):
            self.a.post_message(self.b, "x", 42)
        with self.assertRaises(TypeError):
            self.a.post_message(object(), "x", "*")

    def test_bytes_target_origin(self):
        self.assertTrue(self.a.post_message(self.b, "x", b"http://localhost"))
        self.assertFalse(self.a.post_message(self.b, "x", b"http://example.com"))
        self.assertEqual(len(self.got), 1)

    def test_queued_target(self):
        self.b.dispatch_mode = postmessage.QUEUED
        for _ in range(2):
            self.assertIs(self.a.post_message(self.b, "q", "http://localhost"), True)
            self.assertIs(self.a.post_message(self.b, "mismatch", "http://example.com"), True)
        self.assertEqual(self.got, [])
        self.assertEqual(self.b.run_pending(), 4)  # the mismatches are dropped at delivery
        self.assertEqual([e.text for e in self.got], ["q", "q"])

    def test_queue_full(self):
        self.b.dispatch_mode = postmessage.QUEUED
        self.b.set_queue_limit(1, None)
        self.assertTrue(self.a.post_message(self.b, "1", "*"))
        for _ in range(2):
            with self.assertRaises(postmessage.QueueFullError):
                self.a.post_message(self.b, "2", "*")


class TheEvent(Base):
    def test_fields(self):
        self.a.post_message(self.b, b"a\0b" * 1000, "*")  # past the shared c_size_t lengths too
        self.a.post_message(self.b, "é", "*")
        first, second = self.got
        self.assertEqual(first.data, b"a\0b" * 1000)
        self.assertEqual(first.origin, "http://127.0.0.1")
        self.assertEqual(first.last_event_id, "")
        self.assertIs(first.source, self.a)
        self.assertIs(first.target, self.b)
        self.assertEqual(first.ports, [])
        self.assertEqual(second.text, "é")
        self.assertIsNot(first.ports, second.ports)  # a list of its own each

    def test_opaque_origin_and_its_cache_entry(self):
        blank = Window("data:,x")
        try:
            blank.post_message(self.b, "x", "*")
            blank.post_message(self.b, "y", "*")
        finally:
            blank.close()
        self.assertEqual([e.origin for e in self.got], ["null", "null"])

    def test_source_nobody_holds(self):
        # A window made from C: no Window object for it until an event needs one.
        handle = raw.pm_window_new_child(self.a.handle, b"http://127.0.0.1/")
        self.assertTrue(handle)
        self.assertNotIn(handle, _window._registry)
        self.assertEqual(raw.pm_post_message(handle, self.b.handle, b"y", 1, b"*"), 0)
        (event,) = self.got
        self.assertIsInstance(event.source, Window)
        self.assertEqual(event.source.handle, handle)
        self.assertEqual(event.source.origin, "http://127.0.0.1")
        self.assertIs(event.source.parent, self.a)
        self.assertIs(Window._for(handle), event.source)  # registered while held

    def test_many_origins_keep_the_string_cache_bounded(self):
        windows = [Window("http://h{}.test/".format(i), parent=self.a) for i in range(_window._STRINGS_MAX + 50)]
        for w in windows:
            w.post_message(self.b, "x", "*")
        self.assertEqual([e.origin for e in self.got], ["http://h{}.test".format(i) for i in range(len(windows))])
        self.assertLessEqual(len(_window._strings), _window._STRINGS_MAX)
        self.assertEqual(_window._strings[None], "")

    def test_many_target_origins_keep_their_cache_bounded(self):
        for i in range(_window._TARGET_ORIGINS_MAX + 50):
            self.assertFalse(self.a.post_message(self.b, "x", "http://t{}.test".format(i)))
        self.assertLessEqual(len(_window._target_origins), _window._TARGET_ORIGINS_MAX)
        self.assertTrue(self.a.post_message(self.b, "x", "http://localhost"))


class Registry(unittest.TestCase):
    def test_dropped_windows_leave_the_registry(self):
        gc.collect()
        before = len(_window._registry)
        windows = [Window("http://127.0.0.1/") for _ in range(20)]
        self.assertEqual(len(_window._registry), before + 20)
        del windows
        gc.collect()
        self.assertEqual(len(_window._registry), before)

    def test_same_object_while_held(self):
        a = Window("http://127.0.0.1/")
        try:
            self.assertIs(Window._for(a.handle), a)
        finally:
            a.close()


class Stoppers(Base):
    def test_keyboard_interrupt_without_a_binding_call_on_the_stack_is_reported(self):
        def interrupt(e):
            if e.text == "x":
                raise KeyboardInterrupt

        self.b.add_listener(interrupt)
        with unraisable_hook() as seen:
            # The library called from C-like code (a raw call): no Python post to re-raise it.
            self.assertEqual(raw.pm_post_message(self.a.handle, self.b.handle, b"x", 1, b"*"), 0)
        self.assertEqual([r.exc_type for r in seen], [KeyboardInterrupt])
        self.assertEqual(_window._stoppers, {})
        self.assertTrue(self.a.post_message(self.b, "after", "*"))  # nothing left behind
        self.assertEqual([e.text for e in self.got], ["x", "after"])

    def test_keyboard_interrupt_from_a_broadcast_listener_reaches_the_poster(self):
        sender = postmessage.BroadcastChannel(self.a, "news")
        receiver = postmessage.BroadcastChannel(Window("http://127.0.0.1/", parent=self.a), "news")

        def interrupt(e):
            raise KeyboardInterrupt

        receiver.add_listener(interrupt)
        with unraisable_hook() as seen:
            with self.assertRaises(KeyboardInterrupt):
                sender.post_message("x")
        self.assertEqual(seen, [])
        self.assertEqual(_window._stoppers, {})

    def test_keyboard_interrupt_from_a_delivered_record_reaches_deliver(self):
        records = []
        source = Window("http://127.0.0.1/")
        proxy = postmessage.RemoteWindow("http://localhost/", records.append, parent=source)
        try:
            self.assertTrue(source.post_message(proxy, "x", "*"))
        finally:
            source.close()

        def interrupt(e):
            raise KeyboardInterrupt

        self.b.add_listener(interrupt)
        with unraisable_hook() as seen:
            with self.assertRaises(KeyboardInterrupt):
                self.b.deliver(records[0])
        self.assertEqual(seen, [])
        self.assertEqual([e.text for e in self.got], ["x"])  # the listener before it ran
        self.assertEqual(_window._stoppers, {})

    def test_a_stopper_belongs_to_its_thread(self):
        # Another thread's KeyboardInterrupt on its way out stops that thread's dispatch only.
        other_thread = object()
        _window._stoppers[other_thread] = KeyboardInterrupt()
        try:
            self.assertTrue(self.a.post_message(self.b, "mine", "*"))
            self.assertEqual(self.b.run_pending(), 0)
        finally:
            stopper = _window._stoppers.pop(other_thread, None)
        self.assertIsInstance(stopper, KeyboardInterrupt)  # left for its thread
        self.assertEqual([e.text for e in self.got], ["mine"])


if __name__ == "__main__":
    unittest.main()
