"""The Python row of `make bench` (issue #13): a SYNC post to a Python listener that reads
``e.origin`` and ``e.text``, against ctypes' own floor measured in the same process and run.

The floor is the cheapest thing a ctypes binding with Python listeners can do per message: one
foreign call that calls back one Python function once -- ``libc.qsort`` over two ints with a
CFUNCTYPE comparator that reads both (``a[0] - b[0]``, as in the ctypes documentation), exactly
one comparator call per sort. For information it also shows a bare floor: the same qsort with a
comparator taking two ``c_void_p`` and reading nothing.

Both loops run in alternating batches (so load from other processes hits both alike); each side's
figure is the median of its batches, and the ratio is ours / floor. Exit status: 0 when the ratio
is within the target, 1 when it is not, 2 on a harness error (the listener saw the wrong event).

    python3 python/benches/post_listener.py [--quick]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from postmessage import Window  # noqa: E402

#: ours / floor must be at most this (issue #13).
TARGET_RATIO = 3.0


def floor_case(bare=False):
    """A function running ``n`` qsort calls of two ints, each calling the comparator once: the
    ctypes documentation's comparator (``POINTER(c_int)`` arguments, reads both), or with
    ``bare`` one that takes two ``c_void_p`` and reads nothing (the least a Python callback can
    cost; shown for information)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    calls = [0]
    if bare:
        cmp_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

        def compare(a, b):
            calls[0] += 1
            return 0

    else:
        cmp_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))

        def compare(a, b):
            calls[0] += 1
            return a[0] - b[0]

    comparator = cmp_type(compare)
    array = (ctypes.c_int * 2)(1, 2)
    qsort = libc.qsort
    qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, cmp_type]
    qsort.restype = None
    size = ctypes.sizeof(ctypes.c_int)

    def run(n):
        for _ in range(n):
            qsort(array, 2, size, comparator)

    run(1)
    if calls[0] != 1:  # the floor must be one callback per foreign call
        raise SystemExit("harness error: qsort of two ints called the comparator {} times".format(calls[0]))
    return run, (comparator, libc)


def ours_case():
    """A function posting ``n`` messages from A to an iframe B whose listener reads origin and text."""
    a = Window("http://127.0.0.1/")
    b = Window("http://localhost/", parent=a)
    seen = []

    def listener(e):
        seen.append((e.origin, e.text))

    b.add_listener(listener)
    post = a.post_message

    def run(n):
        for _ in range(n):
            post(b, "Hello World", "http://localhost")
        del seen[:]

    post(b, "Hello World", "http://localhost")
    if seen != [("http://127.0.0.1", "Hello World")]:
        raise SystemExit("harness error: the listener saw {!r}".format(seen))
    return run, (a, b)


def measure(batches: int, n: int):
    """Per-call ns of each case, one list per case, batches interleaved."""
    cases = [floor_case(), floor_case(bare=True), ours_case()]
    times = [[] for _ in cases]
    for run, _ in cases:
        run(n)  # warm up
    for _ in range(batches):
        for (run, _), out in zip(cases, times):
            t = time.perf_counter_ns()
            run(n)
            out.append((time.perf_counter_ns() - t) / n)
    return times


def main(argv) -> int:
    quick = "--quick" in argv
    floor_ns, bare_ns, ours_ns = measure(batches=11 if quick else 31, n=2000 if quick else 5000)
    floor, bare, ours = (statistics.median(x) for x in (floor_ns, bare_ns, ours_ns))
    ratio = ours / floor
    passed = ratio <= TARGET_RATIO
    line = "python: {:<62} {:8.0f} ns  (min {:.0f})"
    print(line.format("ctypes floor: libc.qsort(2 ints), comparator reads a[0], b[0]", floor, min(floor_ns)))
    print(line.format("  (info) the same with c_void_p args, reading nothing", bare, min(bare_ns)))
    print(line.format("SYNC post A->B, Python listener reads e.origin and e.text", ours, min(ours_ns)))
    print("python: post / floor = {:.2f}x (target <= {:.1f}x; {:.2f}x the bare floor)         {}".format(
        ratio, TARGET_RATIO, ours / bare, "PASS" if passed else "FAIL"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
