"""The output a run may still send: one budget shared by all its steps."""

from __future__ import annotations


class OutputBudget:
    """Bytes of output (stdout, stderr, compile diagnostics, result sets) a run may still send.

    Its steps spend from it in turn; a step whose output does not fit is cut there and killed
    (``outputExceeded``)."""

    def __init__(self, limit: int) -> None:
        self.left = max(0, limit)

    def take(self, data: bytes) -> bytes:
        """As much of ``data`` as still fits, now spent: all of it, or its start."""
        kept = data[: self.left]
        self.left -= len(kept)
        return kept

    def take_whole(self, size: int) -> bool:
        """Spend ``size`` bytes if all of them fit; False, and nothing spent, if not."""
        if size > self.left:
            return False
        self.left -= size
        return True
