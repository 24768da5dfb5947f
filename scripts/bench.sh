#!/usr/bin/env bash
# Benchmarks a fresh release server with polaris-bench over the naming and config gRPC ports,
# and the Rust SDK against it.
#
# Builds polaris-server and polaris-bench in release, starts the server on free loopback ports
# with a temporary data directory, runs every scenario with fixed parameters (about 3 minutes on
# 2 cores), stops the server, and prints the result table as Markdown (also kept in
# $BENCH_OUT, default $CARGO_TARGET_DIR/bench-results.md). The load generator shares the machine with the
# server, so numbers are a floor for what the server alone could do.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== cargo build --release -p polaris-server -p polaris-bench" >&2
cargo build --release -p polaris-server -p polaris-bench >&2
SERVER="$CARGO_TARGET_DIR/release/polaris-server"
BENCH="$CARGO_TARGET_DIR/release/polaris-bench"

WORK="$(mktemp -d -t polaris-bench.XXXXXX)"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results.md}"
rm -f "$OUT"
# 10,000 push streams need no more than a few dozen sockets, and 50,000 idle long polls 200
# connections (250 calls each), but raise the limit anyway.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PID=""
GRPC_PORT=""
CONFIG_PORT=""

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

start_server() {
  local dir="$WORK/server-$1"
  mkdir -p "$dir"
  local http_port
  http_port="$(free_port)"
  GRPC_PORT="$(free_port)"
  while [ "$GRPC_PORT" = "$http_port" ]; do GRPC_PORT="$(free_port)"; done
  CONFIG_PORT="$(free_port)"
  while [ "$CONFIG_PORT" = "$http_port" ] || [ "$CONFIG_PORT" = "$GRPC_PORT" ]; do
    CONFIG_PORT="$(free_port)"
  done
  server_yaml "$dir" "$http_port" "$GRPC_PORT" "$CONFIG_PORT"
  (cd "$dir" && exec "$SERVER" start --config "$dir/polaris-server.yaml" >"$dir/stdout.log" 2>"$dir/stderr.log") &
  PID=$!
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$http_port/" 2>/dev/null \
      && (exec 3<>"/dev/tcp/127.0.0.1/$GRPC_PORT") 2>/dev/null \
      && (exec 3<>"/dev/tcp/127.0.0.1/$CONFIG_PORT") 2>/dev/null; then
      echo "== server $1 up: pid $PID, http $http_port, grpc $GRPC_PORT, config $CONFIG_PORT, dir $dir" >&2
      return
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "server exited during startup:" >&2
      cat "$dir/stderr.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "server did not come up" >&2
  exit 1
}

stop_server() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    wait "$PID" || true
  fi
  PID=""
}

cleanup() {
  stop_server
  # BENCH_KEEP=1 keeps the servers' data and logs for a look afterwards.
  if [ -z "${BENCH_KEEP:-}" ]; then
    rm -rf "$WORK"
  else
    echo "kept $WORK" >&2
  fi
}
trap cleanup EXIT

bench() {
  local scenario="$1"
  shift
  echo "== polaris-bench $scenario $*" >&2
  "$BENCH" "$scenario" --addr "127.0.0.1:$GRPC_PORT" --server-pid "$PID" --markdown "$OUT" "$@"
}

# The same on the config gRPC port.
cbench() {
  local scenario="$1"
  shift
  echo "== polaris-bench $scenario $*" >&2
  "$BENCH" "$scenario" --addr "127.0.0.1:$CONFIG_PORT" --server-pid "$PID" --markdown "$OUT" "$@"
}

# Other processes on the machine skew every number: record the load around the run.
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# Server 1: throughput and push scenarios.
start_server 1
sleep 1
bench rss --label "idle RSS (fresh server)"
bench register --count 20000 --concurrency 256 --connections 4
bench discover --mode unchanged --duration 15s --concurrency 64 --instances 100
bench discover --mode changed --duration 10s --concurrency 64 --instances 100
# The same with a client that skips the instances instead of decoding them: the server, not the
# bench, is then the bottleneck (server CPU per full 100-instance reply).
bench discover --mode changed --lean --duration 10s --concurrency 64 --instances 100
bench push --streams 1000 --rounds 5
bench push --streams 10000 --rounds 3
# Last, so that its instances expiring later do not write during the other scenarios.
bench heartbeat --duration 15s --concurrency 128 --instances 2000
stop_server

# Server 2: memory with 100,000 instances.
start_server 2
sleep 1
bench rss --label "idle RSS (fresh server)"
bench register --count 100000 --concurrency 256 --service bench-rss --services 100
bench rss --label "RSS with 100,000 instances in 100 services"
stop_server

# Server 3: the config port (GetConfigFile pulls, WatchConfigFiles long polls).
start_server 3
sleep 1
bench rss --label "idle RSS (fresh server)"
cbench config-get --mode changed --duration 10s --concurrency 64
cbench config-get --mode unchanged --duration 5s --concurrency 64
cbench config-watch --watchers 1000 --rounds 3
cbench config-watch --watchers 10000 --rounds 2
stop_server

# Server 4: memory with 50,000 idle long polls on a fresh server.
start_server 4
sleep 1
bench rss --label "idle RSS (fresh server)"
# 50,000 long polls take 200 connections at 250 calls each, plus a few for the bench itself.
if [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 1024 ]; then
  cbench config-idle --watchers 50000 --duration 10s
else
  echo "== skipping config-idle: open file limit $(ulimit -n)" >&2
fi
stop_server

# Server 5: the Rust SDK (get_one_instance from its cache; registration -> SDK watch with push).
start_server 5
sleep 1
bench sdk-pick --instances 1000 --calls 1000000
bench sdk-watch --rounds 200 --instances 1
bench sdk-watch --rounds 100 --instances 1000
stop_server

# Server 6: memory given back after bursts of streams. Four sessions of 10,000 push streams
# opened, pushed to once and closed on one fresh server; RSS 3 s after each (goal: every later
# session within 20% of the first).
start_server 6
sleep 1
bench rss --label "idle RSS (fresh server)"
for session in 1 2 3 4; do
  bench push --streams 10000 --rounds 1
  sleep 3
  bench rss --label "RSS 3 s after push session $session of 10,000 streams"
done
stop_server

echo "" >>"$OUT"
echo "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$OUT"
echo
cat "$OUT"
