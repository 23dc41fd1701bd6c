#!/usr/bin/env bash
# make bench: builds the release library, benches/bench.c and benches/remote.c (-O2, linked
# against the .so in target/release), then prints the benchmark table and the remote-window
# rows. Exit status: 0 when every target passed, 1 when some target failed, 2 on a build or
# harness error.
#
#   bash benches/run.sh            # build and run
#   BENCH_NO_RUN=1 bash benches/run.sh   # build only (prints the binary's path)
#
# The GLib row needs glib-2.0 (pkg-config): .ci/deps bench installs it (as root, or with sudo
# when it needs no password) or stops with the command to run. The Node.js row runs
# benches/node_channel.js when `node` is on PATH.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CARGO=${CARGO:-cargo}
CC=${CC:-cc}
LIBDIR="${CARGO_TARGET_DIR:-target}/release"
case "$LIBDIR" in /*) ;; *) LIBDIR="$ROOT/$LIBDIR" ;; esac
OUT="$ROOT/build/bench"

# GLib (the g_signal_emit row) and pkg-config come from .ci/deps's "bench" rows: installed when
# root or sudo allows, else it stops with the command to run.
bash "$ROOT/.ci/deps" bench >&2 || exit 2

echo "==> $CARGO build --release" >&2
$CARGO build --release >&2 || exit 2
# Programs linked against the library look it up by its soname (e.g. libpostmessage.so.0.1);
# link that name next to cargo's output, as the Makefile's build target does.
soname=$(objdump -p "$LIBDIR/libpostmessage.so" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
if [ -n "$soname" ] && [ "$soname" != libpostmessage.so ] && [ ! -e "$LIBDIR/$soname" ]; then
  ln -sf libpostmessage.so "$LIBDIR/$soname"
fi

glib_flags=()
if pkg-config --exists glib-2.0 gobject-2.0 2>/dev/null; then
  # shellcheck disable=SC2207
  glib_flags=(-DHAVE_GLIB $(pkg-config --cflags --libs gobject-2.0 glib-2.0))
else
  echo "note: glib-2.0 unavailable; the g_signal_emit row is skipped" >&2
fi

mkdir -p "$OUT"
echo "==> $CC -O2 benches/bench.c -> build/bench/bench" >&2
$CC -std=gnu11 -O2 -g -Wall -Wextra -Iinclude benches/bench.c -o "$OUT/bench" \
  -L"$LIBDIR" -lpostmessage -Wl,-rpath,"$LIBDIR" -pthread "${glib_flags[@]}" || exit 2

echo "==> $CC -O2 benches/remote.c -> build/bench/remote" >&2
$CC -std=gnu11 -O2 -g -Wall -Wextra -Iinclude benches/remote.c -o "$OUT/remote" \
  -L"$LIBDIR" -lpostmessage -Wl,-rpath,"$LIBDIR" || exit 2

if [ -n "${BENCH_NO_RUN:-}" ]; then
  echo "$OUT/bench"
  exit 0
fi

if ! command -v node >/dev/null 2>&1; then
  echo "note: node not found; the Node.js MessageChannel row is skipped" >&2
fi
# The main table, then the remote-window rows (benches/remote.c: two processes); the worse
# exit status of the two.
status=0
"$OUT/bench" "$ROOT/benches/node_channel.js" || status=$?
echo
remote_status=0
"$OUT/remote" || remote_status=$?
[ "$remote_status" -gt "$status" ] && status=$remote_status

# The Node.js binding's row (bindings/node/bench/queued.js): a queued post between two documents
# against Node's own MessageChannel, measured the same way in the same run.
if command -v node >/dev/null 2>&1; then
  echo "==> building the Node.js binding (bindings/node)" >&2
  if sh bindings/node/scripts/setup.sh; then
    node bindings/node/bench/queued.js || { s=$?; [ "$s" -eq 1 ] && status=1 || exit 2; }
  else
    echo "error: the Node.js binding did not build" >&2
    exit 2
  fi
else
  echo "note: node not found; the Node.js binding row is skipped" >&2
fi

# The Python row (python/benches/post_listener.py): a SYNC post to a Python listener reading
# origin and text, against ctypes' own floor (qsort + one Python callback) in the same run.
echo
POSTMESSAGE_LIB="$LIBDIR/libpostmessage.so" "${PYTHON:-python3}" python/benches/post_listener.py \
  || { s=$?; [ "$s" -eq 1 ] && status=1 || exit 2; }
exit "$status"
