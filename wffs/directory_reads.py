"""Reading a directory's files in one backend call instead of one call each: to measure them when a reader
looks one up (`ls -l`, `grep -r --include`), and ahead of a reader going through the tree in `find`'s order
(`cat`, `grep -r`, backups), the next directory while the mount serves this one."""

from __future__ import annotations

import logging
import time
from typing import NamedTuple, Optional, Sequence

import cachetools
import trio

from wffs import layout
from wffs.backend.base import NotProvided, ServerUnavailable
from wffs.content_cache import ContentCache
from wffs.directories import Directories
from wffs.disk_files import DiskFiles
from wffs.entry import Entry
from wffs.freshness import EDITED_IN_PLACE
from wffs.layout import Kind
from wffs.vfs_errors import NotADir, NotFound

log = logging.getLogger(__name__)


class BatchKey(NamedTuple):
    """A directory's files of one kind, read once per snapshot and refresh interval."""

    generation: int
    directory: tuple
    kind: str
    interval: int


class ReadAheadAsked(NamedTuple):
    """What the last read-ahead was started for: a reader opening file after file asks the same again."""

    directory: tuple
    kinds: tuple
    interval: int
    generation: int


class FindOrder(NamedTuple):
    """A snapshot's directories in the order `find` visits them (depth first, listing order)."""

    generation: int
    position: dict  # directory -> its index in `directories`
    directories: list


class DirectoryReads:
    #: How many directories without files of the kinds (suites, families of families) a read-ahead passes.
    READ_AHEAD_SKIPS = 8

    def __init__(self, vfs, directories: Directories, contents: ContentCache, disk: DiskFiles):
        self.vfs = vfs  # the server's Vfs: its snapshot (a refresh replaces it), refresh interval, status, backend
        self._directories = directories
        self._contents = contents
        self._disk = disk
        self._measured = cachetools.LRUCache(maxsize=4096)  # BatchKey -> trio.Event set once read
        self._kinds_read: dict[str, float] = {}  # task file kind -> when a reader last asked for one
        self._read_ahead_from: Optional[ReadAheadAsked] = None
        self._find_order = FindOrder(-1, {}, [])
        #: content key -> set when the batch reading it ends: a batch started in the next refresh interval
        #: (a read-ahead still under way, say) waits for it instead of asking the server again
        self._in_flight: dict = {}

    def forget(self) -> None:
        """After a refresh: the batches are keyed by the old generation, never used again."""
        self._measured.clear()

    # ---- measuring -------------------------------------------------------------------------------
    async def measure(self, components: tuple, kinds: Sequence[str] = layout.TASK_FILE_KINDS) -> None:
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

    def kinds_measured_with(self, entry: Entry) -> Sequence[str]:
        """The kinds a lookup of a task file measures in its directory: every kind where the files are on
        this machine (one worker call for `ls -l`); else its own kind (`grep -r --include='*.out'` reads
        no script), a script with its manual (one request gives both)."""
        if not self.vfs.files_remote():
            return layout.TASK_FILE_KINDS
        return EDITED_IN_PLACE if entry.file in EDITED_IN_PLACE else (entry.file,)

    def _batch_keys(self, components: tuple, kinds: Sequence[str]) -> list:
        """A directory's files of one kind are read once per snapshot and refresh interval."""
        interval = int(time.monotonic() / self.vfs.refresh)
        generation = self.vfs.snapshot.generation
        return [BatchKey(generation, components, kind, interval) for kind in kinds]

    def _unclaimed(self, components: tuple, kinds: Sequence[str]) -> tuple:
        return tuple(kind for kind, key in zip(kinds, self._batch_keys(components, kinds))
                     if key not in self._measured)

    def _claim(self, components: tuple, kinds: Sequence[str]) -> trio.Event:
        """Mark a directory's kinds as being read; whoever else wants them waits for the event."""
        done = trio.Event()
        for key in self._batch_keys(components, kinds):
            self._measured[key] = done
        return done

    # ---- reading ahead ---------------------------------------------------------------------------
    def read_ahead(self, components: tuple, kind: str) -> None:
        """A reader is in this directory, reading a file of this kind (noted as read lately).

        Start reading the next directory's files of the kinds read lately, in one call, in the
        background: `cat`, `grep -r` and backups go through the tree in listing order, and the worker
        reads one directory while the mount serves the one before.  (A backup reads scripts and outputs:
        both at once, so that the reader never waits behind a read-ahead of the other kind.)  One
        directory with such files ahead only (a suite's own directory has none: the next one), and only
        when a reader arrives."""
        refresh = self.vfs.refresh
        now = self._kinds_read[kind] = time.monotonic()
        lately = tuple(k for k, when in self._kinds_read.items() if now - when < refresh)
        asked = ReadAheadAsked(components, lately, int(now / refresh), self.vfs.snapshot.generation)
        if asked == self._read_ahead_from:
            return  # the reader of a directory opens file after file: one look ahead is enough
        self._read_ahead_from = asked
        following = self._next_directory(components)
        for _ in range(self.READ_AHEAD_SKIPS):
            if following is None or self._has_files(following, lately):
                break
            following = self._next_directory(following)
        if following is None or self.vfs.status.reachable is False:
            return
        kinds = self._unclaimed(following, lately)
        if kinds:  # claimed now: started once
            trio.lowlevel.spawn_system_task(self._quietly, self._read_batch, following, kinds,
                                            self._claim(following, kinds))

    def _has_files(self, components: tuple, kinds: Sequence[str]) -> bool:
        try:
            return any(n.file in kinds for n in self._directories.names(components).values()
                       if n.kind is Kind.TASK_FILE)
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
        snap = self.vfs.snapshot
        if self._find_order.generation != snap.generation:
            order, stack = [], [()]
            while stack:
                here = stack.pop()
                order.append(here)
                subdirs = [here + (n.name,) for n in self._directories.names(here).values()
                           if n.kind is Kind.DIR and n.name != layout.SERVER_DIR]
                stack.extend(reversed(subdirs))
            self._find_order = FindOrder(snap.generation, {c: i for i, c in enumerate(order)}, order)
        _, position, order = self._find_order
        i = position.get(components)
        return order[i + 1] if i is not None and i + 1 < len(order) else None

    # ---- one batch -------------------------------------------------------------------------------
    async def _read_batch(self, components: tuple, kinds: Sequence[str], done: trio.Event) -> None:
        try:
            await self._read_batch_now(components, kinds)
        finally:
            done.set()

    async def _read_batch_now(self, components: tuple, kinds: Sequence[str]) -> None:
        vfs, contents = self.vfs, self._contents
        wanted = {}
        for n in self._directories.names(components).values():
            if n.file not in kinds:
                continue
            if n.kind is Kind.TASK_FILE:
                node = vfs.snapshot.node(n.node)
                content_key = contents.key(node, n.file) if node and n.file in node.files else None
            else:
                content_key = contents.node_text_key(n.node, n.file) if n.kind is Kind.NODE_TEXT else None
            if content_key is not None and content_key not in contents:
                wanted[(n.node, n.file)] = content_key
        elsewhere = {self._in_flight[key] for key in wanted.values() if key in self._in_flight}
        wanted = {item: key for item, key in wanted.items() if key not in self._in_flight}
        kept = self._disk.keys(wanted)
        for item, data in (await self._disk.read(kept)).items():
            contents.put(wanted.pop(item), data)
            self._directories.check_listed_size(item[0], item[1], data)
        if len(wanted) >= 2:
            await self._fetch(wanted, kinds, kept)
        for done in elsewhere:
            await done.wait()

    async def _fetch(self, wanted: dict, kinds: Sequence[str], kept: dict) -> None:
        """Read the files `wanted` ({(path, kind): content key}) in one backend call, noted as in flight."""
        vfs, contents = self.vfs, self._contents
        done = trio.Event()
        for key in wanted.values():
            self._in_flight[key] = done
        try:
            try:
                local = vfs.local_reads and all(kind in layout.TASK_FILE_KINDS for kind in kinds)
                found = await vfs.status.ask(lambda: vfs.backend.read_many(list(wanted)), local)
            except (ServerUnavailable, NotProvided):
                return  # each file is then asked for on its own, with its own error
            for item, data in found.items():
                if item in wanted:
                    contents.put(wanted[item], data)
                    self._directories.check_listed_size(item[0], item[1], data)
        finally:  # (after the contents are in: whoever waited finds them)
            for key in wanted.values():
                if self._in_flight.get(key) is done:
                    del self._in_flight[key]
            done.set()
        await self._disk.write(kept, found)
