"""Queued delivery driven by an asyncio event loop, with a MessageChannel and a worker thread.

The page (http://127.0.0.1) receives its messages in QUEUED mode: posts only queue them, and the
window's waker asks the event loop to run them, so every listener runs on the loop's thread,
whichever thread posted. The page hands one end of a MessageChannel to an iframe
(http://localhost); a worker thread posts through the iframe's port; the page answers the last one.

Run it with the installed package (`pip install ./python`) from anywhere:
    python3 event_loop.py
or from the repository without installing, after `cargo build --release` (or `make demo`):
    python3 python/examples/event_loop.py
"""

import asyncio
import importlib.util
import os
import sys
import threading

# The installed package when there is one; otherwise the checkout's copy (python/postmessage).
if importlib.util.find_spec("postmessage") is None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from postmessage import QUEUED, MessageChannel, Window


async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    with Window("http://127.0.0.1/") as page:
        frame = Window("http://localhost/", parent=page)

        page.dispatch_mode = QUEUED
        # Called on the posting thread when the queue becomes non-empty: only schedule the work.
        page.set_waker(lambda window: loop.call_soon_threadsafe(window.run_pending))

        channel = MessageChannel(page)

        def on_port_message(event):  # runs on the loop's thread
            on_loop = threading.current_thread() is threading.main_thread()
            print("page got {!r} (on the event loop: {})".format(event.text, on_loop))
            if event.text == "bye":
                event.reply("see you")  # back through the port, to the frame
                done.set_result(None)

        channel.port1.add_listener(on_port_message)

        def on_frame_message(event):  # the frame is SYNC: runs inside the page's post
            frame_port = event.ports[0]
            frame_port.add_listener(lambda e: print("frame got {!r}".format(e.text)))

            def worker():
                for text in ("hello", "from", "a worker thread", "bye"):
                    frame_port.post_message(text)

            threading.Thread(target=worker).start()

        frame.add_listener(on_frame_message)
        page.post_message(frame, "your port", "http://localhost", transfer=[channel.port2])
        await asyncio.wait_for(done, 10)


asyncio.run(main())
