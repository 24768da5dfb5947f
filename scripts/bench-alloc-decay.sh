#!/usr/bin/env bash
# Memory given back after bursts, side by side: jemalloc's decay as built (one second, from
# .cargo/config.toml) against a ten-second dirty decay set at run time (jemalloc's own default).
#
# Builds polaris-server and polaris-bench in release. For each setting, ROUNDS times (default 2,
# alternating): one fresh server, four sessions of 10,000 push streams opened, pushed to once and
# closed, and the server's VmRSS 3 s after each session. Prints one line per server.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p polaris-server -p polaris-bench >&2
SERVER="$CARGO_TARGET_DIR/release/polaris-server"
BENCH="$CARGO_TARGET_DIR/release/polaris-bench"
ROUNDS="${ROUNDS:-2}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# four_sessions LABEL [ENV=VALUE...]
four_sessions() {
  local label="$1"
  shift
  local dir http grpc config pid line
  dir="$(mktemp -d -t polaris-decay.XXXXXX)"
  http="$(free_port)"
  grpc="$(free_port)"
  config="$(free_port)"
  server_yaml "$dir" "$http" "$grpc" "$config"
  env "$@" "$SERVER" start --config "$dir/polaris-server.yaml" >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$http/" 2>/dev/null && break
    sleep 0.1
  done
  sleep 1
  line="$label: idle $(rss_mib "$pid") MiB; after sessions 1-4:"
  for _ in 1 2 3 4; do
    "$BENCH" push --addr "127.0.0.1:$grpc" --server-pid "$pid" --streams 10000 --rounds 1 >>"$dir/bench.log" 2>&1
    sleep 3
    line="$line $(rss_mib "$pid")"
  done
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$line MiB; µs of server CPU per notification: $(grep -o 'server [0-9.]*' "$dir/bench.log" | cut -d' ' -f2 | tr '\n' ' ')"
  rm -rf "$dir"
}

for _ in $(seq 1 "$ROUNDS"); do
  four_sessions "decay 1 s (as built)"
  four_sessions "decay 10 s (_RJEM_MALLOC_CONF)" _RJEM_MALLOC_CONF=dirty_decay_ms:10000
done
