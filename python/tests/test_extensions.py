"""Embedder extensions: allow-list listeners, the drop handler, standard schemes.

The drop handler and the scheme registry are process-wide: every test restores the drop handler
in tearDown, and scheme tests register names no other test uses (registration is permanent).
"""

import threading
import unittest

import _support  # noqa: F401  (puts the in-tree package on sys.path)
from postmessage import (
    QUEUED,
    BroadcastChannel,
    DepthError,
    DropEvent,
    DropReason,
    InvalidArgumentError,
    MessageChannel,
    QueueFullError,
    Result,
    TargetOriginSyntaxError,
    UTF8Error,
    Window,
    register_standard_scheme,
    set_drop_handler,
)
from _support import registered, unraisable_hook


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)
        self.c = Window("https://other.example/")
        self.got = []

    def tearDown(self):
        self.a.close()
        self.c.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")


class AllowList(Base):
    def test_only_listed_origins_reach_the_listener(self):
        self.b.add_listener(lambda e: self.got.append(("allow", e.origin)), origins=["http://127.0.0.1"])
        self.b.add_listener(lambda e: self.got.append(("all", e.origin)))
        self.assertTrue(self.a.post_message(self.b, "x", "*"))
        self.assertTrue(self.c.post_message(self.b, "x", "*"), "a filtered listener is not a drop of the post")
        self.assertEqual(
            self.got, [("allow", "http://127.0.0.1"), ("all", "http://127.0.0.1"), ("all", "https://other.example")]
        )

    def test_entries_are_parsed_like_target_origins(self):
        self.b.add_listener(
            lambda e: self.got.append(e.origin),
            origins=("https://OTHER.example:443/some/path?q#f", "http://127.0.0.1:80"),
        )
        self.a.post_message(self.b, "x", "*")
        self.c.post_message(self.b, "x", "*")
        with Window("https://other.example:8443/") as elsewhere:
            elsewhere.post_message(self.b, "x", "*")
        self.assertEqual(self.got, ["http://127.0.0.1", "https://other.example"])

    def test_removed_like_any_listener(self):
        lid = self.b.add_listener(lambda e: self.got.append(e.text), origins=["http://127.0.0.1"])
        self.b.remove_listener(lid)
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(self.got, [])

    def test_queued(self):
        self.b.dispatch_mode = QUEUED
        self.b.add_listener(lambda e: self.got.append(e.origin), origins=["https://other.example"])
        self.a.post_message(self.b, "x", "*")
        self.c.post_message(self.b, "x", "*")
        self.b.run_pending()
        self.assertEqual(self.got, ["https://other.example"])

    def test_not_for_port_or_broadcast_messages(self):
        # Allow-lists filter window messages only; a port or broadcast message never reaches them.
        self.b.add_listener(lambda e: self.got.append(e), origins=["http://127.0.0.1"])
        ch = MessageChannel(self.b)
        ch.port2.add_listener(lambda e: None)
        ch.port1.post_message("x")
        BroadcastChannel(self.b, "n")
        BroadcastChannel(self.a, "n").post_message("x")
        self.assertEqual(self.got, [])

    def test_bad_entries(self):
        for origins, error in (
            (["*"], TargetOriginSyntaxError),
            (["/"], TargetOriginSyntaxError),
            (["null"], TargetOriginSyntaxError),
            (["not a url"], TargetOriginSyntaxError),
            (["http://127.0.0.1", "*"], TargetOriginSyntaxError),
            ([], InvalidArgumentError),
            (["data:,x"], InvalidArgumentError),
            (["about:blank"], InvalidArgumentError),
            (["http://127.0.0.1", "nul\0"], InvalidArgumentError),
            ([b"\xff"], UTF8Error),
            ("http://127.0.0.1", TypeError),  # a single string, not a list
            ([5], TypeError),
            (5, TypeError),
        ):
            with self.assertRaises(error, msg=repr(origins)):
                self.b.add_listener(print, origins=origins)
        with self.assertRaises(TargetOriginSyntaxError) as cm:
            self.b.add_listener(print, origins=["*"])
        self.assertEqual(cm.exception.code, Result.ERR_SYNTAX)
        self.assertEqual(registered(), self.baseline, "refused callbacks are not kept")


class DropHandler(Base):
    def setUp(self):
        super().setUp()
        self.drops = []
        self.previous = set_drop_handler(self.drops.append)

    def tearDown(self):
        set_drop_handler(self.previous)
        super().tearDown()

    def only_drop(self):
        self.assertEqual(len(self.drops), 1, self.drops)
        d = self.drops[0]
        self.assertIsInstance(d, DropEvent)
        self.assertIsInstance(d.reason, DropReason)
        self.assertIn(d.reason.name, repr(d))
        return d

    def test_reason_values(self):
        self.assertEqual(
            [(r.name, int(r)) for r in DropReason],
            [
                ("ORIGIN_MISMATCH", 1),
                ("NAVIGATED", 2),
                ("TARGET_GONE", 3),
                ("QUEUE_FULL", 4),
                ("DEPTH", 5),
                ("FILTERED", 6),
            ],
        )

    def test_returns_the_previous_handler(self):
        def mine(d):
            pass

        set_drop_handler(mine)
        self.assertIs(set_drop_handler(None), mine)
        self.assertIsNone(set_drop_handler(mine))
        self.assertIs(set_drop_handler(self.drops.append), mine)

    def test_origin_mismatch(self):
        self.assertFalse(self.a.post_message(self.b, "12345", "http://localhost:9/path"))
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.ORIGIN_MISMATCH)
        self.assertEqual(
            (d.source_origin, d.target_origin, d.requested_origin, d.data_len),
            ("http://127.0.0.1", "http://localhost", "http://localhost:9/path", 5),
        )
        self.assertIs(d.source, self.a)
        self.assertIs(d.target, self.b)

    def test_origin_mismatch_at_queued_delivery(self):
        self.b.dispatch_mode = QUEUED
        self.a.post_message(self.b, "x", "https://other.example")
        self.assertEqual(self.drops, [])
        self.b.run_pending()
        d = self.only_drop()
        self.assertEqual((d.reason, d.requested_origin), (DropReason.ORIGIN_MISMATCH, "https://other.example"))

    def test_navigated(self):
        self.b.dispatch_mode = QUEUED
        self.a.post_message(self.b, "x", "*")
        self.b.navigate("https://new.example/")
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.NAVIGATED)
        self.assertEqual(d.target_origin, "http://localhost", "the old document's origin")
        self.assertIs(d.source, self.a)

    def test_navigated_port_messages(self):
        self.b.dispatch_mode = QUEUED
        ch = MessageChannel(self.b)
        ch.port2.add_listener(lambda e: None)
        ch.port1.post_message("abc")
        self.b.navigate("https://new.example/")
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.NAVIGATED)
        self.assertEqual((d.source_origin, d.requested_origin, d.data_len), ("", "", 3))
        self.assertIsNone(d.source)

    def test_target_gone_window_freed_with_queued_messages(self):
        self.b.dispatch_mode = QUEUED
        self.a.post_message(self.b, "x", "*")
        self.b.close()
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.TARGET_GONE)
        self.assertIsNone(d.target)
        self.assertEqual(d.target_origin, "http://localhost")

    def test_target_gone_port_partner_closed(self):
        ch = MessageChannel(self.a)
        ch.port2.close()
        self.assertFalse(ch.port1.post_message("xy"))
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.TARGET_GONE)
        self.assertEqual((d.source_origin, d.requested_origin, d.source, d.data_len), ("", "", None, 2))

    def test_target_gone_port_closed_with_waiting_messages(self):
        ch = MessageChannel(self.a)
        ch.port1.post_message("waiting")
        ch.port2.close()
        self.assertEqual(self.only_drop().reason, DropReason.TARGET_GONE)

    def test_target_gone_broadcast_channel_closed_while_queued(self):
        self.b.dispatch_mode = QUEUED
        with Window("http://localhost/") as peer:
            receiver = BroadcastChannel(self.b, "n")
            BroadcastChannel(peer, "n").post_message("x")
            receiver.close()
            self.b.run_pending()
        d = self.only_drop()
        self.assertEqual((d.reason, d.source_origin, d.requested_origin), (DropReason.TARGET_GONE, "http://localhost", ""))
        self.assertIsNone(d.source)

    def test_queue_full(self):
        self.b.dispatch_mode = QUEUED
        self.b.set_queue_limit(1, 0)
        self.a.post_message(self.b, "1", "*")
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "2", "*")
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.QUEUE_FULL)
        self.assertIs(d.target, self.b)

    def test_depth(self):
        depth_errors = []

        def recurse(e):
            try:
                self.a.post_message(self.a, "deeper", "*")
            except DepthError as exc:
                depth_errors.append(exc)

        self.a.add_listener(recurse)
        self.a.post_message(self.a, "start", "*")
        self.assertEqual(len(depth_errors), 1)
        d = self.only_drop()
        self.assertEqual(d.reason, DropReason.DEPTH)
        self.assertIs(d.target, self.a)

    def test_filtered_once_per_allow_list_listener(self):
        self.b.add_listener(print, origins=["https://other.example"])
        self.b.add_listener(print, origins=["https://elsewhere.example"])
        self.b.add_listener(lambda e: self.got.append(e.text), origins=["http://127.0.0.1"])
        self.a.post_message(self.b, "x", "*")
        self.assertEqual(self.got, ["x"])
        self.assertEqual([d.reason for d in self.drops], [DropReason.FILTERED] * 2)

    def test_removed_handler_is_not_called(self):
        set_drop_handler(None)
        self.a.post_message(self.b, "x", "https://nowhere.example")
        self.assertEqual(self.drops, [])

    def test_handler_may_call_the_library_and_is_not_reentered(self):
        def handler(d):
            self.drops.append(d)
            self.assertFalse(self.a.post_message(self.b, "inner", "https://also-wrong.example"))

        set_drop_handler(handler)
        self.a.post_message(self.b, "outer", "https://wrong.example")
        self.assertEqual([d.requested_origin for d in self.drops], ["https://wrong.example"])

    def test_exception_in_handler_is_reported(self):
        def handler(d):
            raise RuntimeError("handler failed")

        set_drop_handler(handler)
        with unraisable_hook() as seen:
            self.assertFalse(self.a.post_message(self.b, "x", "https://wrong.example"))
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0].err_msg, "Exception ignored in postmessage drop handler")
        self.assertIs(seen[0].object, handler)

    def test_called_on_the_deciding_thread(self):
        threads = []
        set_drop_handler(lambda d: threads.append(threading.get_ident()))
        t = threading.Thread(target=self.a.post_message, args=(self.b, "x", "https://wrong.example"))
        t.start()
        t.join(30)
        self.assertEqual(threads, [t.ident])

    def test_non_callable(self):
        with self.assertRaises(TypeError):
            set_drop_handler("print")


class Schemes(unittest.TestCase):
    def test_register(self):
        before = Window("pmtest-a://UI:8080/x")
        self.assertEqual(before.origin, "null")
        self.assertIsNone(register_standard_scheme("pmtest-a"))
        after = Window("pmtest-a://UI:8080/x")
        self.assertEqual(after.origin, "pmtest-a://ui:8080")
        self.assertEqual(before.origin, "null", "windows created earlier keep their origin")
        before.navigate("pmtest-a://other/")
        self.assertEqual(before.origin, "pmtest-a://other", "navigation uses the registry")
        before.close()
        after.close()

    def test_case_insensitive_and_idempotent(self):
        register_standard_scheme("PMTest-B")
        register_standard_scheme("pmtest-b")
        with Window("pmtest-b://host/") as w:
            self.assertEqual(w.origin, "pmtest-b://host")

    def test_target_origins_and_allow_lists_use_it(self):
        register_standard_scheme(b"pmtest-c")
        with Window("pmtest-c://ui/") as app, Window("http://127.0.0.1/") as web:
            got = []
            app.add_listener(lambda e: got.append(e.origin), origins=["http://127.0.0.1"])
            web.add_listener(lambda e: got.append(e.origin), origins=["pmtest-c://ui"])
            self.assertTrue(web.post_message(app, "x", "pmtest-c://ui/index.html"))
            self.assertFalse(web.post_message(app, "x", "pmtest-c://other"))
            self.assertTrue(app.post_message(web, "x", "http://127.0.0.1"))
            self.assertEqual(got, ["http://127.0.0.1", "pmtest-c://ui"])

    def test_a_scheme_with_tuple_origins_already(self):
        register_standard_scheme("https")
        with Window("https://example.com/") as w:
            self.assertEqual(w.origin, "https://example.com")

    def test_refused(self):
        for scheme in ("file", "blob", "data", "about", "javascript", "DATA", "", "1abc", "a b", "app:", "é"):
            with self.assertRaises(InvalidArgumentError, msg=scheme) as cm:
                register_standard_scheme(scheme)
            self.assertEqual(cm.exception.code, Result.ERR_INVALID_ARGUMENT)
        with self.assertRaises(UTF8Error):
            register_standard_scheme(b"\xff")
        with self.assertRaises(InvalidArgumentError):
            register_standard_scheme("app\0")
        with self.assertRaises(TypeError):
            register_standard_scheme(None)


if __name__ == "__main__":
    unittest.main()
