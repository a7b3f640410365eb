"""Directory listings as readdir hands them out: built once per listing the Vfs hands out (a refresh that
changes a directory makes a new one), and built ahead below where a refresh changed something, so that the
first `find` or `ls -lR` finds them ready while the mount answers meanwhile."""

from __future__ import annotations

import logging
from typing import Callable, NamedTuple, Optional

import trio

from wffs import layout
from wffs.fuse_binding import pyfuse3
from wffs.tree import Tree
from wffs.vfs import Entry, NotADir, NotFound

log = logging.getLogger(__name__)


class Row(NamedTuple):
    """One entry of a listing, as readdir replies with it."""
    name: bytes  # as the kernel gets it
    attrs: Optional[pyfuse3.EntryAttributes]  # None: not measured yet, made at each readdir
    path: tuple
    entry: Entry


class Held(NamedTuple):
    """A directory's listing as built from one listing of the Vfs."""
    entries: list  # the Vfs's: a new list is a new listing
    rows: list  # of Row
    names: tuple  # what the kernel's copy of it holds: (the names, which of them are directories)


class Listings:
    def __init__(self, tree: Tree, attrs: Callable[..., pyfuse3.EntryAttributes]):
        self.tree = tree
        self._attrs = attrs  # (path, entry, told=False): attributes not told to the kernel yet
        self.held: dict[tuple, Held] = {}  # path -> its listing
        self._stale_tops: set = set()  # where listings are to be built (see build)
        self._wanted = trio.Event()

    def listing(self, path: tuple) -> tuple:
        """(rows of a directory's entries, what the kernel's copy of the listing holds), built once per
        listing the Vfs hands out; attributes None for entries not measured yet."""
        entries = self.tree.listdir(path)
        held = self.held.get(path)
        if held is not None and held.entries is entries:
            return held.rows, held.names
        rows = []
        for e in entries:
            child = path + (e.name,)
            attrs = None if e.size is None else self._attrs(child, e, told=False)
            rows.append(Row(e.name.encode("utf-8", "surrogateescape"), attrs, child, e))
        names = (tuple(e.name for e in entries), tuple(e.name for e in entries if e.is_dir))
        self.held[path] = Held(entries, rows, names)
        return rows, names

    def want(self, top: tuple = ()) -> None:
        """Ask for the listings below `top` to be built soon (a refresh changed something there)."""
        self._stale_tops.add(top)
        self._wanted.set()

    async def build(self) -> None:
        """For the life of the mount: build the listings asked for, one directory per scheduler turn, so
        that the first `find` or `ls -lR` after a mount or a change finds them ready (as a static file
        system has them) while the mount answers meanwhile."""
        while True:
            await self._wanted.wait()
            self._wanted = trio.Event()
            await self.build_wanted()

    async def build_wanted(self) -> None:
        """Build the listings asked for so far, now."""
        tops, self._stale_tops = self._stale_tops, set()
        for top in tops:
            await self._build_below(top)

    async def _build_below(self, top: tuple) -> None:
        todo = [top]
        while todo:
            path = todo.pop()
            try:
                entries = self.tree.listdir(path)
                self.listing(path)
            except (NotFound, NotADir):
                continue
            except Exception:  # a bug here must not take the mount down: the listing is built when opened
                log.exception("building the listing of %s", "/".join(path))
                continue
            todo.extend(path + (e.name,) for e in entries if e.is_dir and e.name != layout.SERVER_DIR)
            await trio.sleep(0)
