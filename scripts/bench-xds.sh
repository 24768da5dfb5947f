#!/usr/bin/env bash
# Benchmarks the xDS port of a fresh release server: 1,000 ADS streams subscribed to one
# service's endpoints, one instance registration per round, time until every stream holds the
# new EDS version (p50/p99), server CPU per pushed resource and resident memory per idle stream.
# Prints the result rows as Markdown (also kept in $BENCH_OUT, default
# $CARGO_TARGET_DIR/bench-xds.md). STREAMS and ROUNDS override the defaults (1000, 10).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== cargo build --release -p polaris-server -p polaris-bench" >&2
cargo build --release -p polaris-server -p polaris-bench >&2
SERVER="$CARGO_TARGET_DIR/release/polaris-server"
BENCH="$CARGO_TARGET_DIR/release/polaris-bench"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-xds.md}"
rm -f "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

WORK="$(mktemp -d -t polaris-bench-xds.XXXXXX)"
HTTP_PORT="$(free_port)"; GRPC_PORT="$(free_port)"; XDS_PORT="$(free_port)"
{
  listeners_yaml "$HTTP_PORT" "$GRPC_PORT"
  cat <<EOF
  - name: xds-v3
    option: { listenIP: "127.0.0.1", listenPort: $XDS_PORT }
store:
  name: embedded
  option: { path: "$WORK/data" }
EOF
} >"$WORK/polaris-server.yaml"
(cd "$WORK" && exec "$SERVER" start --config "$WORK/polaris-server.yaml" >"$WORK/stdout.log" 2>"$WORK/stderr.log") &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$GRPC_PORT") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$XDS_PORT") 2>/dev/null; then
    break
  fi
  sleep 0.1
done

"$BENCH" xds-push --addr "127.0.0.1:$GRPC_PORT" --xds-addr "127.0.0.1:$XDS_PORT" \
  --server-pid "$PID" --markdown "$OUT" --streams "${STREAMS:-1000}" --rounds "${ROUNDS:-10}"
cat "$OUT"
