"""The files of .server/: status, nodes and mirrors made here from what the mount holds; the others (log,
stats, zombies, suites.def) asked of the server and kept for one refresh interval."""

from __future__ import annotations

import re
import time
from typing import NamedTuple, Optional

import cachetools

from wffs import layout
from wffs.backend.base import NotProvided
from wffs.vfs_errors import NotFound

LAST_SYNC_LINE = re.compile(rb"^last_sync .*\n", re.M)


class Fetched(NamedTuple):
    """A server file as the server sent it, and when (its mtime)."""

    data: bytes
    at: float


class NodesText(NamedTuple):
    """.server/nodes as made from one snapshot."""

    generation: int
    text: bytes


class ServerFiles:
    def __init__(self, vfs):
        self.vfs = vfs  # the server's Vfs: its snapshot (a refresh replaces it), status, mirrors and backend
        self._fetched = cachetools.TTLCache(maxsize=16, ttl=vfs.refresh)  # file name -> Fetched
        self._nodes = NodesText(-1, b"")
        self._local_changed: dict[str, Fetched] = {}  # file name -> its content made here, and since when

    def local_changed_at(self, file_name: str, data: bytes) -> float:
        """When a file made here last changed (its mtime and ctime): `tar` takes a changed ctime for a file
        changed while it was read, so it must not move while the content stays the same.  The status
        file's last_sync line moves at every refresh: it does not count (the line keeps its length)."""
        if file_name == "status":
            data = LAST_SYNC_LINE.sub(b"", data)
        held = self._local_changed.get(file_name)
        if held is None or held.data != data:
            held = self._local_changed[file_name] = Fetched(data, time.time())
        return held.at

    def cached(self, file_name: str) -> Optional[Fetched]:
        """A file asked of the server lately, else None."""
        return self._fetched.get(file_name)

    async def read(self, file_name: str) -> bytes:
        if file_name in layout.LOCAL_SERVER_FILES:
            return self.local(file_name)
        cached = self._fetched.get(file_name)
        if cached is None:
            try:
                cached = Fetched(await self.vfs.status.ask(lambda: self.vfs.backend.server_file(file_name)),
                                 time.time())
            except NotProvided as e:
                raise NotFound(f"{file_name}: {e}") from None
            self._fetched[file_name] = cached
        return cached.data

    def local(self, file_name: str) -> bytes:
        """A file made here, without a server call."""
        vfs = self.vfs
        if file_name == "mirrors":
            return vfs.mirrors.render_all() if vfs.mirrors else b""
        if file_name == "nodes":
            return self.nodes_text()
        return vfs.status.render(vfs.snapshot)

    def nodes_text(self) -> bytes:
        """.server/nodes: every node in tree order with its state, kind and status file, so that a tool
        (wffs-grep) finds the nodes in a state with one read instead of a walk of the whole tree."""
        snap = self.vfs.snapshot
        if self._nodes.generation != snap.generation:
            lines, stack = [], [("/", ())]
            while stack:
                path, components = stack.pop()
                children = snap.children(path)
                siblings = {c.name for c in children}
                for child in reversed(children):
                    if child.children:
                        stack.append((child.path, components + (layout.directory_name(child.name, siblings),)))
                lines.extend(layout.nodes_line(c.path, c.state, c.suspended, c.kind, components) for c in children)
            self._nodes = NodesText(snap.generation, "".join(lines).encode("utf-8", "surrogateescape"))
        return self._nodes.text
