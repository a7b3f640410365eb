"""Server-provided contents kept in memory, keyed by what they depend on (the node's version, and for files
that change without a state change, a time bucket), so that the size a stat reports is the size of the
bytes a read returns."""

from __future__ import annotations

import time
from typing import Optional

import cachetools

from wffs import layout
from wffs.backend.base import NotProvided
from wffs.freshness import CACHE_SECONDS, EDITED_IN_PLACE, being_written
from wffs.layout import Kind
from wffs.snapshot import NodeInfo
from wffs.vfs_errors import NotFound


class ContentCache:
    """Contents by key, bounded in bytes; fetched through the server's status (see ServerStatus.ask)."""

    def __init__(self, vfs, cache_bytes: int):
        self.vfs = vfs  # the server's Vfs: its snapshot (a refresh replaces it), refresh interval and status
        self._held = cachetools.LRUCache(maxsize=cache_bytes, getsizeof=len)

    def key(self, node: NodeInfo, kind: str) -> tuple:
        """Cached contents are good for this node version; for a file still being written, for one
        refresh interval; for scripts and manuals (edited without a state change), for CACHE_SECONDS."""
        key = (node.path, kind, node.state, node.since, node.files.get(kind))
        if being_written(node, kind):
            key += (int(time.monotonic() / self.vfs.refresh),)
        elif kind in EDITED_IN_PLACE:
            key += (int(time.monotonic() / CACHE_SECONDS),)
        return key

    def node_text_key(self, path: str, kind: str) -> tuple:
        """`why` and `.def` depend on other nodes too: good for one snapshot and refresh interval."""
        return (path, kind, self.vfs.snapshot.generation, int(time.monotonic() / self.vfs.refresh))

    def get(self, key) -> Optional[bytes]:
        return self._held.get(key)

    def __contains__(self, key) -> bool:
        return key in self._held

    def put(self, key, data: bytes) -> None:
        if len(data) <= self._held.maxsize // 4:  # a huge file is read again rather than cached
            self._held[key] = data

    def clear(self) -> None:
        self._held.clear()

    async def fetched(self, key, name: str, fetch, local: bool = False) -> bytes:
        """Cached content, else fetched from the backend and cached; NotFound if the server has none."""
        data = self._held.get(key)
        if data is None:
            try:
                data = await self.vfs.status.ask(fetch, local)
            except NotProvided as e:
                raise NotFound(f"{name}: {e}") from None
            self.put(key, data)
        return data

    @staticmethod
    def of_node(kind: Kind, node: NodeInfo) -> Optional[bytes]:
        """A status file's or an .att's content: the node itself holds it (None for other kinds)."""
        if kind is Kind.STATUS:
            return layout.status_text(node.state, node.suspended)
        if kind is Kind.ATT:
            return node.att
        return None
