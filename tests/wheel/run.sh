#!/usr/bin/env bash
# The Python package as a user gets it (run by `make test-wheel`, part of `make test`):
#
#   1. `pip wheel ./python` builds a platform wheel (py3-none-<platform>) that carries
#      postmessage/libpostmessage.so;
#   2. the wheel installs into a fresh venv (no network: the wheel needs nothing else);
#   3. from a directory outside the repository, with POSTMESSAGE_LIB, CARGO_TARGET_DIR and
#      PYTHONPATH unset, `import postmessage` loads the package and the library from the venv,
#      and python/examples/seed.py (a copy) prints the seed's output.
#
# cargo builds into target/wheel (or $PM_WHEEL_TARGET_DIR), kept between runs: the first run
# compiles the dependencies once, later runs only check that nothing changed.
# Prints "wheel test: N passed, M failed"; exits non-zero on any failure.
set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
target_dir=${PM_WHEEL_TARGET_DIR:-$repo/target/wheel}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-wheel-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
not_ok() { fail=$((fail + 1)); echo "  FAILED: $1"; }
finish() {
  echo "wheel test: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}

echo "==> CARGO_TARGET_DIR=$target_dir $PYTHON -m pip wheel --no-deps ./python"
start=$(date +%s)
if ! (cd "$repo" && CARGO_TARGET_DIR=$target_dir "$PYTHON" -m pip wheel --no-deps -q ./python \
        -w "$tmp/dist") >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log"
  not_ok "pip wheel ./python"
  finish
fi
ok "pip wheel ./python ($(($(date +%s) - start)) s)"

wheels=("$tmp"/dist/postmessage-*.whl)
wheel=${wheels[0]}
case $(basename "$wheel") in
  postmessage-*-py3-none-linux_*.whl | postmessage-*-py3-none-macosx_*.whl) ok "a platform wheel: $(basename "$wheel")" ;;
  *) not_ok "expected one postmessage-*-py3-none-<platform>.whl, got: ${wheels[*]}" ;;
esac
if "$PYTHON" -m zipfile -l "$wheel" | grep -Eq '^postmessage/libpostmessage\.(so|dylib) '; then
  ok "the wheel carries postmessage/libpostmessage"
else
  "$PYTHON" -m zipfile -l "$wheel"
  not_ok "the wheel carries postmessage/libpostmessage"
fi

if ! "$PYTHON" -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1; then
  cat "$tmp/venv.log"
  not_ok "$PYTHON -m venv (Debian's python3 needs the python3-venv package)"
  finish
fi
venv_python=$tmp/venv/bin/python
if "$venv_python" -m pip install -q --no-index --no-deps "$wheel" >"$tmp/install.log" 2>&1; then
  ok "pip install the wheel into a fresh venv"
else
  cat "$tmp/install.log"
  not_ok "pip install the wheel into a fresh venv"
  finish
fi

# A user's directory: outside the repository, nothing pointing back into it.
mkdir -p "$tmp/elsewhere"
cp "$repo/python/examples/seed.py" "$tmp/elsewhere/"
run() {
  (cd "$tmp/elsewhere" && env -u POSTMESSAGE_LIB -u CARGO_TARGET_DIR -u PYTHONPATH -u LD_LIBRARY_PATH "$@")
}

where=$(run "$venv_python" -c 'import postmessage; print(postmessage.__file__); print(postmessage.library_path)' 2>&1)
case $where in
  "$tmp/venv/"*"/postmessage/__init__.py"$'\n'"$tmp/venv/"*"/postmessage/libpostmessage."*)
    ok "import postmessage loads the package and its library from the venv" ;;
  *) echo "$where"; not_ok "import postmessage loads the package and its library from the venv" ;;
esac

out=$(run "$venv_python" seed.py 2>&1)
if [ "$out" = "A received 'Hello' from http://localhost
delivered: True" ]; then
  ok "seed.py from outside the repository prints the seed's output"
else
  echo "$out"
  not_ok "seed.py from outside the repository prints the seed's output"
fi

finish
