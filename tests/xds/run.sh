#!/usr/bin/env bash
# xDS tests with real clients: an ADS client on the Envoy protos (PyPI xds-protos + grpcio) and a
# proxyless grpcio client (xds:/// target, GRPC_XDS_BOOTSTRAP) calling a grpcio health server
# registered in Polaris. Builds the server, then runs pytest on tests/xds/python.
# Respects CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check -r tests/xds/requirements.txt

echo "-- building polaris-server"
cargo build -p polaris-server --locked
export POLARIS_SERVER_BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/debug/polaris-server"

echo "-- pytest tests/xds/python"
status=0
python3 -m pytest -q -p no:cacheprovider tests/xds/python || status=$?
if [[ $status -ne 0 ]]; then
  echo "xDS tests failed (pytest exit $status)" >&2
  exit "$status"
fi
