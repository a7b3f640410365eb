"""Inode numbers for paths below the mount point, stable for the life of the mount: the kernel may hold
one for as long as it likes, and a refresh must find the inodes it has to invalidate by path."""

from __future__ import annotations

import errno
from typing import Optional

from wffs.fuse_binding import pyfuse3


class Inodes:
    """Stable inode numbers for path tuples below the mount point."""

    def __init__(self):
        self._by_path = {(): pyfuse3.ROOT_INODE}
        self._by_inode = {pyfuse3.ROOT_INODE: ()}

    def inode(self, path: tuple) -> int:
        ino = self._by_path.get(path)
        if ino is None:
            ino = len(self._by_inode) + pyfuse3.ROOT_INODE
            self._by_path[path] = ino
            self._by_inode[ino] = path
        return ino

    def known(self, path: tuple) -> Optional[int]:
        return self._by_path.get(path)

    def path(self, inode: int) -> tuple:
        try:
            return self._by_inode[inode]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None

    def parent(self, path: tuple) -> Optional[int]:
        """The inode of the directory holding `path`, if the kernel was told it (None for the root)."""
        return self.known(path[:-1]) if path else None
