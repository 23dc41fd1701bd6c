"""The seed scenario (the WebPlatform postMessage page), in Python.

Document A (http://127.0.0.1) holds an iframe with document B (http://localhost). A posts
'Hello World' to B, restricted to B's origin; B checks who sent it and replies 'Hello'.

Run it with the installed package (`pip install ./python`) from anywhere:
    python3 seed.py
or from the repository without installing, after `cargo build --release` (or `make demo`):
    python3 python/examples/seed.py
"""

import importlib.util
import os
import sys

# The installed package when there is one; otherwise the checkout's copy (python/postmessage).
if importlib.util.find_spec("postmessage") is None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from postmessage import Window

with Window("http://127.0.0.1/") as a:  # Document A
    b = Window("http://localhost/", parent=a)  # Document B, an iframe inside A

    def on_message_in_b(event):
        if event.origin == "http://127.0.0.1":
            if event.text == "Hello World":
                event.reply("Hello")  # e.source.postMessage('Hello', e.origin)
            else:
                print(event)

    b.add_listener(on_message_in_b)
    a.add_listener(lambda event: print("A received {!r} from {}".format(event.text, event.origin)))

    delivered = a.post_message(b, "Hello World", "http://localhost")
    print("delivered:", delivered)
