"""What stat() says of an entry, and for how long the kernel may keep it (see KernelCache.timeout)."""

from __future__ import annotations

import os
import stat
import time

from wffs import layout
from wffs.fuse_binding import pyfuse3
from wffs.inodes import Inodes
from wffs.kernel_cache import KernelCache
from wffs.layout import Kind
from wffs.vfs import Entry


class Attributes:
    def __init__(self, inodes: Inodes, cache: KernelCache, *, read_only: bool):
        self.inodes = inodes
        self.cache = cache
        self.read_only = read_only
        self.uid, self.gid = os.getuid(), os.getgid()
        self.mount_time = time.time()

    def of(self, path: tuple, entry: Entry, told: bool = True) -> pyfuse3.EntryAttributes:
        """The attributes of an entry; `told`: they go to the kernel now (else readdir records it)."""
        a = pyfuse3.EntryAttributes()
        a.st_ino = self.inodes.inode(path)
        a.generation = 0
        if entry.kind is Kind.DIR:
            a.st_mode = stat.S_IFDIR | 0o555
            a.st_nlink = 2
            a.st_size = 0
        else:  # the owner may write control files; wffs itself checks every write (no default_permissions)
            writable = entry.kind is Kind.CONTROL and not self.read_only
            a.st_mode = stat.S_IFREG | (0o644 if writable else 0o444)
            a.st_nlink = 1
            # not measured now: keep what the kernel was told last, so that a listing read while another
            # process reads the file cannot make the kernel cut that read at a size of 0
            a.st_size = self.cache.reported.get(a.st_ino, 0) if entry.size is None else entry.size
        timeout = self.cache.timeout(entry)
        a.entry_timeout = timeout
        a.attr_timeout = timeout
        a.st_uid, a.st_gid = self.uid, self.gid
        mtime_ns = int((entry.mtime or self.mount_time) * 1e9)
        a.st_mtime_ns = a.st_ctime_ns = a.st_atime_ns = mtime_ns
        a.st_blksize = 4096
        a.st_blocks = (a.st_size + 511) // 512
        if told and entry.size is not None and entry.kind is not Kind.DIR:
            self.cache.told(a.st_ino, entry.size)
        return a

    def pinned(self, path: tuple, pinned: Entry) -> pyfuse3.EntryAttributes:
        """The size of the content a handle opened just now holds, where a refresh changed the file since:
        the fstat() that follows an open (tar's, before it reads st_size bytes) must describe what that
        handle's read() returns.  (pyfuse3 does not say which handle a getattr comes through.)  Not kept by
        the kernel: the next stat asks again."""
        a = self.of(path, pinned)
        a.attr_timeout = a.entry_timeout = 0.0
        return a

    def new_control(self, path: tuple) -> pyfuse3.EntryAttributes:
        """A control file being created: empty, and not cached, since it is listed only once accepted."""
        attrs = self.of(path, Entry(path[-1], Kind.CONTROL, "", layout.MIRROR, 0, time.time()))
        attrs.entry_timeout = attrs.attr_timeout = 0
        return attrs

    def root_entry(self) -> Entry:
        return Entry("", Kind.DIR, "/", "", 0, self.mount_time)
