#!/usr/bin/env python3
"""The FUSE floor for the benchmark: a minimal, static pyfuse3 file system serving a tree from memory.

    bench_floor.py SOURCE MOUNTPOINT [--timeout 60] [--counts FILE]

It reads the whole tree under SOURCE (names, attributes and file contents) into memory, mounts it read-only
on MOUNTPOINT and serves it until unmounted or signalled (SIGINT, SIGTERM, SIGHUP). It is what any Python
FUSE file system of wffs's shape costs on this kernel, with the choices wffs makes: pyfuse3 on trio,
readdirplus (every readdir entry carries its full attributes, so `ls -l` needs no getattr per entry), the
same 60 s entry and attribute timeouts, keep_cache on open, listings kept by the kernel (FOPEN_CACHE_DIR
through wffs/fuse_binding.py, when wffs/_dircache is built; here they never change), pyfuse3's own
loop (not wffs/_fastopen: every open and release goes through Python, as in any pyfuse3 file system),
the same mount options (pyfuse3's defaults without default_permissions), and only the operations a reader
needs. The benchmark divides wffs's times by this floor's: the ratio is what wffs itself adds.

--counts FILE: on SIGUSR1 and on exit, write how many times each operation was called so far (JSON).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import stat
import sys
import time
from collections import Counter

import trio

# pyfuse3's own loop reads the device: wffs/_fastopen serves a session only when asked (--fast-open)

from wffs.fuse_binding import CACHE_DIR_MARK, HANDLE_MARKS, KEEP_CACHE_MARK, pyfuse3  # noqa: E402

#: What wffs uses for everything that does not change without a state change (wffs/vfs.py CACHE_SECONDS).
CACHE_SECONDS = 60.0


class Tree:
    """Inodes, attributes, directory listings and contents of a tree, all in memory."""

    def __init__(self, source: str, timeout: float):
        self.timeout = timeout
        self.attrs: dict[int, pyfuse3.EntryAttributes] = {}
        self.children: dict[int, dict[bytes, int]] = {}  # directory inode -> name -> inode
        self.listing: dict[int, list[tuple[bytes, int]]] = {}  # directory inode -> entries in order
        self.data: dict[int, bytes] = {}
        self.files = self.dirs = self.bytes = 0
        self._next = pyfuse3.ROOT_INODE + 1
        self._load_dir(os.fsencode(source), pyfuse3.ROOT_INODE)

    def _attributes(self, st: os.stat_result, ino: int) -> pyfuse3.EntryAttributes:
        a = pyfuse3.EntryAttributes()
        a.st_ino = ino
        a.generation = 0
        a.st_mode = st.st_mode
        a.st_nlink = st.st_nlink
        a.st_uid, a.st_gid = st.st_uid, st.st_gid
        a.st_size = st.st_size if not stat.S_ISDIR(st.st_mode) else 0
        a.st_atime_ns, a.st_mtime_ns, a.st_ctime_ns = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        a.st_blksize = 4096
        a.st_blocks = (a.st_size + 511) // 512
        a.entry_timeout = a.attr_timeout = self.timeout
        return a

    def _load_dir(self, path: bytes, ino: int) -> None:
        self.attrs[ino] = self._attributes(os.lstat(path), ino)
        self.dirs += 1
        names: dict[bytes, int] = {}
        listing: list[tuple[bytes, int]] = []
        with os.scandir(path) as it:
            entries = list(it)
        for entry in entries:
            child = self._next
            self._next += 1
            names[entry.name] = child
            listing.append((entry.name, child))
            if entry.is_dir(follow_symlinks=False):
                self._load_dir(entry.path, child)
            else:
                st = entry.stat(follow_symlinks=False)
                with open(entry.path, "rb") as f:
                    self.data[child] = f.read()
                self.attrs[child] = self._attributes(st, child)
                self.files += 1
                self.bytes += len(self.data[child])
        self.children[ino] = names
        self.listing[ino] = listing


class FloorOps(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(self, tree: Tree):
        super().__init__()
        self.tree = tree
        self.calls: Counter = Counter()

    async def lookup(self, parent_inode, name, ctx=None):
        self.calls["lookup"] += 1
        ino = self.tree.children.get(parent_inode, {}).get(name)
        if ino is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self.tree.attrs[ino]

    async def getattr(self, inode, ctx=None):
        self.calls["getattr"] += 1
        try:
            return self.tree.attrs[inode]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None

    async def opendir(self, inode, ctx):
        self.calls["opendir"] += 1
        if inode not in self.tree.listing:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return inode | CACHE_DIR_MARK | KEEP_CACHE_MARK  # static: the kernel's copy is always good

    async def readdir(self, fh, start_id, token):
        self.calls["readdir"] += 1
        listing, attrs = self.tree.listing[fh & ~HANDLE_MARKS], self.tree.attrs
        for i in range(start_id, len(listing)):
            name, ino = listing[i]
            if not pyfuse3.readdir_reply(token, name, attrs[ino], i + 1):
                break

    async def releasedir(self, fh):
        self.calls["releasedir"] += 1

    async def open(self, inode, flags, ctx):
        self.calls["open"] += 1
        if inode not in self.tree.data:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise pyfuse3.FUSEError(errno.EROFS)
        return pyfuse3.FileInfo(fh=inode, keep_cache=True)

    async def read(self, fh, off, size):
        self.calls["read"] += 1
        return self.tree.data[fh][off:off + size]

    async def release(self, fh):
        self.calls["release"] += 1

    async def _flush(self, fh):  # only with --flush: what one more round trip per close() costs
        self.calls["flush"] += 1

    async def statfs(self, ctx):
        self.calls["statfs"] += 1
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_namemax = 255
        return s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("mountpoint")
    parser.add_argument("--timeout", type=float, default=CACHE_SECONDS, help="entry/attr timeouts (s)")
    parser.add_argument("--counts", help="write the operation counts here (JSON) on SIGUSR1 and on exit")
    parser.add_argument("--flush", action="store_true",
                        help="also implement flush (a no-op), as wffs does for its control files: one more kernel "
                             "round trip per close(), to measure what that costs")
    args = parser.parse_args(argv)

    started = time.monotonic()
    tree = Tree(args.source, args.timeout)
    print(f"bench_floor: {tree.dirs} directories, {tree.files} files, {tree.bytes} bytes loaded in "
          f"{time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)
    if args.flush:
        FloorOps.flush = FloorOps._flush
    ops = FloorOps(tree)
    options = set(pyfuse3.default_options) - {"default_permissions"}  # as wffs (wffs/mount.py)
    options |= {"fsname=bench-floor", "subtype=benchfloor"}

    def dump_counts():
        if args.counts:
            with open(args.counts + ".tmp", "w") as f:
                json.dump(dict(ops.calls), f)
            os.replace(args.counts + ".tmp", args.counts)

    async def run():
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1) as signals:
            pyfuse3.init(ops, args.mountpoint, options)
            try:
                async with trio.open_nursery() as nursery:
                    async def on_signal():
                        async for signum in signals:
                            if signum == signal.SIGUSR1:  # the counts so far, and go on
                                dump_counts()
                                continue
                            nursery.cancel_scope.cancel()
                            return
                    nursery.start_soon(on_signal)
                    await pyfuse3.main()
                    nursery.cancel_scope.cancel()  # unmounted from outside
            finally:
                pyfuse3.close(unmount=True)

    try:
        trio.run(run)
    finally:
        dump_counts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
