"""`wffs` with a record of the directory requests the kernel sent: for tests of what the kernel keeps.

    python -m tests.integration.counting_cli RECORD mount ...

Each opendir, and each readdir from a listing's start (one per listing read from wffs), appends a line to
RECORD: "opendir s/f" or "readdir s/f".

    python -m tests.integration.counting_cli RECORD --no-entry-notices mount ...

also keeps wffs from telling the kernel which names a refresh removed (as when the kernel has no dentry
for them), so that only wffs's check at opendir keeps a changed listing from being served from the kernel.
"""

from __future__ import annotations

import sys

from wffs import cli, fuse_ops
from wffs.fuse_binding import pyfuse3


def record(path: str) -> None:
    ops = fuse_ops.Operations
    opendir, readdir = ops.opendir, ops.readdir

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

    ops.opendir, ops.readdir = counted_opendir, counted_readdir


if __name__ == "__main__":
    record(sys.argv.pop(1))
    if sys.argv[1] == "--no-entry-notices":
        del sys.argv[1]
        pyfuse3.invalidate_entry_async = lambda *args, **kwargs: None
    sys.argv[0] = "wffs"
    cli.main()
