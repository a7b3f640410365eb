"""A server's directories as the Vfs lists them: their names, where each node is listed, and their entries
with attributes, each kept until a refresh changes the directory (or a read finds a script of another size
than listed), because `find` and `ls -lR` list every directory and open each file by name."""

from __future__ import annotations

import time
from typing import NamedTuple, Optional, Sequence

import cachetools

from wffs import layout
from wffs.content_cache import ContentCache
from wffs.entry import Entry
from wffs.freshness import being_written
from wffs.layout import Kind, Name
from wffs.server_files import ServerFiles
from wffs.snapshot import NodeInfo, Snapshot
from wffs.vfs_errors import NotADir, NotFound


class Listing(NamedTuple):
    """A directory's entries as last listed."""

    period: Optional[float]  # None: good until a refresh changes the directory; else rebuilt every period
    bucket: Optional[int]  # the period it was built in
    entries: list
    unmeasured: bool  # some sizes were not known yet

    def holds(self, now: float) -> bool:
        return self.period is None or self.bucket == int(now / self.period)


class ComponentsSeen(NamedTuple):
    """Where nodes are listed, as found in one snapshot."""

    generation: int
    by_path: dict  # node path -> components as listed


class Directories:
    def __init__(self, vfs, contents: ContentCache, server_files: ServerFiles):
        self.vfs = vfs  # the server's Vfs: its snapshot (a refresh replaces it), refresh interval, status, events
        self._contents = contents
        self._server_files = server_files
        self._names: dict[tuple, dict] = {}  # components -> {file name: Name}
        self._components = ComponentsSeen(-1, {})
        self._listings: dict[tuple, Listing] = {}  # components -> Listing
        self._edited = cachetools.LRUCache(maxsize=1024)  # (path, kind, FileStat) -> size read since the sync

    # ---- names -----------------------------------------------------------------------------------
    def names(self, components: Sequence[str]) -> dict[str, Name]:
        """A directory's names, kept until a refresh changes one of its nodes (see `forget`)."""
        components = tuple(components)
        index = self._names.get(components)
        if index is None:
            index = {n.name: n for n in self._names_uncached(self.vfs.snapshot, components)}
            self._names[components] = index
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
        generation = self.vfs.snapshot.generation
        if self._components.generation != generation:
            self._components = ComponentsSeen(generation, {})
        known = self._components.by_path
        found = known.get(path)
        if found is None:
            found = known[path] = self._components_uncached(path)
        return found

    def _components_uncached(self, path: str) -> tuple:
        snapshot = self.vfs.snapshot
        parts, parent = [], "/"
        for name in layout.node_components(path):
            if parent == "/":
                siblings = snapshot.server.get("suites", ())
            else:
                node = snapshot.node(parent)
                siblings = node.children if node else ()
            parts.append(layout.directory_name(name, siblings))
            parent = layout.child_path(parent, name)
        return tuple(parts)

    # ---- entries ---------------------------------------------------------------------------------
    def entry(self, name: Name, node: Optional[NodeInfo] = None) -> Entry:
        """An entry with what is known without the server (size None for unmeasured server files);
        `node`: the name's node when the caller has it at hand."""
        vfs = self.vfs
        if node is None or node.path != name.node:
            node = vfs.snapshot.node(name.node)
        if node is None:  # a name of a directory listed before its node went away
            raise NotFound(name.node)
        if name.kind is Kind.DIR:
            return Entry(name.name, name.kind, name.node, name.file, 0, node.since if node else 0.0)
        if name.kind is Kind.SERVER_FILE and name.file in layout.LOCAL_SERVER_FILES:  # no server call
            data = self._server_files.local(name.file)
            return Entry(name.name, name.kind, name.node, name.file, len(data),
                         self._server_files.local_changed_at(name.file, data), volatile=True)
        if name.kind is Kind.CONTROL:
            return Entry(name.name, name.kind, name.node, name.file, len(vfs.control_content(name.node)),
                         node.since, volatile=True)
        if name.kind is Kind.EVENTS:
            return Entry(name.name, name.kind, name.node, name.file, len(vfs.events),
                         vfs.events.changed_at or vfs.status.last_sync, volatile=True)
        if name.kind is Kind.NODE_TEXT and name.file == layout.WHY and node.why is not None:
            return Entry(name.name, name.kind, name.node, name.file, len(node.why), node.since)
        if name.kind is Kind.NODE_TEXT:
            cached = self._contents.get(self._contents.node_text_key(name.node, name.file))
            return Entry(name.name, name.kind, name.node, name.file, None if cached is None else len(cached),
                         node.since, volatile=True)
        if name.kind is Kind.SERVER_FILE:
            fetched = self._server_files.cached(name.file)
            size = len(fetched.data) if fetched else None
            mtime = fetched.at if fetched else time.time()
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
        cached = self._contents.get(self._contents.key(node, name.file))
        size = len(cached) if cached is not None else None
        return Entry(name.name, name.kind, name.node, name.file, size, stat.mtime or node.since,
                     volatile=volatile)

    def listdir(self, components: Sequence[str]) -> list[Entry]:
        """A directory's entries with their attributes (`find` opens every directory).

        Kept until a refresh changes a node of the directory (see `forget`) or a read finds a script of
        another size than listed (edited in place); while an entry is still being written or not yet
        measured, rebuilt every refresh interval.  The same list object is returned while it holds, so
        the FUSE adapter keeps the attributes it built from it.
        """
        components = tuple(components)
        now = time.monotonic()
        held = self._listings.get(components)
        if held is not None and held.holds(now):
            if not held.unmeasured:
                return held.entries
            names = self.names(components)  # some entries were not measured: take what is known now
            entries = [self.entry(names[e.name]) if e.size is None else e for e in held.entries]
            if all(a.size is None for a, b in zip(entries, held.entries) if b.size is None):  # nothing new
                return held.entries
        else:
            node, entries = None, []
            for n in self.names(components).values():  # a node's names come together: look it up once
                if node is None or node.path != n.node:
                    node = self.vfs.snapshot.node(n.node)
                entries.append(self.entry(n, node))
        unmeasured = any(e.size is None for e in entries)
        if unmeasured or any(e.volatile for e in entries):
            refresh = self.vfs.refresh
            self._listings[components] = Listing(refresh, int(now / refresh), entries, unmeasured)
        else:
            self._listings[components] = Listing(None, None, entries, False)
        return entries

    def check_listed_size(self, path: str, kind: str, data: bytes) -> None:
        """A script edited since the sync has another size than its directory's listing says: list again."""
        node = self.vfs.snapshot.node(path)
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

    def forget(self, changed: list, full: bool) -> None:
        """Drop the names and listings a refresh made stale: the directory holding each changed node and
        the node's own directory (its children changed); everything after a full sync."""
        if full:
            self._names.clear()
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
            stale.update(k for cache in (self._names, self._listings) for k in cache
                         if any(k[:len(top)] == top for top in reshaped))
        for components in stale:
            self._names.pop(components, None)
            self._listings.pop(components, None)
