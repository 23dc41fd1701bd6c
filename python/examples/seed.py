"""The seed scenario (the WebPlatform postMessage page), in Python.

Document A (http://127.0.0.1) holds an iframe with document B (http://localhost). A posts
'Hello World' to B, restricted to B's origin; B checks who sent it and replies 'Hello'.

Run from the repository after `cargo build --release` (or `make demo`):
    python3 python/examples/seed.py
"""

import os
import sys

# Run from a checkout without installing the package.
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
