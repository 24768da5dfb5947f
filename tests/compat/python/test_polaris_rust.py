"""The official Rust SDK (polaris-rust, crates.io) drives naming against the server: register
with a heartbeat TTL, heartbeat, discover its own instance, deregister
(tests/compat/polaris-rust-client)."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RUN_TIMEOUT_S = 120


def client_binary():
    explicit = os.environ.get("POLARIS_RUST_CLIENT_BIN")
    if explicit:
        return Path(explicit)  # CI sets it: a missing file must fail, not skip
    candidates = [REPO / "tests/compat/polaris-rust-client/target/debug/polaris-rust-client"]
    if os.environ.get("CARGO_TARGET_DIR"):
        root = Path(os.environ["CARGO_TARGET_DIR"])
        candidates += [root / "compat-client/debug/polaris-rust-client",
                       root / "debug/polaris-rust-client"]
    for path in candidates:
        if path.is_file():
            return path
    pytest.skip("polaris-rust client not built: POLARIS_RUST_CLIENT_BIN is unset and no binary "
                f"at {[str(c) for c in candidates]} (tests/compat/run.sh builds it)")


def test_polaris_rust_sdk_naming_round_trip(addrs, tmp_path):
    binary = client_binary()
    assert binary.is_file(), f"POLARIS_RUST_CLIENT_BIN={binary} does not exist"
    result = subprocess.run([str(binary), addrs[0]], cwd=tmp_path, capture_output=True,
                            text=True, timeout=RUN_TIMEOUT_S)
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    assert "OK: polaris-rust" in result.stdout, output
