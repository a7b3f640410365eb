"""Paths to entries and contents for one server: the file system without FUSE.

Metadata comes from the current snapshot (no server call); server-provided files (.ecf .job .out .man and
.server/*) are fetched through the backend on lookup or open and cached per node version, so the size a
stat reports is the size of the bytes a read returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import cachetools
import trio

from wffs import layout
from wffs.backend.base import NotProvided, ServerUnavailable, WorkerBusy
from wffs.events import EventLog, iso, state_changes
from wffs.file_cache import FileCache
from wffs.layout import Kind, Name
from wffs.snapshot import NodeInfo, Snapshot

log = logging.getLogger(__name__)

#: States in which a task's job and output files are still being written.
RUNNING_STATES = ("submitted", "active")
#: A job may still write to its output for a moment after it told the server it completed or aborted.
SETTLE_SECONDS = 60.0
#: How long the kernel may cache what does not change without a state change (the refresher invalidates).
CACHE_SECONDS = 60.0
#: Files that can change on disk without any state change.
EDITED_IN_PLACE = ("ecf", "man")
#: Seconds a remote server's script or manual kept on disk is trusted (--script-age): they are edited
#: without any change of state; any change of their task's state makes them be read again.
DEFAULT_SCRIPT_AGE = 600.0


def being_written(node: NodeInfo, kind: str) -> bool:
    """Job and output of a running task, or of one that finished moments ago: content may still grow."""
    if kind not in ("job", "out"):
        return False
    return node.state in RUNNING_STATES or time.time() - node.since < SETTLE_SECONDS


class NotFound(Exception):
    """No such entry (ENOENT)."""


class InvalidControl(Exception):
    """A control-file write that makes no sense here (EINVAL), e.g. a .mirror for a family."""


class NotADir(Exception):
    """A path component is a file (ENOTDIR)."""


class Entry(NamedTuple):  # a tuple: listings build tens of thousands of them
    name: str
    kind: Kind
    node: str
    file: str
    size: Optional[int]  # None: not measured yet (a server-provided file nobody has looked up)
    mtime: float
    volatile: bool = False  # content may change without a state change: short kernel cache times
    server: str = ""  # which server's Vfs the entry belongs to (set by the Tree)

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR


@dataclass
class ServerStatus:
    """What the mount knows about its server's reachability, shown in .server/status."""

    name: str
    reachable: Optional[bool] = None
    last_sync: float = 0.0
    last_error: str = ""
    last_error_time: float = 0.0

    def render(self, snapshot: Snapshot) -> bytes:
        reach = {None: "not yet contacted", True: "yes", False: "no"}[self.reachable]
        lines = [
            f"server {self.name}",
            f"reachable {reach}",
            f"version {snapshot.server.get('version') or 'unknown'}",
            f"state {snapshot.server.get('state') or 'unknown'}",
            f"suites {len(snapshot.server.get('suites', ()))}",
            f"nodes {len(snapshot.nodes)}",
            f"last_sync {iso(self.last_sync)}",
        ]
        if snapshot.server.get("files"):  # where .ecf/.job/.out/.man come from, and why
            lines.append(f"files {snapshot.server['files']}")
        if self.reachable is False:
            lines.append(f"stale yes: the tree is the one last seen at {iso(self.last_sync)}")
        if self.last_error:
            lines.append(f"last_error {iso(self.last_error_time)} {self.last_error}")
        return ("\n".join(lines) + "\n").encode()


class Vfs:
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
        self._indexes: dict[tuple, dict] = {}  # components -> {file name: Name}
        self._contents = cachetools.LRUCache(maxsize=cache_bytes, getsizeof=len)
        self._server_files = cachetools.TTLCache(maxsize=16, ttl=refresh)
        self._measured = cachetools.LRUCache(maxsize=4096)  # (directory, kind)s read in one batch lately
        self._kinds_read: dict[str, float] = {}  # task file kind -> when a reader last asked for one
        self._edited = cachetools.LRUCache(maxsize=1024)  # (path, kind, FileStat) -> size read since the sync
        self._local_reads = getattr(backend, "reads_job_files_from_disk", False)
        self._nodes_text = (-1, b"")  # (snapshot generation, .server/nodes)
        self._components: tuple = (-1, {})  # (snapshot generation, node path -> components as listed)
        self._read_ahead_from = None  # (directory, kinds, interval, generation) of the last read-ahead
        self._dir_order = (-1, {}, [])  # (snapshot generation, directory -> position, directories in find's order)
        self._listings: dict[tuple, tuple] = {}  # components -> (period or None, bucket, entries, unmeasured)

    # ---- names -----------------------------------------------------------------------------------
    def names(self, components: Sequence[str]) -> dict[str, Name]:
        """A directory's names, kept until a refresh changes one of its nodes (see `_forget_listings`)."""
        components = tuple(components)
        index = self._indexes.get(components)
        if index is None:
            index = {n.name: n for n in self._names_uncached(self.snapshot, components)}
            self._indexes[components] = index
        return index

    def _names_uncached(self, snap: Snapshot, components: tuple) -> list[Name]:
        if components == (layout.SERVER_DIR,):
            return layout.server_dir_names()
        if components[:1] == (layout.SERVER_DIR,):
            raise NotFound("/".join(components))
        path = layout.dir_node_path(components)
        node = snap.node(path)
        if node is None or self.components_of(path) != components:  # gone, or listed under the other name
            raise NotFound("/".join(components))
        if path != "/" and node.is_task and not node.children:
            raise NotADir(path)
        return layout.directory_names(snap.children(path), root=(path == "/"))

    def components_of(self, path: str) -> tuple:
        """Where a node is below the server's top, as listed (a clashing directory has CLASH_MARK).
        Kept per snapshot: every open of a file asks for its directory's."""
        generation, known = self._components
        if generation != self.snapshot.generation:
            known = {}
            self._components = (self.snapshot.generation, known)
        found = known.get(path)
        if found is None:
            found = known[path] = self._components_uncached(path)
        return found

    def _components_uncached(self, path: str) -> tuple:
        parts, parent = [], "/"
        for name in layout.node_components(path):
            if parent == "/":
                siblings = self.snapshot.server.get("suites", ())
            else:
                node = self.snapshot.node(parent)
                siblings = node.children if node else ()
            parts.append(layout.directory_name(name, siblings))
            parent = layout.child_path(parent, name)
        return tuple(parts)

    # ---- entries ---------------------------------------------------------------------------------
    def entry(self, name: Name, node: Optional[NodeInfo] = None) -> Entry:
        """An entry with what is known without the server (size None for unmeasured server files);
        `node`: the name's node when the caller has it at hand."""
        if node is None or node.path != name.node:
            node = self.snapshot.node(name.node)
        if node is None:  # a name of a directory listed before its node went away
            raise NotFound(name.node)
        if name.kind is Kind.DIR:
            return Entry(name.name, name.kind, name.node, name.file, 0, node.since if node else 0.0)
        if name.kind is Kind.SERVER_FILE and name.file in layout.LOCAL_SERVER_FILES:  # no server call
            return Entry(name.name, name.kind, name.node, name.file, len(self.local_server_file(name.file)),
                         max(self.status.last_sync, self.status.last_error_time), volatile=True)
        if name.kind is Kind.CONTROL:
            return Entry(name.name, name.kind, name.node, name.file, len(self.control_content(name.node)),
                         node.since, volatile=True)
        if name.kind is Kind.EVENTS:
            return Entry(name.name, name.kind, name.node, name.file, len(self.events),
                         self.events.changed_at or self.status.last_sync, volatile=True)
        if name.kind is Kind.NODE_TEXT and name.file == layout.WHY and node.why is not None:
            return Entry(name.name, name.kind, name.node, name.file, len(node.why), node.since)
        if name.kind is Kind.NODE_TEXT:
            cached = self._contents.get(self._node_text_key(name.node, name.file))
            return Entry(name.name, name.kind, name.node, name.file, None if cached is None else len(cached),
                         node.since, volatile=True)
        if name.kind is Kind.SERVER_FILE:
            cached = self._server_files.get(name.file)
            size = len(cached[0]) if cached else None
            mtime = cached[1] if cached else time.time()
            return Entry(name.name, name.kind, name.node, name.file, size, mtime, volatile=True)
        if name.kind is Kind.STATUS:
            return Entry(name.name, name.kind, name.node, name.file,
                         len(layout.status_text(node.state, node.suspended)), node.since)
        if name.kind is Kind.ATT:
            return Entry(name.name, name.kind, name.node, name.file, len(node.att), node.since)
        stat = node.files[name.file]
        volatile = being_written(node, name.file)
        if stat.size is not None and not volatile:  # the size the worker saw when the node last changed,
            size = self._edited.get((node.path, name.file, stat), stat.size) if self._edited else stat.size
            return Entry(name.name, name.kind, name.node, name.file, size, stat.mtime or node.since)
        cached = self._contents.get(self._content_key(node, name.file))
        size = len(cached) if cached is not None else None
        return Entry(name.name, name.kind, name.node, name.file, size, stat.mtime or node.since,
                     volatile=volatile)

    def listdir(self, components: Sequence[str]) -> list[Entry]:
        """A directory's entries with their attributes (`find` opens every directory).

        Kept until a refresh changes a node of the directory (see `_forget_listings`) or a read finds a
        script of another size than listed (edited in place); while an entry is still being written or
        not yet measured, rebuilt every refresh interval.  The same list object is returned while it
        holds, so the FUSE adapter keeps the attributes it built from it.
        """
        components = tuple(components)
        now = time.monotonic()
        held = self._listings.get(components)
        if held is not None and (held[0] is None or held[1] == int(now / held[0])):
            if not held[3]:
                return held[2]
            names = self.names(components)  # some entries were not measured: take what is known now
            entries = [self.entry(names[e.name]) if e.size is None else e for e in held[2]]
            if all(a.size is None for a, b in zip(entries, held[2]) if b.size is None):  # nothing new
                return held[2]
        else:
            node, entries = None, []
            for n in self.names(components).values():  # a node's names come together: look it up once
                if node is None or node.path != n.node:
                    node = self.snapshot.node(n.node)
                entries.append(self.entry(n, node))
        unmeasured = any(e.size is None for e in entries)
        if unmeasured or any(e.volatile for e in entries):
            self._listings[components] = (self.refresh, int(now / self.refresh), entries, unmeasured)
        else:
            self._listings[components] = (None, None, entries, False)
        return entries

    def _forget_listings(self, changed: list, full: bool) -> None:
        """Drop the names and listings a refresh made stale: the directory holding each changed node and
        the node's own directory (its children changed); everything after a full sync."""
        if full:
            self._indexes.clear()
            self._listings.clear()
            return
        stale = {(), (layout.SERVER_DIR,)}  # the mount point lists the suites; .server/nodes changes
        reshaped = set()  # directories that gained or lost a node: a sibling's name may gain or lose its mark
        for old, new in changed:
            own = self.components_of((new or old).path)
            stale.update((own, own[:-1], own[:-1] + (own[-1] + layout.CLASH_MARK,)))  # marked or not before
            if old is None or new is None:
                reshaped.add(own[:-1])
        if reshaped:  # everything below them, under whatever name it was listed
            stale.update(k for cache in (self._indexes, self._listings) for k in cache
                         if any(k[:len(top)] == top for top in reshaped))
        for components in stale:
            self._indexes.pop(components, None)
            self._listings.pop(components, None)

    async def lookup(self, components: Sequence[str], file_name: str) -> Entry:
        name = self.names(components).get(file_name)
        if name is None:
            raise NotFound(file_name)
        entry = self.entry(name)
        if entry.size is None and entry.kind in (Kind.TASK_FILE, Kind.NODE_TEXT):
            kinds = self._measured_with(entry) if entry.kind is Kind.TASK_FILE else (entry.file,)
            await self._measure_directory(tuple(components), kinds)
            if self._remote():  # `ls -lR` of a remote server: the next directory is read while this one is listed
                self._read_ahead(tuple(components), entry.file)
            name = self.names(components).get(file_name)  # the snapshot may have changed meanwhile
            if name is None:
                raise NotFound(file_name)
            entry = self.entry(name)
        if entry.size is None:
            entry = entry._replace(size=len(await self.content(entry)))
            if entry.kind is Kind.SERVER_FILE:  # now cached: its mtime is when it was fetched
                entry = entry._replace(mtime=self.entry(name).mtime)
        return entry

    async def _measure_directory(self, components: tuple, kinds: Sequence[str] = layout.TASK_FILE_KINDS) -> None:
        """Read every unmeasured task file or node text (of these kinds) of a directory in one backend call.

        `ls -l` looks up each file of a directory in turn, `grep -r --include='*.out'` opens each output:
        one round trip for all of them (the worker reads scripts, jobs and outputs from disk where it
        can) instead of one each.  Once per directory, kind, snapshot and refresh interval, so a file
        the batch left out is not asked for again and again.
        """
        pending = [self._measured[key] for key in self._batch_keys(components, kinds) if key in self._measured]
        unclaimed = self._unclaimed(components, kinds)
        if unclaimed:
            await self._read_batch(components, unclaimed, self._claim(components, unclaimed))
        for done in pending:
            await done.wait()  # being read (a read-ahead, say): wait for it rather than ask again

    def _measured_with(self, entry: Entry) -> Sequence[str]:
        """The kinds a lookup of a task file measures in its directory: every kind where the files are on
        this machine (one worker call for `ls -l`); else its own kind (`grep -r --include='*.out'` reads
        no script), a script with its manual (one request gives both)."""
        if not self._remote():
            return layout.TASK_FILE_KINDS
        return EDITED_IN_PLACE if entry.file in EDITED_IN_PLACE else (entry.file,)

    def _remote(self) -> bool:
        return getattr(self.backend, "files_local", True) is False

    def _batch_keys(self, components: tuple, kinds: Sequence[str]) -> list:
        """A directory's files of one kind are read once per snapshot and refresh interval."""
        interval = int(time.monotonic() / self.refresh)
        return [(self.snapshot.generation, components, kind, interval) for kind in kinds]

    def _unclaimed(self, components: tuple, kinds: Sequence[str]) -> tuple:
        return tuple(kind for kind, key in zip(kinds, self._batch_keys(components, kinds))
                     if key not in self._measured)

    def _claim(self, components: tuple, kinds: Sequence[str]) -> trio.Event:
        """Mark a directory's kinds as being read; whoever else wants them waits for the event."""
        done = trio.Event()
        for key in self._batch_keys(components, kinds):
            self._measured[key] = done
        return done

    def _read_ahead(self, components: tuple, kind: str) -> None:
        """A reader is in this directory, reading a file of this kind (noted as read lately).

        Start reading the next directory's files of the kinds read lately, in one call, in the
        background: `cat`, `grep -r` and backups go through the tree in listing order, and the worker
        reads one directory while the mount serves the one before.  (A backup reads scripts and outputs:
        both at once, so that the reader never waits behind a read-ahead of the other kind.)  One
        directory with such files ahead only (a suite's own directory has none: the next one), and only
        when a reader arrives."""
        now = self._kinds_read[kind] = time.monotonic()
        lately = tuple(k for k, when in self._kinds_read.items() if now - when < self.refresh)
        asked = (components, lately, int(now / self.refresh), self.snapshot.generation)
        if asked == self._read_ahead_from:
            return  # the reader of a directory opens file after file: one look ahead is enough
        self._read_ahead_from = asked
        following = self._next_directory(components)
        for _ in range(self.READ_AHEAD_SKIPS):
            if following is None or self._has_files(following, lately):
                break
            following = self._next_directory(following)
        if following is None or self.status.reachable is False:
            return
        kinds = self._unclaimed(following, lately)
        if kinds:  # claimed now: started once
            trio.lowlevel.spawn_system_task(self._quietly, self._read_batch, following, kinds,
                                            self._claim(following, kinds))

    #: How many directories without files of the kinds (suites, families of families) a read-ahead passes.
    READ_AHEAD_SKIPS = 8

    def _has_files(self, components: tuple, kinds: Sequence[str]) -> bool:
        try:
            return any(n.file in kinds for n in self.names(components).values() if n.kind is Kind.TASK_FILE)
        except (NotFound, NotADir):
            return False

    @staticmethod
    async def _quietly(fn, *args) -> None:
        try:
            await fn(*args)
        except Exception as e:  # a read-ahead is a guess: its failure is the next reader's to see
            log.debug("read-ahead: %s", e)

    def _next_directory(self, components: tuple) -> Optional[tuple]:
        """The directory after this one in the order `find` visits them (depth first, listing order)."""
        snap = self.snapshot
        if self._dir_order[0] != snap.generation:
            order, stack = [], [()]
            while stack:
                here = stack.pop()
                order.append(here)
                subdirs = [here + (n.name,) for n in self.names(here).values()
                           if n.kind is Kind.DIR and n.name != layout.SERVER_DIR]
                stack.extend(reversed(subdirs))
            self._dir_order = (snap.generation, {c: i for i, c in enumerate(order)}, order)
        _, index, order = self._dir_order
        i = index.get(components)
        return order[i + 1] if i is not None and i + 1 < len(order) else None

    async def _read_batch(self, components: tuple, kinds: Sequence[str], done: trio.Event) -> None:
        try:
            await self._read_batch_now(components, kinds)
        finally:
            done.set()

    async def _read_batch_now(self, components: tuple, kinds: Sequence[str]) -> None:
        wanted = {}
        for n in self.names(components).values():
            if n.file not in kinds:
                continue
            if n.kind is Kind.TASK_FILE:
                node = self.snapshot.node(n.node)
                content_key = self._content_key(node, n.file) if node and n.file in node.files else None
            else:
                content_key = self._node_text_key(n.node, n.file) if n.kind is Kind.NODE_TEXT else None
            if content_key is not None and content_key not in self._contents:
                wanted[(n.node, n.file)] = content_key
        kept = self._disk_keys(wanted)
        for item, data in (await self._from_disk(kept)).items():
            self._cache(wanted.pop(item), data)
            self._check_listed_size(item[0], item[1], data)
        if len(wanted) < 2:
            return
        try:
            local = self._local_reads and all(kind in layout.TASK_FILE_KINDS for kind in kinds)
            found = await self._ask(lambda: self.backend.read_many(list(wanted)), local)
        except (ServerUnavailable, NotProvided):
            return  # each file is then asked for on its own, with its own error
        for item, data in found.items():
            if item in wanted:
                self._cache(wanted[item], data)
                self._check_listed_size(item[0], item[1], data)
        await self._to_disk(kept, found)

    # ---- the cache on disk (a remote server's files, between mounts) -------------------------------
    def _disk_keys(self, items) -> dict:
        """{(path, kind): key on disk} of the task files among `items` that the disk cache may hold: a
        remote server's, not being written.  The key holds what the file depends on (see file_cache)."""
        if self.file_cache is None or not self._remote():
            return {}
        identity = str(self.snapshot.server.get("identity", ""))
        keys = {}
        for path, kind in items:
            node = self.snapshot.node(path)
            if node is None or kind not in layout.TASK_FILE_KINDS or being_written(node, kind):
                continue
            stat = node.files.get(kind)
            keys[(path, kind)] = "\0".join((identity, path, kind, node.state, repr(node.since),
                                            repr(tuple(stat) if stat is not None else None)))
        return keys

    async def _from_disk(self, keys: dict) -> dict:
        """{(path, kind): bytes} found on disk for these keys; scripts and manuals no older than script_age."""
        if not keys:
            return {}
        edited = [k for item, k in keys.items() if item[1] in EDITED_IN_PLACE]
        others = [k for item, k in keys.items() if item[1] not in EDITED_IN_PLACE]

        def get():
            return {**self.file_cache.get_many(edited, time.time() - self.script_age),
                    **self.file_cache.get_many(others)}

        found = await trio.to_thread.run_sync(get)
        return {item: found[k] for item, k in keys.items() if k in found}

    async def _to_disk(self, keys: dict, found: dict) -> None:
        entries = {keys[item]: data for item, data in found.items() if item in keys}
        if entries:
            await trio.to_thread.run_sync(self.file_cache.put_many, entries)

    def _cache(self, key, data: bytes) -> None:
        if len(data) <= self._contents.maxsize // 4:  # a huge file is read again rather than cached
            self._contents[key] = data

    # ---- contents --------------------------------------------------------------------------------
    def _content_key(self, node: NodeInfo, kind: str):
        """Cached contents are good for this node version; for a file still being written, for one
        refresh interval; for scripts and manuals (edited without a state change), for CACHE_SECONDS."""
        key = (node.path, kind, node.state, node.since, node.files.get(kind))
        if being_written(node, kind):
            key += (int(time.monotonic() / self.refresh),)
        elif kind in EDITED_IN_PLACE:
            key += (int(time.monotonic() / CACHE_SECONDS),)
        return key

    def _node_text_key(self, path: str, kind: str):
        """`why` and `.def` depend on other nodes too: good for one snapshot and refresh interval."""
        return (path, kind, self.snapshot.generation, int(time.monotonic() / self.refresh))

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
        data = self._node_content(name.kind, node)
        if data is None and name.kind is Kind.TASK_FILE and name.file in node.files:
            data = self._contents.get(self._content_key(node, name.file))
            if data is not None:
                self._read_ahead(components, name.file)
        if data is None:
            return None
        entry = self.entry(name, node)
        return (entry if entry.size == len(data) else entry._replace(size=len(data))), data

    @staticmethod
    def _node_content(kind: Kind, node: NodeInfo) -> Optional[bytes]:
        """A status file's or an .att's content: the node itself holds it (None for other kinds)."""
        if kind is Kind.STATUS:
            return layout.status_text(node.state, node.suspended)
        if kind is Kind.ATT:
            return node.att
        return None

    async def content(self, entry: Entry) -> bytes:
        if entry.kind is Kind.DIR:
            raise IsADirectoryError(entry.name)
        node = self.snapshot.node(entry.node)
        if entry.kind is Kind.SERVER_FILE:
            return await self._server_file(entry.file)
        if node is None:
            raise NotFound(entry.node)
        data = self._node_content(entry.kind, node)
        if data is not None:
            return data
        if entry.kind is Kind.CONTROL:
            return self.control_content(node.path)
        if entry.kind is Kind.EVENTS:
            return self.events.read(0, len(self.events))
        if entry.kind is Kind.NODE_TEXT and entry.file == layout.WHY and node.why is not None:
            return node.why  # sent with the node: it changes with the snapshot
        if entry.kind is Kind.NODE_TEXT:
            return await self._fetched(self._node_text_key(node.path, entry.file), entry.name,
                                       lambda: self.backend.node_text(node.path, entry.file))
        if entry.file not in node.files:
            raise NotFound(entry.name)
        key = self._content_key(node, entry.file)
        directory = self.components_of(node.path.rpartition("/")[0] or "/")
        data = self._contents.get(key)
        if data is None:  # a reader of one file of a directory reads the others next
            await self._measure_directory(directory, (entry.file,))
            data = self._contents.get(key)
        self._read_ahead(directory, entry.file)
        if data is None:
            item = (node.path, entry.file)
            kept = self._disk_keys([item])
            data = (await self._from_disk(kept)).get(item)
            if data is not None:
                self._cache(key, data)
        if data is None:  # (cached data had its size checked when it came)
            data = await self._fetched(key, entry.name, lambda: self.backend.read(node.path, entry.file),
                                       local=self._local_reads)
            self._check_listed_size(node.path, entry.file, data)
            await self._to_disk(kept, {item: data})
        return data

    def _check_listed_size(self, path: str, kind: str, data: bytes) -> None:
        """A script edited since the sync has another size than its directory's listing says: list again."""
        node = self.snapshot.node(path)
        stat = node.files.get(kind) if node is not None else None
        if stat is None or stat.size is None:
            return
        edited_key = (path, kind, stat)
        if self._edited.get(edited_key, stat.size) != len(data):
            if stat.size == len(data):
                del self._edited[edited_key]  # edited back to the size it had at the sync
            else:
                self._edited[edited_key] = len(data)  # or what a read of it found since
            self._listings.pop(self.components_of(path)[:-1], None)

    async def _fetched(self, key, name: str, fetch, local: bool = False) -> bytes:
        """Cached content, else fetched from the backend and cached; NotFound if the server has none."""
        data = self._contents.get(key)
        if data is None:
            try:
                data = await self._ask(fetch, local)
            except NotProvided as e:
                raise NotFound(f"{name}: {e}") from None
            self._cache(key, data)
        return data

    async def _ask(self, call, local: bool = False):
        """A server call for content.  While the server is known not to answer it fails at once: `tar` or
        `grep -r` over a hung server would otherwise wait --timeout for every file.  A failure marks the
        server so until a refresh gets an answer again (the refresher keeps asking).  `local`: the backend
        reads the file from disk itself (a Cylc job's files), which works whatever the server does."""
        if local:
            return await call()
        if self.status.reachable is False:
            raise ServerUnavailable(f"{self.status.name}: not answering since {iso(self.status.last_error_time)}"
                                    f" ({self.status.last_error})")
        try:
            return await call()
        except WorkerBusy:
            raise  # another call holds the worker (a read-ahead, say): the server may be fine
        except ServerUnavailable as e:
            self._unreachable(e)
            raise

    def _unreachable(self, error: ServerUnavailable) -> None:
        if self.status.reachable is not False:
            log.warning("%s: %s", self.status.name, error)
        self.status.reachable = False
        self.status.last_error, self.status.last_error_time = str(error), time.time()

    async def _server_file(self, file_name: str) -> bytes:
        if file_name in layout.LOCAL_SERVER_FILES:
            return self.local_server_file(file_name)
        cached = self._server_files.get(file_name)
        if cached is None:
            try:
                cached = (await self._ask(lambda: self.backend.server_file(file_name)), time.time())
            except NotProvided as e:
                raise NotFound(f"{file_name}: {e}") from None
            self._server_files[file_name] = cached
        return cached[0]

    def local_server_file(self, file_name: str) -> bytes:
        if file_name == "mirrors":
            return self.mirrors.render_all() if self.mirrors else b""
        if file_name == "nodes":
            return self.nodes_text()
        return self.status.render(self.snapshot)

    def nodes_text(self) -> bytes:
        """.server/nodes: every node in tree order with its state, kind and status file, so that a tool
        (wffs-grep) finds the nodes in a state with one read instead of a walk of the whole tree."""
        snap = self.snapshot
        if self._nodes_text[0] != snap.generation:
            lines, stack = [], [("/", ())]
            while stack:
                path, components = stack.pop()
                children = snap.children(path)
                siblings = {c.name for c in children}
                for child in reversed(children):
                    if child.children:
                        stack.append((child.path, components + (layout.directory_name(child.name, siblings),)))
                lines.extend(layout.nodes_line(c.path, c.state, c.suspended, c.kind, components) for c in children)
            self._nodes_text = (snap.generation, "".join(lines).encode("utf-8", "surrogateescape"))
        return self._nodes_text[1]

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
            self._unreachable(e)
            return []
        self.status.reachable = True
        self.status.last_sync = time.time()
        if delta is None:
            return []
        self.snapshot, changed = self.snapshot.apply(delta)
        if changed:
            self.changed_at = time.time()
        self._measured.clear()  # keyed by the old generation: never used again
        self._forget_listings(changed, delta["full"])
        for path, old, new in state_changes(changed):
            self.events.add(path, old, new)
        return changed
