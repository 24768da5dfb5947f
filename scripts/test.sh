#!/usr/bin/env bash
# Runs every check the project has: formatting, lints, unit, conformance and end-to-end tests.
# The end-to-end tests start the real polaris-server binary on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== crate DAG against ARCHITECTURE.md"
scripts/check-dag.sh

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== databases for the SQL store and cluster tests (MariaDB, PostgreSQL, redis-server)"
tests/sql/ensure-databases.sh

echo "== cargo test"
cargo test --workspace --locked

echo "== compatibility tests (grpcio, polaris-rust)"
tests/compat/run.sh

echo "== Eureka tests (py-eureka-client, eureka-js-client)"
tests/eureka/run.sh
echo "== xDS tests (xds-protos ADS client, proxyless grpcio)"
tests/xds/run.sh
echo "== console tests (Chromium, playwright-core)"
tests/console/run.sh
