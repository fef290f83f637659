"""Under ``CI=true`` a skipped test fails the run (``tests/conftest.py``,
``fail_if_skipped_in_ci``), whether it skips as it runs or as its module is collected: a test
that does not run proves nothing. Checked on a small suite of its own, run by pytest with the
suite's hooks loaded as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIPS = {
    "test_skips_as_it_runs.py": "import pytest\n\n\ndef test_it() -> None:\n"
                                "    pytest.skip('no engine here')\n",
    "test_skips_as_collected.py": "import pytest\n\npytest.importorskip('no_such_module')\n",
    "test_passes.py": "def test_it() -> None:\n    pass\n",
}


def run_suite(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    for name, text in SKIPS.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_under_ci_a_skip_as_it_runs_or_as_it_is_collected_fails_the_run(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "true")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = [line for line in result.stdout.splitlines()
               if line.startswith(("FAILED ", "ERROR "))]
    assert len(summary) == 2, result.stdout
    assert any(line.startswith("FAILED ") and "test_skips_as_it_runs.py::test_it - skipped "
               "under CI=true" in line for line in summary), result.stdout
    assert any(line.startswith("ERROR ") and "test_skips_as_collected.py - skipped under "
               "CI=true" in line for line in summary), result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("1 failed, 1 passed, 1 error")


def test_elsewhere_they_are_skipped_and_said_so(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 skipped" in result.stdout, result.stdout
