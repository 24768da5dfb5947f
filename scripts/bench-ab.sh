#!/usr/bin/env bash
# Runs one polaris-bench scenario against two polaris-server binaries, alternately, each time on
# a fresh server on the embedded store, so that a change is measured side by side with its
# base on a noisy machine:
#
#   scripts/bench-ab.sh BASE_SERVER NEW_SERVER ROUNDS SCENARIO [polaris-bench options...]
#   e.g. scripts/bench-ab.sh /tmp/server-base target/release/polaris-server 3 \
#          push --streams 10000 --rounds 5
#
# The bench binary is $BENCH (default: the release polaris-bench of $CARGO_TARGET_DIR, built
# if missing). The scenario gets --addr (the naming port, or the config port for config-*)
# and --server-pid; the rows go to stdout and to $BENCH_OUT (Markdown), labelled base/new.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,12p "$0" >&2; exit 2; }
BASE="$1" NEW="$2" ROUNDS="$3"
shift 3
SCENARIO="$1"
shift

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BENCH="${BENCH:-$CARGO_TARGET_DIR/release/polaris-bench}"
[ -x "$BENCH" ] || cargo build --release -p polaris-bench >&2
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-ab.md}"
rm -f "$OUT"
WORK="$(mktemp -d -t polaris-bench-ab.XXXXXX)"
PID=""
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

stop() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    wait "$PID" || true
  fi
  PID=""
}
trap 'stop; rm -rf "$WORK"' EXIT

run() { # run LABEL SERVER [bench options...]
  local label=$1 server=$2
  shift 2
  local dir="$WORK/$label-$RANDOM" http grpc config
  mkdir -p "$dir"
  http="$(free_port)"
  grpc="$(free_port)"
  config="$(free_port)"
  server_yaml "$dir" "$http" "$grpc" "$config"
  (cd "$dir" && exec "$server" start --config "$dir/polaris-server.yaml" >"$dir/stdout.log" 2>&1) &
  PID=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$config") 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$dir/stdout.log" >&2; exit 1; }
    sleep 0.1
  done
  local addr="127.0.0.1:$grpc"
  case "$SCENARIO" in config-*) addr="127.0.0.1:$config" ;; esac
  echo "== $label: $SCENARIO $*" >&2
  "$BENCH" "$SCENARIO" --addr "$addr" --server-pid "$PID" --markdown "$dir/row.md" "$@" >&2
  tail -1 "$dir/row.md" | sed "s/^| /| $label | /" | tee -a "$OUT"
  stop
}

for _ in $(seq 1 "$ROUNDS"); do
  run base "$BASE" "$@"
  run new "$NEW" "$@"
done
