"""What the kernel keeps of the mount, and when it must let it go.

Kernel caches are long (CACHE_SECONDS), and exactly the entries a refresh changed are invalidated; files
whose content changes without a state change (running jobs, .server/*) get short cache times.  Small
contents go to the page cache with their open (notify_store), and wffs/_fastopen may then answer the
next opens of those files; the kernel's copies of listings are kept as wffs/kept_listings.py decides.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Callable, Optional

import trio

from wffs import layout
from wffs.kept_listings import DirCache, may_hold
from wffs.fuse_binding import DIR_CACHE, FastOpens, pyfuse3
from wffs.inodes import Inodes
from wffs.layout import Kind
from wffs.vfs import CACHE_SECONDS, Entry

log = logging.getLogger(__name__)
#: Files up to this size are handed to the kernel's page cache when opened (see KernelCache.store).
STORE_MAX = 1 << 20


class StoredInodes:
    """The inodes whose content the kernel's page cache got from KernelCache.store and still holds as it
    was: a later open of one for reading needs nothing from wffs, so wffs/_fastopen answers it (while
    the mount is in use, see Operations._use) without Python."""

    def __init__(self, fast: FastOpens):
        self.fast = fast
        self._inodes: set[int] = set()

    def __contains__(self, inode: int) -> bool:
        return inode in self._inodes

    def add(self, inode: int) -> None:
        self._inodes.add(inode)
        self.fast.allow(inode)

    def discard(self, inode: int) -> None:
        if inode in self._inodes:
            self._inodes.discard(inode)
            self.fast.allow(inode, False)


def invalidate_inodes(inodes) -> None:
    for ino in inodes:
        try:
            pyfuse3.invalidate_inode(ino)
        except OSError as e:  # ENOENT: the kernel had already forgotten it
            if e.errno not in (errno.ENOENT,):
                log.debug("invalidate_inode %s: %s", ino, e)


async def invalidate_attrs(inode) -> None:
    await trio.to_thread.run_sync(invalidate_inodes, [inode])


class KernelCache:
    def __init__(self, inodes: Inodes, *, refresh: float, fast: FastOpens):
        self.inodes = inodes
        self.refresh = refresh
        self.fast = fast
        # whether the kernel's copy of a listing is good (when wffs/_dircache is loaded)
        self.dir_cache = DirCache(keep_for=CACHE_SECONDS - 10) if DIR_CACHE else None
        # inodes whose content the kernel's page cache got from `store`, until wffs drops it (a refresh
        # changed it) or a read shows the kernel let it go
        self.stored = StoredInodes(fast)
        self.reported: dict[int, int] = {}  # inode -> size last told to the kernel

    # ---- use of the mount: whether wffs/_fastopen answers ---------------------------------------------
    def in_use(self) -> None:
        self.fast.enable(True)

    def went_idle(self) -> None:
        self.fast.enable(False)

    def uses_elsewhere(self) -> int:
        return self.fast.opens()

    # ---- entries and attributes ----------------------------------------------------------------------
    def timeout(self, entry: Entry) -> float:
        """How long the kernel may keep an entry and its attributes."""
        if entry.size is None:  # not measured: the kernel must ask again before using it
            return 0.0
        if entry.volatile:
            return self.refresh
        return CACHE_SECONDS

    def told(self, inode: int, size: int) -> None:
        """The kernel was told this size of a file."""
        self.reported[inode] = size

    async def resized(self, inode: int, size: int) -> bool:
        """Whether the kernel holds another size of a file whose content of `size` bytes is being opened
        (told before a refresh whose invalidation has not reached it yet, or before the file was
        measured); if so, the open reads past it directly, and the kernel is made to forget it before
        the open returns, so that an fstat() of the new handle asks again (and tar, which reads st_size
        bytes, gets the size of what read() returns)."""
        if self.reported.get(inode, size) == size:
            return False
        self.reported[inode] = size
        self.stored.discard(inode)
        await invalidate_attrs(inode)
        return True

    # ---- contents: the page cache --------------------------------------------------------------------
    def store(self, inode: int, data: bytes, is_open: Callable[[int], bool]) -> None:
        """Hand a file's content to the kernel's page cache with its open, instead of in the reads that
        follow.  A read answered by wffs makes the kernel drop the file's access time, so the next fstat
        of it (grep's, tar's, on a second run) costs a getattr each; a stored page does not.  Once per
        content: again after a refresh changed it, or a read showed the kernel let it go; small files
        only; and only while no other handle of the file is open (`is_open`): a read in progress holds
        a page lock that the store would wait for, blocking the loop that answers that read."""
        if not data or len(data) > STORE_MAX or inode in self.stored:
            return
        if is_open(inode) or self.fast.held(inode):
            return
        try:
            pyfuse3.notify_store(inode, 0, data)
        except OSError as e:  # ENOENT: the kernel no longer knows the inode; the reads will fetch it
            log.debug("notify_store %s: %s", inode, e)
            return
        self.stored.add(inode)

    def page_cache_missed(self, inode: int) -> None:
        """A read of the file came to wffs: the kernel has let the stored content go (store it again),
        and it drops the file's access time."""
        self.stored.discard(inode)
        if self.dir_cache is not None:
            self.dir_cache.touched(self.inodes.parent(self.inodes.path(inode)))

    # ---- the kernel's copies of listings (see wffs/kept_listings.py) -------------------------------------
    def dir_opened(self, number: int, inode: int, names: tuple, parent: Optional[int]) -> Optional[bool]:
        """None: the kernel does not keep the listing a directory handle opens; True: it keeps it, and the
        copy it holds is good; False: it keeps it, filled again from this handle."""
        if self.dir_cache is None:
            return None
        keep = self.dir_cache.opened(number, inode, names, parent)
        return keep if may_hold(names) else None

    def dir_listed(self, number: int) -> None:
        if self.dir_cache is not None:
            self.dir_cache.listed(number)

    def dir_released(self, number: int) -> None:
        if self.dir_cache is not None:
            self.dir_cache.released(number)

    # ---- invalidation after a refresh ----------------------------------------------------------------
    async def invalidate(self, changed: list, vfs, prefix: tuple = ()) -> None:
        """Drop exactly what changed from the kernel caches: renamed or removed names, changed contents.
        `prefix` is where the server's layout (`vfs`) starts below the mount point."""
        entries, inodes, touched = [], [], set()
        for old, new in changed:
            node = old or new
            parent = prefix + vfs.components_of(node.path)[:-1]
            parent_ino = self.inodes.known(parent)
            if parent_ino is None:
                continue  # the kernel has never seen that directory
            old_names = {n.name for n in self._names(old)}
            new_names = {n.name for n in self._names(new)}
            for name in old_names | new_names:
                ino = self.inodes.known(parent + (name,))
                if ino is not None:  # (its reported size stays: until the kernel has forgotten it,
                    inodes.append(ino)  # an open must see that the content's size is new, see `resized`)
                    touched.add(parent_ino)
                    self.stored.discard(ino)  # the kernel drops its pages: the next open stores the new ones
                if name in old_names - new_names or ino is not None and name in new_names - old_names:
                    entries.append((parent_ino, name))  # gone, or a name the kernel knew for another entry
        for parent_ino, name in entries:
            pyfuse3.invalidate_entry_async(parent_ino, os.fsencode(name), ignore_enoent=True)
        if self.dir_cache is not None:  # their attributes come again with the next listing, in one go
            for parent_ino in touched:
                self.dir_cache.touched(parent_ino)
        if inodes:
            await trio.to_thread.run_sync(invalidate_inodes, inodes)

    @staticmethod
    def _names(node):
        if node is None:
            return []
        parent = node.path.rpartition("/")[0] or "/"
        names = layout.node_names(parent, node.name, is_task=node.is_task, state=node.state,
                                  suspended=node.suspended, task_files=node.files,
                                  has_children=bool(node.children), mirrored=bool(node.mirror))
        # its directory may be listed with CLASH_MARK: drop that name too
        return names + [layout.Name(n.name + layout.CLASH_MARK, n.kind, n.node) for n in names if n.kind is Kind.DIR]
