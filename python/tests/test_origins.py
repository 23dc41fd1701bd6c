"""Window origins and targetOrigin matching (HTML "window post message steps")."""

import unittest

import _support  # noqa: F401
import postmessage
from postmessage import Window


class WindowOrigins(unittest.TestCase):
    def test_serialization(self):
        cases = {
            "http://127.0.0.1/": "http://127.0.0.1",
            "http://localhost:80/a/b?c#d": "http://localhost",  # default port dropped
            "https://example.com:443/": "https://example.com",
            "https://example.com:8443/": "https://example.com:8443",
            "http://EXAMPLE.com/": "http://example.com",
            "http://0x7f.1/": "http://127.0.0.1",
            "http://[0:0::1]:80/": "http://[::1]",
            "http://example.com./": "http://example.com.",
            "http://\u00e9xample.com/": "http://xn--xample-9ua.com",
            "ws://x:80/": "ws://x",
            "blob:https://a.example/uuid": "https://a.example",
            "about:blank": "null",
            "data:,hello": "null",
            "file:///tmp/x": "null",
        }
        for url, origin in cases.items():
            with self.subTest(url=url), Window(url) as w:
                self.assertEqual(w.origin, origin)

    def test_child_about_blank_inherits_the_parent_origin(self):
        with Window("http://127.0.0.1/") as a:
            self.assertEqual(Window("about:blank", parent=a).origin, "http://127.0.0.1")
            self.assertEqual(Window("http://localhost/", parent=a).origin, "http://localhost")

    def test_navigation_changes_the_origin(self):
        with Window("http://127.0.0.1/") as a:
            a.navigate("https://example.com/page")
            self.assertEqual(a.origin, "https://example.com")
            a.navigate("about:blank")
            self.assertEqual(a.origin, "null")


class TargetOrigin(unittest.TestCase):
    def setUp(self):
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)
        self.got = []
        self.b.add_listener(self.got.append)

    def tearDown(self):
        self.a.close()

    def post(self, target_origin):
        before = len(self.got)
        delivered = self.a.post_message(self.b, "m", target_origin)
        self.assertEqual(len(self.got) - before, 1 if delivered else 0)
        return delivered

    def test_matching(self):
        for target_origin in (
            "*",
            "http://localhost",
            "http://localhost/",
            "http://localhost:80/path?query#fragment",  # only the origin counts
            "http://LocalHost",
            "http://user:pw@localhost/",
            " http://localhost \n",  # the URL parser strips surrounding spaces/controls
            "http://local\thost",  # ...and removes tabs and newlines inside
            "blob:http://localhost/some-uuid",
            b"http://localhost",
        ):
            with self.subTest(target_origin=target_origin):
                self.assertIs(self.post(target_origin), True)

    def test_not_matching_is_dropped(self):
        for target_origin in (
            "/",  # the source's (A's) own origin
            "http://127.0.0.1",
            "https://localhost",
            "http://localhost:8080",
            "http://localhost.",
            "http://sub.localhost",
            "about:blank",  # parses, but its origin is opaque: never matches
            "data:,x",
        ):
            with self.subTest(target_origin=target_origin):
                self.assertIs(self.post(target_origin), False)

    def test_malformed_is_a_syntax_error(self):
        for target_origin in ("", "localhost", "null", " *", "* ", "**", "//localhost", "/path", "http://"):
            with self.subTest(target_origin=target_origin):
                with self.assertRaises(postmessage.TargetOriginSyntaxError) as cm:
                    self.a.post_message(self.b, "m", target_origin)
                self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(self.got, [])

    def test_host_port_without_a_scheme_gets_a_hint(self):
        # "localhost:8080" is a URL of scheme "localhost:" (opaque): dropped, as in a browser,
        # and the library's last-error text says what was probably meant.
        self.assertIs(self.post("localhost:8080"), False)
        self.assertIn('did you mean "http://localhost:8080"?', postmessage._lib.last_error())
        # "127.0.0.1:8080" does not parse: the exception carries the same advice.
        with self.assertRaises(postmessage.TargetOriginSyntaxError) as cm:
            self.a.post_message(self.b, "m", "127.0.0.1:8080")
        self.assertIn('did you mean "http://127.0.0.1:8080"?', str(cm.exception))

    def test_slash_means_the_source_origin(self):
        same = Window("http://localhost/other", parent=self.a)
        self.assertTrue(same.post_message(self.b, "m", "/"))
        self.assertEqual(self.got[-1].origin, "http://localhost")
        self.assertIs(self.got[-1].source, same)

    def test_origin_check_uses_the_current_document(self):
        self.b.navigate("https://localhost/")
        # The old document's listener is gone; a new one sees the new origin.
        self.b.add_listener(self.got.append)
        self.assertFalse(self.a.post_message(self.b, "m", "http://localhost"))
        self.assertTrue(self.a.post_message(self.b, "m", "https://localhost"))
        self.assertEqual(len(self.got), 1)


class OpaqueOrigins(unittest.TestCase):
    def test_opaque_origins_compare_by_identity(self):
        with Window("about:blank") as o1, Window("about:blank") as o2:
            got = []
            o1.add_listener(got.append)
            self.assertEqual((o1.origin, o2.origin), ("null", "null"))
            self.assertTrue(o1.post_message(o1, "self", "/"))
            self.assertFalse(o2.post_message(o1, "other opaque", "/"))
            self.assertTrue(o2.post_message(o1, "star", "*"))
            self.assertEqual([(e.text, e.origin) for e in got], [("self", "null"), ("star", "null")])
            self.assertIs(got[1].source, o2)

    def test_child_about_blank_shares_the_opaque_origin(self):
        with Window("data:,parent") as o:
            child = Window("about:blank", parent=o)
            other = Window("about:blank", parent=o)
            got = []
            o.add_listener(got.append)
            self.assertTrue(child.post_message(o, "from child", "/"))
            self.assertTrue(other.post_message(child, "between siblings", "/"))
            other.navigate("about:blank")  # a new opaque origin
            self.assertFalse(other.post_message(o, "after navigation", "/"))
            self.assertEqual([e.text for e in got], ["from child"])

    def test_reply_to_an_opaque_source(self):
        with Window("http://127.0.0.1/") as a, Window("about:blank") as o:
            errors, replies = [], []

            def on_a(e):
                try:
                    e.reply("no")
                except postmessage.TargetOriginSyntaxError as err:
                    errors.append(err)
                self.assertTrue(e.reply("yes", target_origin="*"))

            a.add_listener(on_a)
            o.add_listener(replies.append)
            self.assertTrue(o.post_message(a, "hi", "*"))
            self.assertEqual(len(errors), 1)
            self.assertIn('target_origin="*"', errors[0].message)
            self.assertEqual([r.text for r in replies], ["yes"])


if __name__ == "__main__":
    unittest.main()
