"""Result codes and every error class: mapping, hierarchy, and real failures from the library."""

import ctypes
import pickle
import unittest

import _support
import postmessage
from postmessage import Result, Window
from postmessage._window import _check

EXPECTED_CODES = {
    "OK": 0,
    "DROPPED": 1,
    "ERR_NULL_ARGUMENT": 2,
    "ERR_INVALID_HANDLE": 3,
    "ERR_SYNTAX": 4,
    "ERR_INVALID_URL": 5,
    "ERR_UTF8": 6,
    "ERR_DEPTH": 7,
    "ERR_PANIC": 8,
    "ERR_DATA_CLONE": 9,
    "ERR_CLOSED": 10,
    "ERR_QUEUE_FULL": 11,
    "ERR_INVALID_ARGUMENT": 12,
    "ERR_SOURCE_ORIGIN": 13,
}

# code -> (class, also a ValueError?)
CLASSES = {
    2: (postmessage.NullArgumentError, True),
    3: (postmessage.InvalidHandleError, False),
    4: (postmessage.TargetOriginSyntaxError, True),
    5: (postmessage.InvalidURLError, True),
    6: (postmessage.UTF8Error, True),
    7: (postmessage.DepthError, False),
    8: (postmessage.PanicError, False),
    9: (postmessage.DataCloneError, True),
    10: (postmessage.ClosedError, False),
    11: (postmessage.QueueFullError, False),
    12: (postmessage.InvalidArgumentError, True),
    13: (postmessage.SourceOriginError, False),
}


class Codes(unittest.TestCase):
    def test_result_values_match_the_abi(self):
        self.assertEqual({r.name: r.value for r in Result}, EXPECTED_CODES)

    def test_c_names_as_module_constants(self):
        for name, value in EXPECTED_CODES.items():
            self.assertEqual(getattr(postmessage, "PM_" + name), value)
            self.assertIn("PM_" + name, postmessage.__all__)

    def test_every_error_code_has_its_class(self):
        for code, (cls, is_value_error) in CLASSES.items():
            with self.subTest(cls=cls.__name__):
                err = _check_raises(self, code, "boom")
                self.assertIs(type(err), cls)
                self.assertIsInstance(err, postmessage.Error)
                self.assertEqual(err.code, code)
                self.assertIs(err.code, Result(code))
                self.assertEqual(err.message, "boom")
                self.assertEqual(str(err), "boom")
                self.assertEqual(isinstance(err, ValueError), is_value_error)
                self.assertEqual(cls("m").code, code)  # constructible with a message alone
                copy = pickle.loads(pickle.dumps(err))
                self.assertEqual((type(copy), copy.code, copy.message), (cls, code, "boom"))

    def test_syntax_error_is_not_the_builtin(self):
        self.assertFalse(issubclass(postmessage.TargetOriginSyntaxError, SyntaxError))
        self.assertFalse(hasattr(postmessage, "SyntaxError"))

    def test_depth_error_is_a_recursion_error(self):
        self.assertTrue(issubclass(postmessage.DepthError, RecursionError))

    def test_unknown_code_is_plain_error_with_its_number(self):
        err = _check_raises(self, 99, "future")
        self.assertIs(type(err), postmessage.Error)
        self.assertEqual(err.code, 99)

    def test_ok_and_dropped_do_not_raise(self):
        self.assertEqual(_check(0), Result.OK)
        self.assertEqual(_check(1), Result.DROPPED)


def _check_raises(test, code, message):
    from postmessage import _errors

    err = _errors.error_for(code, message)
    with test.assertRaises(postmessage.Error) as cm:
        raise err
    return cm.exception


class RealFailures(unittest.TestCase):
    """Each error class as the real library (or the binding in front of it) raises it."""

    def setUp(self):
        self.a = Window("http://127.0.0.1/")
        self.b = Window("http://localhost/", parent=self.a)

    def tearDown(self):
        self.a.close()

    def test_invalid_handle(self):
        self.b.close()
        for call in (
            lambda: self.b.origin,
            lambda: self.a.post_message(self.b, "x", "*"),
            lambda: self.b.post_message(self.a, "x", "*"),
            lambda: self.b.add_listener(print),
        ):
            with self.assertRaises(postmessage.InvalidHandleError) as cm:
                call()
            self.assertEqual(cm.exception.code, Result.ERR_INVALID_HANDLE)
            self.assertIn("closed", cm.exception.message)

    def test_invalid_handle_from_the_library(self):
        with self.assertRaises(postmessage.InvalidHandleError) as cm:
            self.a.remove_listener(123456789)
        self.assertIn("listener id", cm.exception.message)  # the library's own message
        lid = self.a.add_listener(print)
        with self.assertRaises(postmessage.InvalidHandleError):
            self.b.remove_listener(lid)  # another window's listener
        self.a.remove_listener(lid)
        with self.assertRaises(postmessage.InvalidHandleError):
            self.a.remove_listener(lid)  # twice

    def test_syntax(self):
        with self.assertRaises(postmessage.TargetOriginSyntaxError) as cm:
            self.a.post_message(self.b, "x", "not an origin")
        self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(cm.exception.code, Result.ERR_SYNTAX)
        self.assertIn("not an origin", cm.exception.message)

    def test_invalid_url(self):
        for url in ("not a url", "", "http://", "/relative/path"):
            with self.subTest(url=url):
                with self.assertRaises(postmessage.InvalidURLError) as cm:
                    Window(url)
                self.assertEqual(cm.exception.code, Result.ERR_INVALID_URL)
                self.assertIn("absolute URL", cm.exception.message)
                with self.assertRaises(postmessage.InvalidURLError):
                    Window(url, parent=self.a)
                with self.assertRaises(postmessage.InvalidURLError):
                    self.a.navigate(url)
        self.assertEqual(self.a.origin, "http://127.0.0.1")  # a failed navigation changes nothing

    def test_utf8(self):
        for call in (
            lambda: Window(b"http://\xff/"),
            lambda: Window("http://\udc80/"),  # lone surrogate
            lambda: Window(b"http://\xff/", parent=self.a),
            lambda: self.a.navigate(b"http://\xff/"),
            lambda: self.a.post_message(self.b, "x", b"http://\xfflocalhost"),
            lambda: self.a.post_message(self.b, "\ud800", "*"),
        ):
            with self.assertRaises(postmessage.UTF8Error) as cm:
                call()
            self.assertEqual(cm.exception.code, Result.ERR_UTF8)
            self.assertIsInstance(cm.exception, ValueError)

    def test_embedded_nul_is_invalid_argument(self):
        for call in (
            lambda: Window("http://a/\0"),
            lambda: self.a.post_message(self.b, "x", "http://localhost\0.evil.example"),
        ):
            with self.assertRaises(postmessage.InvalidArgumentError) as cm:
                call()
            self.assertEqual(cm.exception.code, Result.ERR_INVALID_ARGUMENT)
            self.assertIsInstance(cm.exception, ValueError)
        got = []
        self.b.add_listener(got.append)
        self.assertTrue(self.a.post_message(self.b, "nul \0 inside data is fine", "*"))
        self.assertEqual(got[0].data, b"nul \0 inside data is fine")

    def test_depth(self):
        errors = []

        def again(e):
            try:
                e.target.post_message(e.target, "again", "*")
            except postmessage.DepthError as err:
                errors.append(err)

        self.a.add_listener(again)
        self.assertTrue(self.a.post_message(self.a, "go", "*"))
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0].code, Result.ERR_DEPTH)

    def test_invalid_handle_for_a_child_of_a_closed_parent(self):
        parent = Window("http://p.example/")
        parent.close()
        with self.assertRaises(postmessage.InvalidHandleError):
            Window("http://c.example/", parent=parent)
        # Freed behind the binding's back: the library refuses, and the binding still says why.
        parent = Window("http://p.example/")
        child = Window("http://c.example/", parent=parent)
        self.assertEqual(_support.raw.pm_window_free(parent.handle), Result.OK)
        with self.assertRaises(postmessage.InvalidHandleError) as cm:
            Window("http://c.example/", parent=parent)
        self.assertIn("not a live handle", cm.exception.message)
        self.assertTrue(parent.closed)
        self.assertTrue(child.closed)

    def test_null_argument_from_raw_calls(self):
        raw = _support.raw
        self.assertIsNone(raw.pm_window_new(None))
        self.assertIn("NULL", _support._lib.last_error())
        with self.assertRaises(postmessage.NullArgumentError) as cm:
            _check(raw.pm_window_navigate(self.a.handle, None))
        self.assertIn("NULL", cm.exception.message)
        with self.assertRaises(postmessage.NullArgumentError):
            _check(raw.pm_post_message(self.a.handle, None, b"x", 1, b"*"))
        self.assertEqual(raw.pm_window_free(None), Result.OK)

    def test_data_clone_from_a_raw_transfer(self):
        # Ports are not bound yet; a transfer list naming no live port is a DataCloneError.
        bogus = (ctypes.c_void_p * 1)(0x7FFF0001)
        code = _support.raw.pm_post_message_transfer(self.a.handle, self.b.handle, b"x", 1, b"*", bogus, 1)
        with self.assertRaises(postmessage.DataCloneError) as cm:
            _check(code)
        self.assertEqual(cm.exception.code, Result.ERR_DATA_CLONE)

    def test_type_errors_are_not_library_errors(self):
        for call in (
            lambda: Window(42),
            lambda: Window("http://x/", parent="nope"),
            lambda: self.a.post_message("not a window", "x", "*"),
            lambda: self.a.post_message(self.b, 42, "*"),
            lambda: self.a.post_message(self.b, "x", None),
            lambda: self.a.add_listener("not callable"),
            lambda: self.a.remove_listener("1"),
        ):
            with self.assertRaises(TypeError):
                call()


if __name__ == "__main__":
    unittest.main()
