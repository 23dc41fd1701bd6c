"""Remote windows: RemoteWindow, Window.deliver / deliver, set_broadcast_forwarder.

Two "processes" are simulated in one interpreter: process A has the page ``a`` and a proxy for
the iframe, process B a proxy for the page and the iframe ``b``; each proxy's ``send`` hands
the record straight to the other side's ``deliver`` (a synchronous IPC). One test runs B in a
real child process (tests/_remote_peer.py) over pipes.
"""

import os
import struct
import subprocess
import sys
import unittest

import _support
from postmessage import (
    QUEUED,
    BroadcastChannel,
    InvalidArgumentError,
    MessageChannel,
    MessagePort,
    RemoteWindow,
    Result,
    SourceOriginError,
    TargetOriginSyntaxError,
    Window,
    deliver,
    set_broadcast_forwarder,
)
from _support import registered, unraisable_hook

URL_A = "http://127.0.0.1/index.html"
URL_B = "http://localhost/frame.html"


class Pair(unittest.TestCase):
    """a (process A) holds b_proxy; a_proxy (process B) holds b."""

    def setUp(self):
        self.baseline = registered()
        self.to_b = []  # every record b_proxy sent
        self.to_a = []
        self.a = Window(URL_A)
        self.b_proxy = RemoteWindow(URL_B, self.send_to_b, parent=self.a)
        self.a_proxy = RemoteWindow(URL_A, self.send_to_a)
        self.b = Window(URL_B, parent=self.a_proxy)
        self.at_a = []
        self.at_b = []
        self.a.add_listener(self.at_a.append)

    def send_to_b(self, record):
        self.to_b.append(record)
        return self.b.deliver(record, source=self.a_proxy)

    def send_to_a(self, record):
        self.to_a.append(record)
        return self.a.deliver(record, source=self.b_proxy)

    def tearDown(self):
        set_broadcast_forwarder(None)
        self.a.close()
        self.a_proxy.close()
        self.assertEqual(registered(), self.baseline, "every callback and send is released")

    def iframe_replies(self):
        def on_message(e):
            self.at_b.append(e)
            if e.origin == "http://127.0.0.1" and e.text == "Hello World":
                e.reply("Hello")

        self.b.add_listener(on_message)


class Seed(Pair):
    def test_the_exchange_is_synchronous_across(self):
        self.iframe_replies()
        self.assertTrue(self.a.post_message(self.b_proxy, "Hello World", "http://localhost"))
        # b's listener ran, and its reply reached a, before the post returned
        self.assertEqual([(e.text, e.origin) for e in self.at_b], [("Hello World", "http://127.0.0.1")])
        self.assertIs(self.at_b[0].source, self.a_proxy)
        self.assertIs(self.at_b[0].target, self.b)
        self.assertEqual([(e.text, e.origin) for e in self.at_a], [("Hello", "http://localhost")])
        self.assertIs(self.at_a[0].source, self.b_proxy)
        self.assertEqual((len(self.to_b), len(self.to_a)), (1, 1))

    def test_a_proxy_is_a_window_in_the_tree(self):
        self.assertIsInstance(self.b_proxy, Window)
        self.assertIs(self.b_proxy.parent, self.a)
        self.assertIs(self.b.parent, self.a_proxy)
        self.assertEqual(self.b_proxy.origin, "http://localhost")
        self.assertIn("RemoteWindow", repr(self.b_proxy))

    def test_the_origin_is_matched_on_the_receiving_side(self):
        self.iframe_replies()
        self.assertFalse(self.a.post_message(self.b_proxy, "Hello World", "https://localhost"))
        self.assertEqual(len(self.to_b), 1, "the record was sent: the match is decided there")
        self.assertEqual(self.at_b, [])
        self.assertEqual(self.at_a, [])

    def test_the_receiving_side_uses_the_current_origin(self):
        # B's document navigated; A's proxy still says http://localhost (stale)
        self.iframe_replies()
        self.b.navigate("http://other.example/")
        self.assertFalse(self.a.post_message(self.b_proxy, "Hello World", "http://localhost"))
        self.assertEqual(self.at_b, [])

    def test_a_malformed_target_origin_sends_nothing(self):
        with self.assertRaises(TargetOriginSyntaxError):
            self.a.post_message(self.b_proxy, "Hello World", "localhost")
        self.assertEqual(self.to_b, [])

    def test_slash_is_resolved_to_the_sender_when_posting(self):
        # "/" means a's origin, http://127.0.0.1: b (http://localhost) does not have it
        self.b.add_listener(self.at_b.append)
        self.assertFalse(self.a.post_message(self.b_proxy, "x", "/"))
        self.assertEqual((len(self.to_b), self.at_b), (1, []))
        self.assertTrue(self.b.deliver(self.record_from(Window(URL_B), "x", "/"), source=None))
        self.assertEqual([e.text for e in self.at_b], ["x"])

    def record_from(self, source, data, target_origin):
        """The record a post from ``source`` (a local window) to a throwaway proxy makes."""
        records = []
        proxy = RemoteWindow(URL_B, records.append, parent=source)
        try:
            source.post_message(proxy, data, target_origin)
        finally:
            source.close()
        self.assertEqual(len(records), 1)
        return records[0]


class HostileRecords(Pair):
    def record(self):
        """A real window record, as b_proxy sent it."""
        self.assertTrue(self.a.post_message(self.b_proxy, "Hello World", "*"))
        self.b.add_listener(self.at_b.append)
        return self.to_b[-1]

    def test_a_forged_sender_origin_is_refused(self):
        record = self.record()
        evil = RemoteWindow("http://evil.example/", lambda r: None)
        try:
            with self.assertRaises(SourceOriginError) as cm:
                self.b.deliver(record, source=evil)
            self.assertEqual(cm.exception.code, Result.ERR_SOURCE_ORIGIN)
        finally:
            evil.close()
        self.assertEqual(self.at_b, [])

    def test_without_a_source_the_claimed_origin_is_trusted(self):
        record = self.record()
        self.assertTrue(self.b.deliver(record))
        self.assertEqual([(e.origin, e.source) for e in self.at_b], [("http://127.0.0.1", None)])

    def test_every_truncation_is_refused_and_delivers_nothing(self):
        record = self.record()
        for n in range(len(record)):
            with self.subTest(length=n):
                with self.assertRaises(InvalidArgumentError):
                    self.b.deliver(record[:n], source=self.a_proxy)
        with self.assertRaises(InvalidArgumentError):
            self.b.deliver(record + b"\0", source=self.a_proxy)
        self.assertEqual(self.at_b, [])
        self.assertTrue(self.b.deliver(record, source=self.a_proxy))
        self.assertEqual(len(self.at_b), 1)

    def test_garbage_is_refused(self):
        self.b.add_listener(self.at_b.append)
        for junk in (b"", b"\0", b"\xff" * 64, bytes(range(256))):
            with self.assertRaises(InvalidArgumentError):
                deliver(junk, self.b, self.a_proxy)
        self.assertEqual(self.at_b, [])

    def test_a_window_record_needs_a_target(self):
        record = self.record()
        with self.assertRaises(InvalidArgumentError):
            deliver(record, None, self.a_proxy)

    def test_a_proxy_cannot_be_the_target(self):
        record = self.record()
        with self.assertRaises(InvalidArgumentError):
            self.b_proxy.deliver(record)

    def test_str_is_not_a_record(self):
        with self.assertRaises(TypeError):
            self.b.deliver("text")


class Send(Pair):
    def test_send_results_become_the_post_result(self):
        outcome = []
        proxy = RemoteWindow(URL_B, lambda r: outcome[-1], parent=self.a)
        outcome.append(None)
        self.assertTrue(self.a.post_message(proxy, "x", "*"))
        outcome.append(False)
        self.assertFalse(self.a.post_message(proxy, "x", "*"))
        outcome.append(Result.ERR_QUEUE_FULL)
        with self.assertRaises(Exception) as cm:
            self.a.post_message(proxy, "x", "*")
        self.assertEqual(cm.exception.code, Result.ERR_QUEUE_FULL)

    def test_an_exception_in_send_is_reported_and_the_post_fails(self):
        def broken(record):
            raise OSError("the pipe broke")

        proxy = RemoteWindow(URL_B, broken, parent=self.a)
        with unraisable_hook() as seen:
            with self.assertRaises(InvalidArgumentError):
                self.a.post_message(proxy, "x", "*")
        self.assertEqual(len(seen), 1)
        self.assertIsInstance(seen[0].exc_value, OSError)
        self.assertIs(seen[0].object, broken)

    def test_a_postmessage_error_in_send_is_the_posts_error(self):
        # e.g. the other side's deliver refused the record: the poster sees that code
        evil = RemoteWindow("http://evil.example/", lambda r: None)
        proxy = RemoteWindow(URL_B, lambda r: self.b.deliver(r, source=evil), parent=self.a)
        try:
            with unraisable_hook() as seen:
                with self.assertRaises(SourceOriginError):
                    self.a.post_message(proxy, "x", "*")
            self.assertEqual(seen, [], "not reported: it is the post's result")
        finally:
            evil.close()

    def test_send_is_released_with_the_proxy(self):
        before = registered()
        proxy = RemoteWindow(URL_B, lambda r: None)
        self.assertEqual(registered(), before + 1)
        proxy.close()
        self.assertEqual(registered(), before)
        page = Window(URL_A)
        child = RemoteWindow(URL_B, lambda r: None, parent=page)
        self.assertEqual(registered(), before + 1)
        page.navigate(URL_A)  # the old document's frames go, and the proxy with them
        self.assertTrue(child.closed)
        self.assertEqual(registered(), before)
        page.close()

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            RemoteWindow(URL_B, "not callable")
        with self.assertRaises(Exception):
            RemoteWindow("not a url", lambda r: None)

    def test_fire_and_forget_into_a_queued_window(self):
        outbox = []
        proxy = RemoteWindow(URL_B, lambda r: outbox.append(r), parent=self.a)
        self.b.dispatch_mode = QUEUED
        self.b.add_listener(self.at_b.append)
        self.assertTrue(self.a.post_message(proxy, "queued", "http://localhost"))
        self.assertEqual(len(outbox), 1)
        self.assertTrue(self.b.deliver(outbox[0], source=self.a_proxy))
        self.assertEqual((self.at_b, self.b.pending), ([], 1))
        self.assertEqual(self.b.run_pending(), 1)
        self.assertEqual([e.text for e in self.at_b], ["queued"])


class ProxyRestrictions(Pair):
    def test_a_proxy_runs_no_script(self):
        with self.assertRaises(InvalidArgumentError):
            self.b_proxy.add_listener(lambda e: None)
        with self.assertRaises(InvalidArgumentError):
            self.b_proxy.post_message(self.a, "from a proxy", "*")
        with self.assertRaises(InvalidArgumentError):
            MessageChannel(self.b_proxy)
        with self.assertRaises(InvalidArgumentError):
            BroadcastChannel(self.b_proxy, "news")
        with self.assertRaises(InvalidArgumentError):
            self.b_proxy.dispatch_mode = QUEUED
        self.assertEqual(self.b_proxy.pending, 0)
        self.assertEqual(self.b_proxy.run_pending(), 0)


class Ports(Pair):
    def test_a_port_crosses_and_works_both_ways(self):
        received = []
        got_at_a = []

        def on_message(e):
            if e.text == "port":
                port = e.ports[0]
                received.append(port)
                port.add_listener(lambda pe: pe.reply("pong: " + pe.text))
                port.post_message("hello from B")

        self.b.add_listener(on_message)
        ch = MessageChannel(self.a)
        ch.port1.add_listener(lambda e: got_at_a.append(e.text))
        self.assertTrue(self.a.post_message(self.b_proxy, "port", "http://localhost", transfer=[ch.port2]))
        self.assertTrue(ch.port2.closed, "transferred away")
        self.assertEqual(len(received), 1)
        self.assertIsInstance(received[0], MessagePort)
        self.assertEqual(got_at_a, ["hello from B"])
        self.assertTrue(ch.port1.post_message("ping"))
        self.assertEqual(got_at_a, ["hello from B", "pong: ping"])
        # the close crosses: B's posts are dropped from then on
        ch.port1.close()
        self.assertFalse(received[0].post_message("late"))
        self.assertEqual(got_at_a, ["hello from B", "pong: ping"])

    def test_a_port_record_for_an_unknown_port_is_dropped(self):
        port_records = []
        ch = MessageChannel(self.a)
        self.b.add_listener(lambda e: None)
        self.assertTrue(self.a.post_message(self.b_proxy, "port", "http://localhost", transfer=[ch.port2]))
        self.assertTrue(ch.port1.post_message("one"))
        port_records.append(self.to_b[-1])
        self.b.close()  # B's document and its ports are gone
        self.assertFalse(deliver(port_records[0]))


class Broadcast(Pair):
    def test_the_forwarder_gets_records_and_deliver_reaches_other_channels(self):
        tab1 = Window("http://127.0.0.1/tab1")
        tab2 = Window("http://127.0.0.1/tab2")
        try:
            records = []
            got = []
            BroadcastChannel(tab2, "news").add_listener(lambda e: got.append((e.text, e.origin)))
            sender = BroadcastChannel(tab1, "news")
            forward = records.append
            self.assertIsNone(set_broadcast_forwarder(forward))
            sender.post_message("headline")
            self.assertEqual(len(records), 1)
            self.assertEqual(got, [("headline", "http://127.0.0.1")], "the local delivery")
            # as another process would: a_proxy is http://127.0.0.1, the record's origin
            self.assertTrue(deliver(records[0], source=self.a_proxy))
            self.assertEqual(got, [("headline", "http://127.0.0.1")] * 2)
            with self.assertRaises(SourceOriginError):
                deliver(records[0], source=self.b_proxy)
            self.assertEqual(len(got), 2)
            self.assertIs(set_broadcast_forwarder(None), forward)
            sender.post_message("not forwarded")
            self.assertEqual(len(records), 1)
        finally:
            tab1.close()
            tab2.close()

    def test_a_failing_forwarder_is_reported(self):
        tab = Window("http://127.0.0.1/tab")
        try:
            def broken(record):
                raise RuntimeError("broker down")

            set_broadcast_forwarder(broken)
            with unraisable_hook() as seen:
                try:
                    BroadcastChannel(tab, "news").post_message("x")
                except InvalidArgumentError:
                    pass  # whether a forwarder's failure fails the post is the library's choice
            self.assertEqual([type(s.exc_value) for s in seen], [RuntimeError])
        finally:
            tab.close()


class RealSubprocess(unittest.TestCase):
    """Process B is a real child process; the IPC is its stdin/stdout, used synchronously."""

    def test_the_seed_and_a_port_across_a_real_process(self):
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_remote_peer.py")
        child = subprocess.Popen([sys.executable, peer], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        sys.path.insert(0, os.path.dirname(peer))
        try:
            from _remote_peer import Pipe

            a = Window(URL_A)
            pipe = Pipe(child.stdout, child.stdin, None)
            b_proxy = RemoteWindow(URL_B, pipe.send, parent=a)
            pipe.deliver = lambda record: a.deliver(record, source=b_proxy)
            got = []
            a.add_listener(lambda e: got.append((e.text, e.origin, e.source is b_proxy)))
            self.assertTrue(a.post_message(b_proxy, "Hello World", "http://localhost"))
            self.assertEqual(got, [("Hello from pid {}".format(child.pid), "http://localhost", True)])
            self.assertFalse(a.post_message(b_proxy, "Hello World", "https://localhost"))

            ch = MessageChannel(a)
            pongs = []
            ch.port1.add_listener(lambda e: pongs.append(e.text))
            self.assertTrue(a.post_message(b_proxy, "port", "http://localhost", transfer=[ch.port2]))
            self.assertTrue(ch.port1.post_message("ping"))
            self.assertEqual(pongs, ["pong: ping"])
            pipe.write(b"Q")
            self.assertEqual(child.wait(timeout=30), 0)
            a.close()
        finally:
            sys.path.remove(os.path.dirname(peer))
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdin.close()
            child.stdout.close()


if __name__ == "__main__":
    unittest.main()
