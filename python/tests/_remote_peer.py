"""Process B for test_remote.RealSubprocess: the iframe http://localhost in a child process.

Speaks a small synchronous framing over stdin/stdout (the test is the other end): each packet
is one kind byte, a 4-byte little-endian length, and the payload.
  b"R" a record for pm_remote_deliver; answered by one b"r" packet
  b"r" the result (4-byte little-endian pm_result) of the last b"R"
  b"Q" quit
"""

import struct
import sys

import _support  # noqa: F401  (puts the in-tree package on sys.path)
import postmessage
from postmessage import RemoteWindow, Window


class Pipe:
    """One end of the framing; ``send`` is synchronous and serves records while it waits."""

    def __init__(self, rfile, wfile, deliver):
        self.rfile, self.wfile, self.deliver = rfile, wfile, deliver

    def write(self, kind, payload=b""):
        self.wfile.write(kind + struct.pack("<I", len(payload)) + payload)
        self.wfile.flush()

    def read(self):
        head = self.rfile.read(5)
        if len(head) < 5:
            raise EOFError("the other process hung up")
        (length,) = struct.unpack("<I", head[1:])
        payload = self.rfile.read(length)
        if len(payload) < length:
            raise EOFError("the other process hung up")
        return head[:1], payload

    def serve(self, record):
        try:
            code = postmessage.Result.OK if self.deliver(record) else postmessage.Result.DROPPED
        except postmessage.Error as e:
            code = e.code
        self.write(b"r", struct.pack("<i", int(code)))

    def send(self, record):
        self.write(b"R", record)
        while True:
            kind, payload = self.read()
            if kind == b"r":
                return postmessage.Result(struct.unpack("<i", payload)[0])
            if kind == b"R":
                self.serve(payload)
                continue
            raise RuntimeError("unexpected packet {!r} while waiting for a result".format(kind))


def main():
    pipe = Pipe(sys.stdin.buffer, sys.stdout.buffer, None)
    a_proxy = RemoteWindow("http://127.0.0.1/index.html", pipe.send)
    b = Window("http://localhost/frame.html", parent=a_proxy)
    pipe.deliver = lambda record: b.deliver(record, source=a_proxy)
    ports = []

    def on_message(e):
        if e.origin != "http://127.0.0.1":
            return
        if e.text == "Hello World":
            e.reply("Hello from pid {}".format(__import__("os").getpid()))
        elif e.text == "port" and e.ports:
            port = e.ports[0]
            ports.append(port)
            port.add_listener(lambda pe: pe.reply("pong: " + pe.text))

    b.add_listener(on_message)
    while True:
        kind, payload = pipe.read()
        if kind == b"Q":
            break
        if kind == b"R":
            pipe.serve(payload)
    a_proxy.close()


if __name__ == "__main__":
    main()
