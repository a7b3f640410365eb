"""Which directory handles may let the kernel keep their listing, so that the next `ls`, `find` or
`grep -r` of an unchanged directory is answered by the kernel without asking wffs.

A listing the kernel keeps (FOPEN_CACHE_DIR, see wffs/fuse_binding.py) has no timeout: it stays until
a handle is opened without keep_cache, which makes the kernel drop it.  Every opendir still comes to wffs,
so that is where a change is caught: a handle may use the kernel's listing only if what the kernel can
hold for that directory is exactly the names wffs lists now; otherwise the handle is opened uncached
(the kernel drops what it held) and reads the listing from wffs.

The kernel's listing carries names only; the attributes and name lookups that a readdirplus filled
expire after their own timeouts.  So a kept listing is used for `keep_for` seconds from when it was
filled (less than those timeouts), then dropped once and filled again by a readdirplus, which renews
them in one go instead of one lookup per name.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, FrozenSet, Hashable, Set, Tuple

Names = Tuple[Hashable, ...]


class DirCache:
    def __init__(self, keep_for: float, clock: Callable[[], float] = time.monotonic):
        self.keep_for = keep_for
        self.clock = clock
        self._held: Dict[int, Tuple[FrozenSet[Names], float]] = {}  # inode -> listings it may hold, since
        self._open: Dict[int, Tuple[int, Names]] = {}  # fh -> (inode, listing) of open cached handles

    def opened(self, fh: int, inode: int, names: Names) -> bool:
        """A handle of directory `inode` listing `names` is being opened: may it use the kernel's cache?"""
        now = self.clock()
        held, since = self._held.get(inode, (frozenset(), now))
        if held <= {names} and now - since < self.keep_for:
            self._held[inode] = (frozenset({names}), since if held else now)
            self._open[fh] = (inode, names)
            return True
        # Opened uncached, the handle makes the kernel drop the listing; a cached handle still open may
        # fill it again with the listing it holds, so that one counts as held until it is closed.
        still: Set[Names] = {n for ino, n in self._open.values() if ino == inode}
        if still:
            self._held[inode] = (frozenset(still), now)
        else:
            self._held.pop(inode, None)
        return False

    def released(self, fh: int) -> None:
        self._open.pop(fh, None)
