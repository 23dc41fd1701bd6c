#!/usr/bin/env python3
"""Writes a seed corpus of valid records for the `remote_deliver` fuzz target (first byte: the
target/source choice, then the record), following docs/remote-format.md.

    python3 fuzz/seeds/remote_records.py fuzz/corpus/remote_deliver
"""
import os
import struct
import sys


def s16(text):
    raw = text.encode()
    return struct.pack("<H", len(raw)) + raw


def data(raw):
    return struct.pack("<I", len(raw)) + raw


def ports(ids):
    return bytes([len(ids)]) + b"".join(struct.pack("<Q", i) for i in ids)


def header(kind):
    return b"PM" + bytes([1, kind])


def window(origin, target_origin, ids, payload):
    return header(1) + s16(origin) + s16(target_origin) + ports(ids) + data(payload)


def port_message(pid, owner, ids, payload):
    return header(2) + struct.pack("<QB", pid, owner) + ports(ids) + data(payload)


def port_close(pid, owner):
    return header(3) + struct.pack("<QB", pid, owner)


def broadcast(origin, name, payload):
    return header(4) + s16(origin) + s16(name) + data(payload)


SEEDS = {
    "seed": (0x00, window("http://127.0.0.1", "http://localhost", [], b"Hello World")),
    "star_queued": (0x01, window("http://127.0.0.1", "*", [], b"queued")),
    "no_source": (0x04, window("https://evil.example", "*", [], b"forged")),
    "opaque": (0x04, window("null", "null", [], b"")),
    "mismatch": (0x00, window("http://127.0.0.1", "http://127.0.0.1", [7], b"x")),
    "with_ports": (0x00, window("http://127.0.0.1", "*", [1, 2, 3], b"ports")),
    "port_message": (0x00, port_message(1, 0, [], b"to a port")),
    "port_message_ports": (0x04, port_message(1, 1, [9], b"nested")),
    "port_close": (0x00, port_close(2, 0)),
    "broadcast": (0x00, broadcast("http://127.0.0.1", "c", b"news")),
    "broadcast_no_source": (0x06, broadcast("http://localhost", "c", b"news")),
    "local_source": (0x08, window("http://127.0.0.1", "*", [], b"local")),
    "other_source": (0x0C, window("https://other.example", "*", [4], b"other")),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/remote_deliver"
    os.makedirs(out, exist_ok=True)
    for name, (choice, record) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([choice]) + record)
    print(f"{len(SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
