"""`wffs` with a record of some requests the kernel sent: for tests of what the kernel keeps.

    python -m tests.integration.counting_cli RECORD [--no-entry-notices] mount ...

Each opendir, each readdir from a listing's start (one per listing read from wffs), each getattr, each open
that reaches wffs's Python code (not those wffs/_fastopen answers) and each read appends a line to
RECORD: "opendir s/f", "readdir s/f", "getattr s/f/a.att", "open s/f/a.att", "read s/f/a.att".
--no-entry-notices keeps wffs from telling the kernel which names a refresh removed (as when the kernel
has no dentry for them), so that only wffs's check at opendir keeps a changed listing from being served
from the kernel's copy.
"""

from __future__ import annotations

import sys

from wffs import cli, fuse_ops
from wffs.fuse_binding import FAST_MARK, pyfuse3


def record(path: str) -> None:
    ops = fuse_ops.Operations
    opendir, readdir, getattr_, open_, read = ops.opendir, ops.readdir, ops.getattr, ops.open, ops.read

    def note(what: str, where: tuple) -> None:
        with open(path, "a") as f:
            f.write(f"{what} {'/'.join(where)}\n")

    async def counted_opendir(self, inode, ctx):
        fh = await opendir(self, inode, ctx)
        note("opendir", self.inodes.path(inode))
        return fh

    async def counted_readdir(self, fh, start_id, token):
        listing = self._dirs.get(fh) or [(None, None, ("?",), None)]
        if start_id == 0:
            note("readdir", listing[0][2][:-1])
        return await readdir(self, fh, start_id, token)

    async def counted_getattr(self, inode, ctx=None):
        note("getattr", self.inodes.path(inode))
        return await getattr_(self, inode, ctx)

    async def counted_open(self, inode, flags, ctx):
        note("open", self.inodes.path(inode))
        return await open_(self, inode, flags, ctx)

    async def counted_read(self, fh, off, size):
        opened = self._opened.get(fh)
        inode = fh & ~FAST_MARK if fh & FAST_MARK else opened[0] if opened else None
        note("read", self.inodes.path(inode) if inode is not None else ("?",))
        return await read(self, fh, off, size)

    ops.opendir, ops.readdir, ops.getattr, ops.read = counted_opendir, counted_readdir, counted_getattr, counted_read
    ops.open = counted_open


if __name__ == "__main__":
    record(sys.argv.pop(1))
    if sys.argv[1] == "--no-entry-notices":
        del sys.argv[1]
        pyfuse3.invalidate_entry_async = lambda *args, **kwargs: None
    sys.argv[0] = "wffs"
    cli.main()
