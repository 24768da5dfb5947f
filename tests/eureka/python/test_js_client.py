"""eureka-js-client (npm) run with the machine's Node.js: tests/eureka/js/client.js registers,
renews, fetches the registry and the delta, and deregisters against this server."""

import os
import subprocess
from pathlib import Path

import pytest

from eureka_http import unique

JS = Path(__file__).resolve().parents[1] / "js"


def test_eureka_js_client(server):
    if not (JS / "node_modules" / "eureka-js-client").is_dir():
        pytest.fail("run `npm ci` in tests/eureka/js first (tests/eureka/run.sh does)")
    app = unique("js-app")
    result = subprocess.run(["node", str(JS / "client.js"), server.eureka_url, app],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NODE_NO_WARNINGS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "js client: ok" in result.stdout, result.stdout
