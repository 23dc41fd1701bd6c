"""MessageChannel and MessagePort: posting, starting, closing, transferring, DataCloneError."""

import gc
import threading
import unittest

import _support
from postmessage import (
    QUEUED,
    DataCloneError,
    InvalidHandleError,
    MessageChannel,
    MessageEvent,
    MessagePort,
    QueueFullError,
    Result,
    Window,
)
from _support import registered, unraisable_hook


def port_alive(handle):
    """Whether the library still knows a port handle (probes by closing it: only for handles
    that are about to be thrown away, or already dead)."""
    return _support.raw.pm_port_close(handle) != Result.ERR_INVALID_HANDLE


class Base(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)
        self.got = []
        self.events = []

    def tearDown(self):
        self.a.close()
        self.assertEqual(registered(), self.baseline, "every callback is released")

    def collect(self, port, tag=None):
        """A listener on `port` recording texts (tagged) and events."""

        def listener(e):
            self.events.append(e)
            self.got.append(e.text if tag is None else (tag, e.text))

        return port.add_listener(listener)


class Channel(Base):
    def test_a_channel_has_two_ports(self):
        ch = MessageChannel(self.a)
        self.assertIsInstance(ch.port1, MessagePort)
        self.assertIsInstance(ch.port2, MessagePort)
        self.assertIsNot(ch.port1, ch.port2)
        self.assertNotEqual(ch.port1.handle, ch.port2.handle)
        self.assertFalse(ch.port1.closed or ch.port2.closed)
        self.assertIn("MessagePort", repr(ch.port1))
        self.assertIn("MessageChannel", repr(ch))
        with self.assertRaises(AttributeError):
            ch.port1 = ch.port2

    def test_ports_are_not_constructed_directly(self):
        with self.assertRaises(TypeError):
            MessagePort()

    def test_bad_owner(self):
        with self.assertRaises(TypeError):
            MessageChannel("http://127.0.0.1/")
        c = Window("http://c.example/")
        c.close()
        with self.assertRaises(InvalidHandleError):
            MessageChannel(c)

    def test_post_and_receive_both_ways(self):
        ch = MessageChannel(self.a)
        self.collect(ch.port2, "2")
        self.collect(ch.port1, "1")
        self.assertTrue(ch.port1.post_message("to 2"))
        self.assertTrue(ch.port2.post_message(b"to 1"))
        self.assertEqual(self.got, [("2", "to 2"), ("1", "to 1")])

    def test_port_event(self):
        ch = MessageChannel(self.a)
        ch.port2.add_listener(self.events.append)
        ch.port1.post_message(bytearray(b"\x00\xffdata"))
        (e,) = self.events
        self.assertIsInstance(e, MessageEvent)
        self.assertEqual((e.data, e.origin, e.last_event_id, e.ports), (b"\x00\xffdata", "", "", []))
        self.assertIsNone(e.source)
        self.assertIs(e.target, ch.port2)

    def test_messages_wait_until_the_port_is_started(self):
        ch = MessageChannel(self.a)
        for i in range(3):
            self.assertTrue(ch.port1.post_message(str(i)))
        self.assertEqual(self.got, [])
        self.collect(ch.port2)  # starts the port: delivered before add_listener returns
        self.assertEqual(self.got, ["0", "1", "2"])
        ch.port1.post_message("3")
        self.assertEqual(self.got, ["0", "1", "2", "3"])

    def test_listeners_run_in_order_and_can_be_removed(self):
        ch = MessageChannel(self.a)
        first = self.collect(ch.port2, "first")
        self.collect(ch.port2, "second")
        ch.port1.post_message("x")
        ch.port2.remove_listener(first)
        ch.port1.post_message("y")
        self.assertEqual(self.got, [("first", "x"), ("second", "x"), ("second", "y")])
        with self.assertRaises(InvalidHandleError):
            ch.port2.remove_listener(first)
        with self.assertRaises(TypeError):
            ch.port2.remove_listener("1")
        with self.assertRaises(TypeError):
            ch.port2.add_listener("not callable")

    def test_reply_goes_back_through_the_port(self):
        ch = MessageChannel(self.a)
        ch.port2.add_listener(lambda e: e.reply("pong: " + e.text))
        self.collect(ch.port1)
        ch.port1.post_message("ping")
        self.assertEqual(self.got, ["pong: ping"])
        with self.assertRaises(TypeError):
            self.events[0].reply("x", "*")

    def test_close(self):
        ch = MessageChannel(self.a)
        self.collect(ch.port1)
        ch.port2.close()
        self.assertTrue(ch.port2.closed)
        ch.port2.close()  # a no-op
        self.assertFalse(ch.port1.post_message("to a closed partner"), "dropped")
        for call in (
            lambda: ch.port2.post_message("x"),
            lambda: ch.port2.add_listener(print),
            lambda: ch.port2.remove_listener(1),
            lambda: ch.port2.handle,
        ):
            with self.assertRaises(InvalidHandleError):
                call()
        self.assertIn("closed", repr(ch.port2))

    def test_close_drops_waiting_messages(self):
        ch = MessageChannel(self.a)
        ch.port1.post_message("never delivered")
        ch.port2.close()
        self.assertFalse(ch.port1.post_message("dropped"))

    def test_context_managers(self):
        with MessageChannel(self.a) as ch:
            with ch.port1 as port:
                self.assertIs(port, ch.port1)
            self.assertTrue(ch.port1.closed)
            self.assertFalse(ch.port2.closed)
        self.assertTrue(ch.port2.closed)

    def test_closed_with_their_window(self):
        c = Window("http://c.example/", parent=self.a)
        ch = MessageChannel(c)
        self.collect(ch.port2)
        c.close()
        self.assertTrue(ch.port1.closed and ch.port2.closed)
        self.assertEqual(registered(), self.baseline, "the port listener was released")

    def test_closed_with_a_parent_window(self):
        c = Window("http://c.example/", parent=self.a)
        ch = MessageChannel(c)
        self.a.close()
        self.assertTrue(ch.port1.closed and ch.port2.closed)

    def test_closed_when_the_window_navigates(self):
        ch = MessageChannel(self.b)
        self.collect(ch.port2)
        handle = ch.port1.handle
        self.b.navigate("http://localhost/next")
        self.assertTrue(ch.port1.closed and ch.port2.closed)
        self.assertFalse(port_alive(handle))
        MessageChannel(self.b).port1.post_message("the new document has ports")

    def test_port_keeps_delivering_when_its_object_is_dropped(self):
        ch = MessageChannel(self.a)
        self.collect(ch.port2)
        port1 = ch.port1
        handle2 = ch.port2.handle
        del ch
        gc.collect()
        port1.post_message("x")
        self.assertEqual(self.got, ["x"])
        self.assertIsInstance(self.events[0].target, MessagePort)
        self.assertEqual(self.events[0].target.handle, handle2)

    def test_exceptions_in_port_listeners_are_reported(self):
        ch = MessageChannel(self.a)

        def boom(e):
            raise ValueError("boom")

        ch.port2.add_listener(boom)
        self.collect(ch.port2)
        with unraisable_hook() as seen:
            ch.port1.post_message("x")
        self.assertEqual([type(s.exc_value) for s in seen], [ValueError])
        self.assertEqual(self.got, ["x"])

    def test_keyboard_interrupt_while_starting_a_port(self):
        ch = MessageChannel(self.a)
        ch.port1.post_message("1")
        ch.port1.post_message("2")

        def interrupt(e):
            self.got.append(e.text)
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            ch.port2.add_listener(interrupt)
        self.assertEqual(self.got, ["1"])

    def test_ports_in_a_queued_window(self):
        self.b.dispatch_mode = QUEUED
        ch = MessageChannel(self.b)
        self.collect(ch.port2)
        ch.port1.post_message("queued")
        self.assertEqual(self.got, [])
        self.assertEqual(self.b.pending, 1)
        self.b.run_pending()
        self.assertEqual(self.got, ["queued"])

    def test_port_closed_while_its_message_is_queued(self):
        self.b.dispatch_mode = QUEUED
        ch = MessageChannel(self.b)
        self.collect(ch.port2)
        ch.port1.post_message("queued")
        ch.port2.close()
        self.assertEqual(self.b.run_pending(), 1)
        self.assertEqual(self.got, [])

    def test_threads_posting_through_ports_into_a_queued_window(self):
        self.b.dispatch_mode = QUEUED
        count, posts = 6, 200
        channels = [MessageChannel(self.b) for _ in range(count)]
        received = {i: [] for i in range(count)}
        for i, ch in enumerate(channels):
            ch.port2.add_listener(lambda e, i=i: received[i].append(int(e.text)))

        def produce(i):
            for n in range(posts):
                channels[i].port1.post_message(str(n))

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        total = 0
        while any(t.is_alive() for t in threads) or self.b.pending:
            total += self.b.run_pending()
        for t in threads:
            t.join(30)
        self.assertEqual(total, count * posts)
        for i in range(count):
            self.assertEqual(received[i], list(range(posts)))


class Transfer(Base):
    def test_transfer_through_a_window_post(self):
        ch = MessageChannel(self.a)
        self.b.add_listener(self.events.append)
        self.assertTrue(self.a.post_message(self.b, "here is a port", "http://localhost", transfer=[ch.port2]))
        self.assertTrue(ch.port2.closed, "transferred away")
        with self.assertRaises(InvalidHandleError):
            ch.port2.post_message("x")
        with self.assertRaises(InvalidHandleError):
            ch.port2.add_listener(print)
        ch.port2.close()  # a no-op
        (e,) = self.events
        self.assertEqual(e.text, "here is a port")
        self.assertEqual(len(e.ports), 1)
        received = e.ports[0]
        self.assertIsInstance(received, MessagePort)
        self.assertFalse(received.closed)
        # The received port is entangled with port1.
        self.collect(received, "b")
        self.collect(ch.port1, "a")
        ch.port1.post_message("hello b")
        received.post_message("hello a")
        self.assertEqual(self.got, [("b", "hello b"), ("a", "hello a")])

    def test_every_listener_sees_the_same_port_object(self):
        ch = MessageChannel(self.a)
        self.b.add_listener(self.events.append)
        self.b.add_listener(self.events.append)
        self.a.post_message(self.b, "x", "*", [ch.port1, ch.port2])
        first, second = self.events
        self.assertEqual(len(first.ports), 2)
        self.assertIs(first.ports[0], second.ports[0])
        self.assertIs(first.ports[1], second.ports[1])

    def test_waiting_messages_travel_with_the_port(self):
        ch = MessageChannel(self.a)
        ch.port1.post_message("early")
        self.b.add_listener(self.events.append)
        self.a.post_message(self.b, "x", "*", [ch.port2])
        self.collect(self.events[0].ports[0])
        self.assertEqual(self.got, ["early"])

    def test_transfer_through_a_port_post(self):
        carrier = MessageChannel(self.a)
        cargo = MessageChannel(self.a)
        self.collect(carrier.port2, "carrier")
        self.assertTrue(carrier.port1.post_message("take this", transfer=[cargo.port2]))
        self.assertTrue(cargo.port2.closed)
        moved = self.events[0].ports[0]
        self.collect(moved, "moved")
        cargo.port1.post_message("through the moved port")
        self.assertEqual(self.got, [("carrier", "take this"), ("moved", "through the moved port")])

    def test_transfer_with_a_reply(self):
        ch = MessageChannel(self.a)
        self.b.add_listener(lambda e: e.reply("answer", transfer=[ch.port2]) if e.text == "ask" else None)
        self.a.add_listener(self.events.append)
        self.b.post_message(self.b, "unrelated", "*")
        self.a.post_message(self.b, "ask", "*")
        self.assertTrue(ch.port2.closed)
        self.assertEqual(len(self.events[0].ports), 1)

    def test_a_received_port_belongs_to_the_receiving_window(self):
        c = Window("http://c.example/", parent=self.a)
        via_window, via_port = MessageChannel(self.a), MessageChannel(self.a)
        c.add_listener(self.events.append)
        self.a.post_message(c, "x", "*", [via_window.port2, via_port.port1])
        received, carrier = self.events[0].ports
        carrier.add_listener(self.events.append)
        cargo = MessageChannel(self.a)
        via_port.port2.post_message("cargo", [cargo.port2])
        (moved,) = self.events[1].ports
        c.close()  # the receiving window goes, and every port it received with it
        self.assertTrue(received.closed and carrier.closed and moved.closed)
        self.assertFalse(via_window.port1.post_message("partner gone"))
        self.assertFalse(cargo.port1.post_message("partner gone"))

    def test_a_dropped_window_post_closes_the_transferred_ports(self):
        ch = MessageChannel(self.a)
        handle = ch.port2.handle
        self.assertFalse(self.a.post_message(self.b, "x", "http://elsewhere.example", [ch.port2]))
        self.assertTrue(ch.port2.closed)
        self.assertFalse(port_alive(handle))
        self.assertFalse(ch.port1.post_message("partner gone"))

    def test_queued_transfer(self):
        self.b.dispatch_mode = QUEUED
        ch = MessageChannel(self.a)
        self.b.add_listener(self.events.append)
        self.a.post_message(self.b, "x", "*", [ch.port2])
        self.assertTrue(ch.port2.closed, "taken from the sender at once")
        self.b.run_pending()
        (received,) = self.events[0].ports
        self.collect(received)
        ch.port1.post_message("hi")
        self.b.run_pending()
        self.assertEqual(self.got, ["hi"])

    def test_queued_transfer_dropped_at_delivery(self):
        self.b.dispatch_mode = QUEUED
        ch = MessageChannel(self.a)
        self.a.post_message(self.b, "x", "http://elsewhere.example", [ch.port2])
        self.b.run_pending()
        self.assertFalse(ch.port1.post_message("partner gone"))

    def test_data_clone_errors_through_a_port(self):
        ch, other = MessageChannel(self.a), MessageChannel(self.a)
        self.collect(ch.port2)
        for transfer in ([ch.port1], [ch.port2], [other.port1, other.port1]):
            with self.assertRaises(DataCloneError) as cm:
                ch.port1.post_message("x", transfer)
            self.assertIsInstance(cm.exception, ValueError)
            self.assertEqual(cm.exception.code, Result.ERR_DATA_CLONE)
            self.assertFalse(any(p.closed for p in transfer), "nothing was transferred")
        self.assertEqual(self.got, [], "nothing was posted")
        self.assertTrue(ch.port1.post_message("still usable", [other.port1]))

    def test_data_clone_errors_through_a_window_post(self):
        ch, other = MessageChannel(self.a), MessageChannel(self.a)
        self.b.add_listener(self.events.append)
        with self.assertRaises(DataCloneError):
            self.a.post_message(self.b, "x", "*", [ch.port1, ch.port1])
        other.port1.close()
        with self.assertRaises(DataCloneError):
            self.a.post_message(self.b, "x", "*", [ch.port1, other.port1])
        self.assertEqual(self.events, [])
        self.assertFalse(ch.port1.closed)

    def test_a_port_closed_behind_the_bindings_back_is_a_data_clone_error(self):
        ch = MessageChannel(self.a)
        _support.raw.pm_port_close(ch.port2.handle)
        with self.assertRaises(DataCloneError):
            self.a.post_message(self.b, "x", "*", [ch.port2])
        with self.assertRaises(InvalidHandleError):
            ch.port2.post_message("x")

    def test_a_transferred_port_cannot_be_transferred_again(self):
        ch = MessageChannel(self.a)
        self.a.post_message(self.b, "x", "*", [ch.port2])
        with self.assertRaises(DataCloneError):
            self.a.post_message(self.b, "again", "*", [ch.port2])

    def test_transfer_argument_types(self):
        ch = MessageChannel(self.a)
        for bad in (ch.port2, ["port"], 5, [ch.port2, None]):
            with self.assertRaises(TypeError):
                self.a.post_message(self.b, "x", "*", bad)
            with self.assertRaises(TypeError):
                ch.port1.post_message("x", bad)
        self.assertFalse(ch.port2.closed)
        self.assertTrue(self.a.post_message(self.b, "x", "*", None))
        self.assertTrue(self.a.post_message(self.b, "x", "*", ()))
        self.assertTrue(self.a.post_message(self.b, "x", "*", (p for p in [ch.port2])))
        self.assertTrue(ch.port2.closed)

    def test_queue_full_window_post_transfers_nothing(self):
        self.b.dispatch_mode = QUEUED
        self.b.set_queue_limit(1, 0)
        self.a.post_message(self.b, "fill", "*")
        ch = MessageChannel(self.a)
        with self.assertRaises(QueueFullError):
            self.a.post_message(self.b, "x", "*", [ch.port2])
        self.assertFalse(ch.port2.closed)
        self.collect(ch.port2)
        ch.port1.post_message("still entangled")
        self.assertEqual(self.got, ["still entangled"])

    def test_refused_port_post_transfers_nothing(self):
        # A port post refused for a full queue keeps its transfer list, like a window post.
        self.b.dispatch_mode = QUEUED
        self.b.set_queue_limit(1, 0)
        carrier = MessageChannel(self.b)
        carrier.port2.add_listener(lambda e: None)
        carrier.port1.post_message("fill")
        cargo = MessageChannel(self.a)
        handle = cargo.port2.handle
        with self.assertRaises(QueueFullError):
            carrier.port1.post_message("over the limit", [cargo.port2])
        self.assertFalse(cargo.port2.closed)
        self.assertTrue(port_alive(handle))


if __name__ == "__main__":
    unittest.main()
