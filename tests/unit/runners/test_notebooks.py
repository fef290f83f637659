from __future__ import annotations

import pytest

from contracts.messages import Verdict
from runners.notebooks import cell_verdict


@pytest.mark.parametrize(("status", "ended_by", "verdict"), [
    ("ok", None, "ok"),
    ("error", None, "runtime_error"),
    ("aborted", None, "cancelled"),
    ("error", "cancelled", "cancelled"),        # KeyboardInterrupt after a stop or interrupt
    ("error", "time_limit", "time_limit"),
    ("ok", "output_limit", "output_limit"),     # it finished, but printed past the cap
    ("restarted", None, "cancelled"),
    ("died", None, "runtime_error"),
])
def test_cell_verdicts(status: str, ended_by: Verdict | None, verdict: Verdict) -> None:
    assert cell_verdict(status, ended_by)[0] == verdict


def test_a_dead_kernel_is_explained() -> None:
    message = cell_verdict("died", None)[1]
    assert message is not None and "without its state" in message
