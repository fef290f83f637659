"""Workspaces in NATS (``subjects.WORKSPACES_BUCKET`` and ``subjects.WORKSPACE_FILES_STORE``):
heads changed with compare-and-set, revisions put once, contents put once per hash. The edge
that first needs them creates them (only edges use them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, ObjectInfo, ObjectStoreConfig, StorageType
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from contracts import subjects
from contracts.workspaces import Head, Revision, content_hash
from edge.kv_listing import kv_entries
from edge.nats_connection import NatsConnection, NotReady, compare_and_set


class WorkspaceStore:
    def __init__(self, connection: NatsConnection) -> None:
        self._connection = connection
        self._kv: KeyValue | None = None
        self._files: ObjectStore | None = None
        self._opening = asyncio.Lock()

    async def _stores(self) -> tuple[KeyValue, ObjectStore]:
        async with self._opening:
            if self._kv is None or self._files is None:
                js = self._connection.jetstream
                try:
                    self._kv = await js.key_value(subjects.WORKSPACES_BUCKET)
                except nats.js.errors.BucketNotFoundError:
                    self._kv = await js.create_key_value(KeyValueConfig(
                        bucket=subjects.WORKSPACES_BUCKET, history=1,
                        storage=StorageType.FILE))
                try:
                    self._files = await js.object_store(subjects.WORKSPACE_FILES_STORE)
                except nats.js.errors.BucketNotFoundError:
                    self._files = await js.create_object_store(
                        subjects.WORKSPACE_FILES_STORE,
                        ObjectStoreConfig(storage=StorageType.FILE))
            return self._kv, self._files

    async def head(self, digest: str, workspace_id: str) -> Head | None:
        kv, _ = await self._stores()
        try:
            entry = await kv.get(subjects.workspace_head_key(digest, workspace_id))
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value or b"", type=Head) if entry.value else None

    async def change_head(self, digest: str, workspace_id: str,
                          change: Callable[[Head | None], Head | None],
                          before_write: Callable[[], Awaitable[None]] | None = None) -> None:
        """Store what ``change`` makes of the head (None: nothing), with compare-and-set;
        ``before_write`` runs before each write (the contents the new head names)."""
        kv, _ = await self._stores()

        def apply(value: bytes | None) -> bytes | None:
            new = change(msgspec.json.decode(value, type=Head) if value else None)
            return None if new is None else msgspec.json.encode(new)

        if not await compare_and_set(kv, subjects.workspace_head_key(digest, workspace_id),
                                     apply, before_write):
            raise NotReady(f"workspace {workspace_id} kept changing under this edge; try again")

    async def put_revision(self, digest: str, workspace_id: str, revision: Revision) -> None:
        kv, _ = await self._stores()
        await kv.put(subjects.workspace_revision_key(digest, workspace_id,
                                                     revision.summary.revision),
                     msgspec.json.encode(revision))

    async def revision(self, digest: str, workspace_id: str, number: int) -> Revision | None:
        kv, _ = await self._stores()
        try:
            entry = await kv.get(subjects.workspace_revision_key(digest, workspace_id, number))
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value, type=Revision) if entry.value else None

    async def workspace_ids(self, digest: str) -> list[str]:
        # A watch on the owner's heads only (KeyValue.keys() reads every key of the bucket).
        return sorted(key.split(".", 1)[1]
                      for key, _ in await self._entries(subjects.workspace_heads(digest)))

    async def _entries(self, keys: str, values: bool = False) -> list[tuple[str, bytes]]:
        """The keys matching the filter ``keys`` (with their values when ``values``)."""
        kv, _ = await self._stores()
        return await kv_entries(self._connection.jetstream, subjects.WORKSPACES_BUCKET, kv,
                                keys, values)

    async def delete_workspace(self, digest: str, workspace_id: str) -> None:
        """Remove a workspace's revisions, then its head (its contents stay: the sweep's)."""
        kv, _ = await self._stores()
        revisions = await self._entries(subjects.workspace_revisions(digest, workspace_id))
        await asyncio.gather(*(kv.purge(key) for key, _ in revisions))
        await kv.purge(subjects.workspace_head_key(digest, workspace_id))

    async def named_contents(self) -> set[str]:
        """The hash of every content a head or a revision of any workspace names."""
        named: set[str] = set()
        for key, value in await self._entries(subjects.WORKSPACE_KEYS, values=True):
            if not value:
                continue
            if key.count(".") == 1:  # a head: its newest revision may not be put yet
                tree = msgspec.json.decode(value, type=Head).current.tree
            else:
                tree = msgspec.json.decode(value, type=Revision).tree
            named.update(ref.sha256 for ref in tree.values())
        return named

    async def contents_saved(self) -> dict[str, float]:
        """Every stored content: its hash and when it was last put (seconds since the epoch,
        the putting edge's clock)."""
        _, files = await self._stores()
        try:
            listed = await files.list(ignore_deletes=True)
        except nats.js.errors.NotFoundError:  # none at all
            return {}
        return {info.name: saved_at(info) for info in listed}

    async def delete_content(self, sha256: str, saved_before: float) -> bool:
        """Delete a content unless it was put again since ``saved_before`` (a save reusing
        it refreshed it); whether it was deleted."""
        _, files = await self._stores()
        try:
            if saved_at(await files.get_info(sha256)) >= saved_before:
                return False
            await files.delete(sha256)
        except nats.js.errors.ObjectNotFoundError:
            return False
        return True

    async def put_content(self, sha256: str, data: bytes, refresh_before: float = 0.0) -> None:
        """Store a content under its hash, unless it is there already and was put since
        ``refresh_before`` (an older one is put again: the sweep leaves recent contents)."""
        _, files = await self._stores()
        try:
            if saved_at(await files.get_info(sha256)) >= refresh_before:
                return
        except nats.js.errors.ObjectNotFoundError:
            pass
        await files.put(sha256, data)

    async def content(self, sha256: str) -> bytes:
        """A content, read chunk by chunk with direct gets and checked against its hash.
        (``ObjectStore.get`` makes a consumer per object, kept by the server a while after:
        reading 100-file revisions in a row reached the server's limit of consumers.)"""
        _, files = await self._stores()
        data = bytearray()
        try:
            info = await files.get_info(sha256)
            chunks, seq = subjects.workspace_content_chunks(info.nuid or ""), 0
            for _ in range(info.chunks or 0):
                chunk = await self._connection.jetstream.get_msg(
                    subjects.WORKSPACE_FILES_STREAM, seq + 1, chunks, direct=True, next=True)
                data += chunk.data or b""
                seq = chunk.seq or seq + 1
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.NotFoundError) as exc:
            raise NotReady(f"the content {sha256} is missing from the store") from exc
        except nats.errors.TimeoutError as exc:
            raise NotReady("the workspace store did not answer; try again") from exc
        if content_hash(bytes(data)) != sha256:  # a chunk lost, or put again meanwhile
            raise NotReady(f"the content {sha256} read from the store is not whole; try again")
        return bytes(data)


def saved_at(info: ObjectInfo) -> float:
    """When an object was put (its meta's ``mtime``, ISO 8601); 0 when it has none."""
    try:
        return datetime.fromisoformat(info.mtime or "").timestamp()
    except ValueError:
        return 0.0
