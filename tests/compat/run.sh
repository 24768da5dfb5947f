#!/usr/bin/env bash
# Compatibility tests against official clients: the PyPI grpcio stubs of the Polaris specification
# and the official Rust SDK (polaris-rust from crates.io). Builds the server and the SDK client,
# then runs pytest on tests/compat/python against a real server on loopback ports.
#
# Respects CARGO_TARGET_DIR (the SDK client then builds under $CARGO_TARGET_DIR/compat-client);
# without it each project uses its default target directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check -r tests/compat/requirements.txt

echo "-- building polaris-server"
cargo build -p polaris-server --locked
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  server_bin="$CARGO_TARGET_DIR/debug/polaris-server"
  client_target="$CARGO_TARGET_DIR/compat-client"
else
  server_bin="$repo/target/debug/polaris-server"
  client_target="$repo/tests/compat/polaris-rust-client/target"
fi

echo "-- building the polaris-rust SDK client"
(cd tests/compat/polaris-rust-client && CARGO_TARGET_DIR="$client_target" cargo build --locked)

export POLARIS_SERVER_BIN="$server_bin"
export POLARIS_RUST_CLIENT_BIN="$client_target/debug/polaris-rust-client"
# Also wait out the official 30 s watch hold once (the watch-timeout test).
export POLARIS_COMPAT_SLOW="${POLARIS_COMPAT_SLOW:-1}"

echo "-- pytest tests/compat/python"
status=0
python3 -m pytest -q -p no:cacheprovider tests/compat/python || status=$?
# pytest exits 5 when it collected no tests: that is a failure here too.
if [[ $status -ne 0 ]]; then
  echo "compatibility tests failed (pytest exit $status)" >&2
  exit "$status"
fi
