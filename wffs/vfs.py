"""Paths to entries and contents for one server: the file system without FUSE.

Metadata comes from the current snapshot (no server call); server-provided files (.ecf .job .out .man and
.server/*) are fetched through the backend on lookup or open and cached per node version, so the size a
stat reports is the size of the bytes a read returns.

`Vfs` is what the rest of the mount asks; it holds the server's state (snapshot, status, events) and
hands each job to a part: the directories and their listings (wffs/directories.py), contents in memory
(wffs/content_cache.py) and on disk (wffs/disk_files.py), the files of .server (wffs/server_files.py),
and reading a directory's files in one call (wffs/directory_reads.py).
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

from wffs import layout
from wffs.backend.base import ServerUnavailable
from wffs.content_cache import ContentCache
from wffs.directories import Directories
from wffs.directory_reads import DirectoryReads
from wffs.disk_files import DiskFiles
from wffs.entry import Entry
from wffs.events import EventLog, state_changes
from wffs.file_cache import FileCache
from wffs.freshness import (CACHE_SECONDS, DEFAULT_SCRIPT_AGE, EDITED_IN_PLACE, RUNNING_STATES, SETTLE_SECONDS,
                            being_written)
from wffs.layout import Kind, Name
from wffs.server_files import ServerFiles
from wffs.server_status import ServerStatus
from wffs.snapshot import NodeInfo, Snapshot
from wffs.vfs_errors import InvalidControl, NotADir, NotFound

__all__ = ["CACHE_SECONDS", "DEFAULT_SCRIPT_AGE", "EDITED_IN_PLACE", "RUNNING_STATES", "SETTLE_SECONDS", "Entry",
           "InvalidControl", "NotADir", "NotFound", "ServerStatus", "Vfs", "being_written"]


class Vfs:
    """One server's file system: the state a refresh keeps, and the parts that answer from it."""

    def __init__(self, backend, *, refresh: float = 2.0, cache_bytes: int = 32 << 20,
                 file_cache: Optional[FileCache] = None, script_age: float = DEFAULT_SCRIPT_AGE):
        self.backend = backend
        self.file_cache = file_cache  # what a remote server sent, kept between mounts
        self.script_age = script_age
        self.snapshot = Snapshot()
        self.status = ServerStatus(backend.name)
        self.mirrors = None  # set by the mount when the server's mirrors are driven
        self.events = EventLog()
        self.changed_at = 0.0  # when a refresh last brought a change (the server directory's mtime)
        self.refresh = refresh
        self.local_reads = getattr(backend, "reads_job_files_from_disk", False)  # no server call for those
        self._contents = ContentCache(self, cache_bytes)
        self._server_files = ServerFiles(self)
        self._disk = DiskFiles(self)
        self._directories = Directories(self, self._contents, self._server_files)
        self._reads = DirectoryReads(self, self._directories, self._contents, self._disk)

    def files_remote(self) -> bool:
        """The server's task files are not on this machine: each is a request over the network."""
        return getattr(self.backend, "files_local", True) is False

    # ---- names and entries (see wffs/directories.py) ----------------------------------------------
    def names(self, components: Sequence[str]) -> dict[str, Name]:
        return self._directories.names(components)

    def components_of(self, path: str) -> tuple:
        return self._directories.components_of(path)

    def entry(self, name: Name, node: Optional[NodeInfo] = None) -> Entry:
        return self._directories.entry(name, node)

    def listdir(self, components: Sequence[str]) -> list[Entry]:
        return self._directories.listdir(components)

    async def lookup(self, components: Sequence[str], file_name: str) -> Entry:
        name = self.names(components).get(file_name)
        if name is None:
            raise NotFound(file_name)
        entry = self.entry(name)
        if entry.size is None and entry.kind in (Kind.TASK_FILE, Kind.NODE_TEXT):
            kinds = self._reads.kinds_measured_with(entry) if entry.kind is Kind.TASK_FILE else (entry.file,)
            await self._reads.measure(tuple(components), kinds)
            if self.files_remote():  # `ls -lR` of a remote server: the next directory is read while this one is listed
                self._reads.read_ahead(tuple(components), entry.file)
            name = self.names(components).get(file_name)  # the snapshot may have changed meanwhile
            if name is None:
                raise NotFound(file_name)
            entry = self.entry(name)
        if entry.size is None:
            entry = entry._replace(size=len(await self.content(entry)))
            if entry.kind is Kind.SERVER_FILE:  # now cached: its mtime is when it was fetched
                entry = entry._replace(mtime=self.entry(name).mtime)
        return entry

    # ---- contents --------------------------------------------------------------------------------
    def cached_file(self, components: tuple, file_name: str) -> Optional[tuple[Entry, bytes]]:
        """A file's entry and content when the content is at hand (a status file, an .att, a task file
        read ahead), else None: what lookup and content would give, for open() of the 10,000 files of a
        backup or the 40,000 of a `tar` at the cost of a few dictionary lookups.  (Its size is the
        content's: open tells the kernel if that is news.)"""
        try:
            name = self.names(components).get(file_name)
        except (NotFound, NotADir):
            return None
        if name is None:
            return None
        node = self.snapshot.node(name.node)
        if node is None:
            return None
        data = ContentCache.of_node(name.kind, node)
        if data is None and name.kind is Kind.TASK_FILE and name.file in node.files:
            data = self._contents.get(self._contents.key(node, name.file))
            if data is not None:
                self._reads.read_ahead(components, name.file)
        if data is None:
            return None
        entry = self.entry(name, node)
        return (entry if entry.size == len(data) else entry._replace(size=len(data))), data

    async def content(self, entry: Entry) -> bytes:
        if entry.kind is Kind.DIR:
            raise IsADirectoryError(entry.name)
        node = self.snapshot.node(entry.node)
        if entry.kind is Kind.SERVER_FILE:
            return await self._server_files.read(entry.file)
        if node is None:
            raise NotFound(entry.node)
        data = ContentCache.of_node(entry.kind, node)
        if data is not None:
            return data
        if entry.kind is Kind.CONTROL:
            return self.control_content(node.path)
        if entry.kind is Kind.EVENTS:
            return self.events.read(0, len(self.events))
        if entry.kind is Kind.NODE_TEXT and entry.file == layout.WHY and node.why is not None:
            return node.why  # sent with the node: it changes with the snapshot
        if entry.kind is Kind.NODE_TEXT:
            return await self._contents.fetched(self._contents.node_text_key(node.path, entry.file), entry.name,
                                                lambda: self.backend.node_text(node.path, entry.file))
        if entry.file not in node.files:
            raise NotFound(entry.name)
        key = self._contents.key(node, entry.file)
        directory = self.components_of(node.path.rpartition("/")[0] or "/")
        data = self._contents.get(key)
        if data is None:  # a reader of one file of a directory reads the others next
            await self._reads.measure(directory, (entry.file,))
            data = self._contents.get(key)
        self._reads.read_ahead(directory, entry.file)
        if data is None:
            item = (node.path, entry.file)
            kept = self._disk.keys([item])
            data = (await self._disk.read(kept)).get(item)
            if data is not None:
                self._contents.put(key, data)
        if data is None:  # (cached data had its size checked when it came)
            data = await self._contents.fetched(key, entry.name, lambda: self.backend.read(node.path, entry.file),
                                                local=self.local_reads)
            self._directories.check_listed_size(node.path, entry.file, data)
            await self._disk.write(kept, {item: data})
        return data

    def local_server_file(self, file_name: str) -> bytes:
        return self._server_files.local(file_name)

    def nodes_text(self) -> bytes:
        return self._server_files.nodes_text()

    # ---- control files ---------------------------------------------------------------------------
    def control_content(self, node_path: str) -> bytes:
        return self.mirrors.render(node_path) if self.mirrors else b""

    def control_node(self, components: Sequence[str], file_name: str) -> str:
        """The task a control file `<task>.mirror` in this directory stands for (it may not be listed yet)."""
        stem, ext = layout.split_extension(file_name)
        if ext != layout.MIRROR:
            raise InvalidControl(f"{file_name}: not a control file")
        path = layout.child_path(layout.dir_node_path(components), stem)
        node = self.snapshot.node(path) if components[:1] != (layout.SERVER_DIR,) else None
        if node is None:
            raise NotFound(path)
        if not node.is_task or node.kind == "alias":
            reason = f"{path} is a {node.kind}: only tasks can be mirrored"
            if self.mirrors:
                self.mirrors.reject(path, reason)
            raise InvalidControl(reason)
        return path

    # ---- refresh ---------------------------------------------------------------------------------
    async def refresh_once(self) -> list:
        """Ask the backend for changes; returns the changed (old, new) node pairs (empty if none)."""
        try:
            delta = await self.backend.changes()
        except ServerUnavailable as e:
            self.status.unreachable(e)
            return []
        self.status.reachable = True
        self.status.last_sync = time.time()
        if delta is None:
            return []
        self.snapshot, changed = self.snapshot.apply(delta)
        if changed:
            self.changed_at = time.time()
        self._reads.forget()
        self._directories.forget(changed, delta["full"])
        for path, old, new in state_changes(changed):
            self.events.add(path, old, new)
        return changed
