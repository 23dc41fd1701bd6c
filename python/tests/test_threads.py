"""Posting from several Python threads (ctypes releases the GIL around each library call)."""

import collections
import threading
import unittest

import _support
import postmessage
from postmessage import Window
from _support import registered

THREADS = 8
POSTS = 400


def run_threads(test, target, count=THREADS):
    barrier = threading.Barrier(count)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # reported to the test below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        test.assertFalse(t.is_alive(), "a thread hung")
    if errors:
        raise errors[0]


class Threads(unittest.TestCase):
    def setUp(self):
        self.baseline = registered()

    def tearDown(self):
        self.assertEqual(registered(), self.baseline)

    def test_separate_windows(self):
        counts = [0] * THREADS
        wrong_thread = []

        def worker(i):
            with Window("http://t{}.example/".format(i)) as a:
                b = Window("http://u{}.example/".format(i), parent=a)
                me = threading.get_ident()

                def on_b(e):
                    if threading.get_ident() != me or e.source is not a:
                        wrong_thread.append(i)
                    counts[i] += 1
                    e.reply("ack")

                b.add_listener(on_b)
                acks = []
                a.add_listener(acks.append)
                for n in range(POSTS):
                    assert a.post_message(b, str(n), "http://u{}.example".format(i))
                    assert not a.post_message(b, "dropped", "http://wrong.example")
                assert len(acks) == POSTS, len(acks)

        run_threads(self, worker)
        self.assertEqual(counts, [POSTS] * THREADS)
        self.assertEqual(wrong_thread, [])

    def test_shared_target(self):
        lock = threading.Lock()
        per_source = collections.Counter()
        with Window("http://shared.example/") as shared:

            def on_shared(e):
                with lock:
                    per_source[e.origin] += 1

            shared.add_listener(on_shared)

            def worker(i):
                with Window("http://s{}.example/".format(i)) as source:
                    for n in range(POSTS):
                        assert source.post_message(shared, b"%d" % n, "http://shared.example")

            run_threads(self, worker)
        self.assertEqual(per_source, {"http://s{}.example".format(i): POSTS for i in range(THREADS)})

    def test_listeners_added_and_removed_while_others_post(self):
        hits = collections.Counter()
        lock = threading.Lock()
        with Window("http://shared.example/") as shared:

            def counter(e):
                with lock:
                    hits["always"] += 1

            shared.add_listener(counter)

            def worker(i):
                if i % 2:
                    for _ in range(POSTS):
                        lid = shared.add_listener(lambda e: None)
                        shared.remove_listener(lid)
                else:
                    with Window("http://p{}.example/".format(i)) as source:
                        for _ in range(POSTS):
                            assert source.post_message(shared, "x", "*")

            run_threads(self, worker)
        self.assertEqual(hits["always"], POSTS * (THREADS // 2))

    def test_windows_closed_while_others_post_to_them(self):
        delivered = collections.Counter()

        def worker(i):
            with Window("http://q{}.example/".format(i)) as me:
                for n in range(POSTS // 4):
                    victim = Window("http://victim.example/")
                    victim.add_listener(lambda e: None)
                    if i % 2:
                        victim.close()
                    try:
                        if me.post_message(victim, "x", "*"):
                            delivered[i] += 1
                    except postmessage.InvalidHandleError:
                        delivered["closed"] += 1
                    victim.close()

        run_threads(self, worker)
        self.assertEqual(sum(delivered.values()), THREADS * (POSTS // 4))
        self.assertEqual(delivered["closed"], THREADS // 2 * (POSTS // 4))

    def test_removed_or_closed_while_running_on_another_thread(self):
        for how in ("remove", "close"):
            with self.subTest(how=how):
                w = Window("http://w.example/")
                entered, release = threading.Event(), threading.Event()
                after = []

                def slow(e):
                    entered.set()
                    release.wait(30)
                    try:
                        after.append(e.target.origin)
                    except postmessage.InvalidHandleError:
                        after.append("closed")

                lid = w.add_listener(slow)
                poster = threading.Thread(target=w.post_message, args=(w, "x", "*"))
                poster.start()
                self.assertTrue(entered.wait(30))
                with_it = _support._listeners.registered_count()
                if how == "remove":
                    w.remove_listener(lid)
                else:
                    w.close()
                # The running call keeps its callback until it returns.
                self.assertEqual(_support._listeners.registered_count(), with_it)
                release.set()
                poster.join(30)
                self.assertFalse(poster.is_alive())
                self.assertEqual(_support._listeners.registered_count(), with_it - 1)
                self.assertEqual(after, ["http://w.example" if how == "remove" else "closed"])
                w.close()

    def test_exceptions_on_several_threads(self):
        with _support.unraisable_hook() as seen:

            def worker(i):
                with Window("http://e{}.example/".format(i)) as w:
                    w.add_listener(lambda e: 1 / 0)
                    for _ in range(50):
                        assert w.post_message(w, "x", "/")

            run_threads(self, worker)
        self.assertEqual(len(seen), THREADS * 50)
        self.assertTrue(all(r.exc_type is ZeroDivisionError for r in seen))


if __name__ == "__main__":
    unittest.main()
