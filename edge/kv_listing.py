"""Every live key of a NATS KV bucket under a filter, read without nats-py's listing race.

nats-py's KV watch puts its "end of what was stored" marker first when its consumer delivered
every entry before it asked for the consumer's info and none was handled yet: under load a
listing that trusted the marker came back empty (``GET /api/v1/executions`` answered ``[]`` in
CI; the workspace sweep, which deletes the contents no listed key names, would have deleted
named ones). The keys are counted first (stream info with a subjects filter) and read until
each was seen.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts import subjects

LISTING_WAIT_S = 5.0
"""How long a listing waits for the last key it counted (one can expire meanwhile)."""
LISTING_CONSUMER_S = 10.0
"""How long the server keeps a listing's consumer once its watcher stopped (nats-py's default,
5 minutes, would pile up one per listing)."""


async def kv_entries(js: JetStreamContext, bucket: str, kv: KeyValue, key_filter: str,
                     values: bool = True) -> list[tuple[str, bytes]]:
    """``(key, value)`` of every live key of ``bucket`` matching ``key_filter``, in the order
    they were last put (values empty when not ``values``)."""
    info = await js.stream_info(subjects.kv_stream(bucket),
                                subjects_filter=subjects.kv_subjects(bucket, key_filter))
    expected = len(info.state.subjects or {})
    if expected == 0:
        return []
    watcher = await kv.watch(key_filter, meta_only=not values,
                             inactive_threshold=LISTING_CONSUMER_S)
    found: list[tuple[str, bytes]] = []
    seen = 0
    try:
        async with asyncio.timeout(LISTING_WAIT_S):
            async for entry in watcher:
                if entry is None:  # the marker: it may come early, the count decides
                    continue
                seen += 1
                if entry.operation is None:  # a put, not a delete or purge marker
                    found.append((entry.key, entry.value or b""))
                if seen >= expected:
                    break
    except TimeoutError:  # a key expired meanwhile (max age): what came is the listing
        pass
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]
    return found
