"""A run's output budget, shared by its steps (runners/agent/agent_budget.py)."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from contracts.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "runners" / "agent"))
OutputBudget: Any = importlib.import_module("agent_budget").OutputBudget


def test_output_is_kept_up_to_the_budget_and_the_rest_is_cut() -> None:
    budget = OutputBudget(10)
    assert budget.take(b"123456") == b"123456"
    assert budget.take(b"abcdef") == b"abcd"
    assert (budget.take(b"x"), budget.left) == (b"", 0)


def test_a_whole_chunk_is_spent_only_when_all_of_it_fits() -> None:
    budget = OutputBudget(5)
    assert not budget.take_whole(6)
    assert budget.left == 5
    assert budget.take_whole(5)
    assert budget.left == 0
