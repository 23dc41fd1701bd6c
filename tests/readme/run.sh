#!/usr/bin/env bash
# The README's quick starts must work as printed (run by `make test-readme`, part of
# `make test`): the C and C++ programs are cut out of README.md, built with the build lines it
# gives (plus -Wall -Wextra -Werror) against target/release, and run; the Python snippet runs
# against the checkout's package. Each must print the reply the README promises.
# Prints "readme test: N passed, M failed"; exits non-zero on any failure.
set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
CC=${CC:-cc}
CXX=${CXX:-g++}
libdir="${CARGO_TARGET_DIR:-$repo/target}/release"
case "$libdir" in /*) ;; *) libdir="$repo/$libdir" ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-readme-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
# block LANG: the first fenced block of that language in README.md.
block() { awk -v lang="$1" '$0 == "```" lang { f = 1; next } /^```/ { if (f) exit } f' "$repo/README.md"; }
# expect DESC EXPECTED COMMAND...: COMMAND's output must contain EXPECTED.
expect() {
  desc=$1 expected=$2
  shift 2
  if out=$("$@" 2>&1) && grep -qF -- "$expected" <<<"$out"; then
    pass=$((pass + 1)); echo "  ok: $desc"
  else
    fail=$((fail + 1)); echo "  FAILED: $desc"; echo "$out" | sed 's/^/    /'
  fi
}

block c >"$tmp/app.c"
block cpp >"$tmp/app.cpp"
block python >"$tmp/app.py"
for f in app.c app.cpp app.py; do
  [ -s "$tmp/$f" ] || { fail=$((fail + 1)); echo "  FAILED: README.md has no quick start for $f"; }
done

cd "$repo" || exit 1
expect "the C quick start builds and runs" 'parent got "Hello" from http://localhost' \
  sh -c "$CC -std=c11 -Wall -Wextra -Werror -Iinclude '$tmp/app.c' -L'$libdir' -lpostmessage \
         -Wl,-rpath,'$libdir' -o '$tmp/app_c' && '$tmp/app_c'"
expect "the C++ quick start builds and runs" 'parent got "Hello" from http://localhost' \
  sh -c "$CXX -std=c++17 -Wall -Wextra -Werror -Iinclude '$tmp/app.cpp' -L'$libdir' -lpostmessage \
         -Wl,-rpath,'$libdir' -o '$tmp/app_cpp' && '$tmp/app_cpp'"
expect "the Python quick start runs" "A got 'Hello' from http://localhost" \
  env -u POSTMESSAGE_LIB PYTHONPATH="$repo/python" "$PYTHON" "$tmp/app.py"

echo "readme test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
