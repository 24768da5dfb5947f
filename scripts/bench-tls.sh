#!/usr/bin/env bash
# What TLS costs a listener (polaris-tls on loopback): new connections per second with a full
# handshake and round trips on an open connection, TLS against plain TCP, with CPU per operation.
# Usage: scripts/bench-tls.sh [connections] [round_trips]   (defaults 2000 and 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p polaris-tls --example tls_bench -- "${1:-2000}" "${2:-20000}"
