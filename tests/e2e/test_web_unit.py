"""The IDE's logic that lives in the browser (web/js: project store, templates, ANSI parsing,
console state, connection) under Node's own test runner: `node --test web/tests/`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WEB_TESTS = Path(__file__).resolve().parents[2] / "web" / "tests"


def test_front_end_unit_tests_pass_under_node() -> None:
    node = shutil.which("node")
    assert node is not None, "node is missing: run `make web` (infra/setup/ensure-web.sh)"
    # The files by name: `node --test <dir>` is read differently by Node 18, 20 and 22.
    files = sorted(str(f) for f in WEB_TESTS.glob("*.test.js"))
    assert files, f"no front-end tests in {WEB_TESTS}"
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
