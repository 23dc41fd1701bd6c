#!/bin/sh
# make test-redis: runs both sides of c-examples/redis/remote_redis (the seed across two
# processes that only share a Redis server) against a redis-server of its own, started on
# 127.0.0.1 on a free port with no persistence and stopped at the end, and checks what each
# side printed; then again with both sides under valgrind (when installed). Usage: sh tests/redis/run.sh BUILD/redis/remote_redis
set -u

BIN=${1:?usage: run.sh PATH/TO/remote_redis}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
redis_pid=""

cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null
    wait "$redis_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Is the server answering a PING? (Python's socket module: nothing to install.)
answers() {
  "$PYTHON" - "$1" <<'PY' 2>/dev/null
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
}

# The free port may be taken between the probe and the bind: try a few.
for attempt in 1 2 3; do
  port=$(free_port) || { echo "FAILED: cannot find a free port"; exit 1; }
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$work" --logfile "$work/redis.log" &
  redis_pid=$!
  i=0
  while [ $i -lt 100 ] && kill -0 "$redis_pid" 2>/dev/null && ! answers "$port"; do
    sleep 0.05
    i=$((i + 1))
  done
  if answers "$port"; then break; fi
  kill "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  redis_pid=""
done
if [ -z "$redis_pid" ]; then
  echo "FAILED: redis-server did not start; its log:"
  cat "$work/redis.log" 2>/dev/null
  exit 1
fi
echo "redis-server $("$REDIS_SERVER" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port (pid $redis_pid)"

fail=0
check() { # FILE TEXT
  if ! grep -qF -- "$2" "$work/$1"; then
    echo "FAILED: $1 does not contain: $2"
    fail=1
  fi
}

# One run of both sides; $1 names the run, the rest is a command prefix (e.g. valgrind ...).
run_pair() {
  name=$1
  shift
  prefix="pm-test-$$-$name"
  timeout 120 "$@" "$BIN" B 127.0.0.1 "$port" "$prefix" > "$work/B.out" 2>&1 &
  b_pid=$!
  timeout 120 "$@" "$BIN" A 127.0.0.1 "$port" "$prefix" > "$work/A.out" 2>&1
  a_status=$?
  wait "$b_pid"
  b_status=$?
  echo "--- $name: process A (exit $a_status)"
  cat "$work/A.out"
  echo "--- $name: process B (exit $b_status)"
  cat "$work/B.out"
  echo "---"
  [ "$a_status" -eq 0 ] || { echo "FAILED: $name: process A exited with $a_status"; fail=1; }
  [ "$b_status" -eq 0 ] || { echo "FAILED: $name: process B exited with $b_status"; fail=1; }
  check B.out 'dropped (reason 1): targetOrigin "https://localhost" but the iframe is http://localhost'
  check B.out 'iframe got "Hello World" from origin http://127.0.0.1'
  check A.out 'page got "Hello" from origin http://localhost'
  check B.out "other tab's channel \"news\" got \"news from A\" from origin http://127.0.0.1"
  check A.out 'channel "news" got "ack" from origin http://127.0.0.1'
  check A.out '[A]  OK'
  check B.out '[B]  OK'
}

run_pair native
# Again under valgrind, as the other examples (skipped when it is not installed).
VALGRIND=${VALGRIND:-valgrind}
if command -v "$VALGRIND" >/dev/null 2>&1; then
  run_pair valgrind "$VALGRIND" -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite
else
  echo "note: $VALGRIND not found: the run under valgrind is skipped"
fi
if [ $fail -eq 0 ]; then
  echo "remote_redis: both sides exchanged the seed and a broadcast through Redis: PASS"
fi
exit $fail
