"""The global cap and the queue's capacity: as set, or following the runners present."""

from __future__ import annotations

from contracts.settings import DispatcherSettings

DEFAULT_QUEUE_CAPACITY = 200
"""The queue's capacity before any runner is known, and its least when it follows the fleet."""
QUEUE_PER_SLOT = 4
"""Jobs the queue holds per runner slot when ``QUEUE_CAPACITY`` is not set."""


def global_cap(settings: DispatcherSettings, fleet_slots: int) -> int:
    """``MAX_CONCURRENT_SESSIONS``, or the sum of the live runners' slots (at least 1)."""
    if settings.max_concurrent is not None:
        return settings.max_concurrent
    return max(1, fleet_slots)


def queue_capacity(settings: DispatcherSettings, fleet_slots: int, current: int) -> int:
    """``QUEUE_CAPACITY``, or ``QUEUE_PER_SLOT`` jobs per slot; never below ``current`` (a
    smaller stream limit would drop jobs already waiting) nor ``DEFAULT_QUEUE_CAPACITY``."""
    if settings.queue_capacity is not None:
        return settings.queue_capacity
    return max(current, DEFAULT_QUEUE_CAPACITY, QUEUE_PER_SLOT * fleet_slots)
