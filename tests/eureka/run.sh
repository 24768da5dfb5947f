#!/usr/bin/env bash
# Eureka compatibility tests with real third-party clients: py-eureka-client (PyPI) driven by
# pytest, eureka-js-client (npm) run with Node.js, plain HTTP, and the official Polaris gRPC stubs
# for cross-protocol checks, all against a real polaris-server on loopback ports.
# Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "-- installing Node.js and npm"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check \
  -r tests/compat/requirements.txt -r tests/eureka/requirements.txt
(cd tests/eureka/js && npm ci --no-audit --no-fund --silent)

echo "-- building polaris-server"
cargo build -p polaris-server --locked
export POLARIS_SERVER_BIN="${CARGO_TARGET_DIR:-target}/debug/polaris-server"

echo "-- pytest tests/eureka/python"
status=0
python3 -m pytest -q -p no:cacheprovider tests/eureka/python || status=$?
if [[ $status -ne 0 ]]; then
  echo "Eureka tests failed (pytest exit $status)" >&2
  exit "$status"
fi
