"""The content sweep (docs/workspaces.md#deleting-a-workspace): workspace contents that no head
and no revision of any workspace names any more (a deleted workspace's, a save's that lost its
race) are deleted from the object store.

Contents are shared by every workspace of every owner, so a content unnamed when the sweep
reads the bucket may be named again a moment later by a save that found it stored. A content
is therefore deleted only when it was put more than ``GRACE_S`` ago, and a save that finds a
content stored but older than ``REFRESH_S`` puts it again (refreshing it) instead of reusing
it: a save that reuses a content completes its compare-and-set long before that content could
be deleted, and the sweep reads the bucket after it lists the contents, so it sees the save's
revision. The sweep checks each content's age again right before it deletes it, and a save
puts back, once its revision is made, a content it names that is missing (the window left:
docs/workspaces.md, Known limits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from edge.workspace_store import WorkspaceStore

log = logging.getLogger(__name__)
GRACE_S = 3600.0
"""A content put more recently is never deleted (a save in flight may be about to name it)."""
REFRESH_S = GRACE_S / 2
"""A save reuses a stored content put more recently; an older one it puts again."""


class ContentSweep:
    """One sweep at a time on this edge (several edges may sweep at once: a delete is
    idempotent, and each checks a content's age before deleting it)."""

    def __init__(self, store: WorkspaceStore, clock: Callable[[], float] = time.time,
                 grace_s: float = GRACE_S) -> None:
        self.store = store
        self.clock = clock
        self.grace_s = grace_s
        self._running = asyncio.Lock()
        self._tasks: set[asyncio.Task[int]] = set()

    async def run(self) -> int:
        """Delete the old contents nothing names; how many."""
        async with self._running:
            old_before = self.clock() - self.grace_s
            saved = await self.store.contents_saved()  # before the names: see the docstring
            old = {sha256 for sha256, at in saved.items() if at < old_before}
            if not old:
                return 0
            unnamed = sorted(old - await self.store.named_contents())
            deleted = [await self.store.delete_content(sha256, old_before) for sha256 in unnamed]
            return sum(deleted)

    def start(self) -> None:
        """Sweep in the background (after a workspace was deleted); a failure is logged. A
        sweep already waiting behind the running one sweeps for this delete too: deletes in a
        burst cost two sweeps, not one each."""
        if len(self._tasks) >= 2:
            return
        task = asyncio.create_task(self.run())
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[int]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("the workspace content sweep failed: %r", exc)
        elif not task.cancelled() and task.result():
            log.info("the workspace content sweep deleted %d contents", task.result())
