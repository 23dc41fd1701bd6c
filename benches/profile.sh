#!/usr/bin/env bash
# Deterministic per-operation costs of the single-thread benchmark cases, from callgrind (not
# affected by machine load): instructions per op and atomic read-modify-write (lock-prefixed)
# instructions per op, plus the top functions of the cases named in PROFILE_TOP.
#
#   bash benches/profile.sh                  # every case
#   bash benches/profile.sh exact star l100  # some cases (keys: build/bench/bench --list)
#   PROFILE_TOP="exact l100" bash benches/profile.sh exact l100
#
# Each case runs N and 2N times under callgrind; the difference / N cancels setup cost.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install -y valgrind)" >&2; exit 2; }
N=${PROFILE_N:-2000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Build, then profile a private copy of the library: the objdump of the library must match the
# code that ran even if target/release is rebuilt meanwhile.
LIBDIR="${CARGO_TARGET_DIR:-target}/release"
${CARGO:-cargo} build --release >&2 || exit 2
mkdir -p "$TMP/lib"
cp -L "$LIBDIR/libpostmessage.so" "$TMP/lib/"
soname=$(objdump -p "$TMP/lib/libpostmessage.so" | awk '$1 == "SONAME" { print $2 }')
if [ -n "$soname" ] && [ "$soname" != libpostmessage.so ]; then
  ln -sf libpostmessage.so "$TMP/lib/$soname"
fi
glib_flags=()
if pkg-config --exists glib-2.0 gobject-2.0 2>/dev/null; then
  # shellcheck disable=SC2207
  glib_flags=(-DHAVE_GLIB $(pkg-config --cflags --libs gobject-2.0 glib-2.0))
fi
BIN="$TMP/bench"
${CC:-cc} -std=gnu11 -O2 -g -Iinclude benches/bench.c -o "$BIN" -L"$TMP/lib" -lpostmessage \
  -Wl,-rpath,"$TMP/lib" -pthread "${glib_flags[@]}" || exit 2
cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <("$BIN" --list | awk '{print $1}')
printf "%-10s %10s %8s   %s\n" case "Ir/op" "atomics" "(callgrind, N=$N vs $((2 * N)))"
for c in "${cases[@]}"; do
  for n in "$N" $((2 * N)); do
    valgrind --tool=callgrind --dump-instr=yes --demangle=no --callgrind-out-file="$TMP/$c.$n" \
      "$BIN" --only "$c" "$n" >/dev/null 2>"$TMP/$c.$n.err" ||
      { echo "$c: failed (see below)"; cat "$TMP/$c.$n.err"; exit 2; }
  done
  top=()
  case " ${PROFILE_TOP:-} " in *" $c "*) top=(--top 15) ;; esac
  python3 benches/callgrind_ops.py "$TMP/$c.$N" "$TMP/$c.$((2 * N))" "$N" "${top[@]}" |
    awk -v c="$c" 'NR == 1 { printf "%-10s %10s %8s\n", c, $1, $2; next } { print }'
done
