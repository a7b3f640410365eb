"""Whether the kernel's copy of a directory's listing may be used by the handle being opened, so that the
next `ls`, `find` or `grep -r` of an unchanged directory is answered by the kernel without asking wffs.

Every directory handle lets the kernel keep the listing (FOPEN_CACHE_DIR, see wffs/fuse_binding.py).  A
copy the kernel keeps has no timeout: it stays until a handle is opened without keep_cache, which makes
the kernel drop it and fill it again from that handle.  Every opendir still comes to wffs, so that is
where a change is caught: the copy is kept only if what it can hold is exactly the names wffs lists now.

The copy carries names only.  A listing read from wffs (readdirplus) also renews the attributes of every
entry in one go; from the copy, an entry whose attributes the kernel has dropped costs one request each.
The kernel drops them (or marks their access time stale) when a file is read from wffs, when a directory
is listed from wffs and when wffs invalidates them after a refresh: such a directory is "touched", and its
next handle fills the copy again instead, as does one whose copy is older than `keep_for` (less than the
entries' own cache time).  So a command run a second time still costs one readdirplus per directory whose
files it read; the third time, and every `find` and `ls` after a first, are answered by the kernel.

An empty listing is never kept: the kernel drops a copy by dropping its pages, and the copy of an empty
listing has none, so it would be served for as long as the kernel keeps the directory (see may_hold).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, FrozenSet, Hashable, Optional, Set, Tuple

Names = Tuple[Hashable, ...]


def may_hold(names: Names) -> bool:
    """Whether a handle listing these (names, directories) may fill the kernel's copy.  A copy is dropped
    when a handle opened without keep_cache drops the directory's pages; an empty listing's copy has no
    pages, and outlived every such handle (an empty suite that got tasks went on being listed empty)."""
    return bool(names[0])


class DirCache:
    def __init__(self, keep_for: float, clock: Callable[[], float] = time.monotonic):
        self.keep_for = keep_for
        self.clock = clock
        self._held: Dict[int, Tuple[FrozenSet[Names], float]] = {}  # inode -> listings its copy may hold, since
        self._open: Dict[int, Tuple[int, Names, Optional[int]]] = {}  # fh -> (inode, listing, parent's inode)
        self._touched: Set[int] = set()

    def opened(self, fh: int, inode: int, names: Names, parent: Optional[int] = None) -> bool:
        """A handle of directory `inode` (in directory `parent`) listing `names` is being opened: may it
        keep the kernel's copy (True), or must the kernel drop it and fill it from this handle (False)?"""
        now = self.clock()
        self._open[fh] = (inode, names, parent)
        held, since = self._held.get(inode, (frozenset(), now))
        if held <= {names} and now - since < self.keep_for and inode not in self._touched:
            self._held[inode] = (frozenset({names}), since)
            return True
        # The copy is filled again from this handle; a handle still open on another listing may also
        # (it may read from the start again), so its listing counts as held until it is closed.
        self._held[inode] = (frozenset(n for ino, n, _ in self._open.values() if ino == inode), now)
        self._touched.discard(inode)
        return False

    def touched(self, inode: int) -> None:
        """Attributes of entries of directory `inode` were dropped by the kernel: renew them at its next
        opendir (one readdirplus) rather than one by one."""
        if inode in self._held:  # else the kernel has no copy of its listing: it is filled anyway
            self._touched.add(inode)

    def listed(self, fh: int) -> None:
        """Handle `fh` reads its listing from wffs: the kernel drops the directory's access time, which
        its parent's listing renews."""
        opened = self._open.get(fh)
        if opened is not None and opened[2] is not None:
            self.touched(opened[2])

    def released(self, fh: int) -> None:
        self._open.pop(fh, None)
