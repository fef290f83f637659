"""Workspaces over an in-memory store: which refusal gets which status."""

from __future__ import annotations

import pytest

from contracts.workspaces import FileRef
from edge.workspaces import TooLarge, WorkspaceError, check_tree


def test_a_file_inside_a_file_named_total_is_a_bad_request_not_too_large() -> None:
    with pytest.raises(WorkspaceError) as refused:
        check_tree({"total": FileRef("0", 1), "total/x": FileRef("1", 1)})
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")


def test_too_many_files_is_too_large() -> None:
    with pytest.raises(TooLarge):
        check_tree({f"f{i}": FileRef(str(i), 1) for i in range(101)})
