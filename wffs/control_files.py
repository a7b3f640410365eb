"""Writes, which only control files (<task>.mirror) take: who may write, and what a written line does.
Everything else is read-only (EROFS)."""

from __future__ import annotations

import errno

from wffs import layout
from wffs.fuse_binding import pyfuse3
from wffs.fuse_errors import errors
from wffs.handles import ControlWrite
from wffs.layout import Kind
from wffs.tree import Tree
from wffs.vfs import Entry


class ControlFiles:
    def __init__(self, tree: Tree, *, read_only: bool, uid: int):
        self.tree = tree
        self.read_only = read_only
        self.uid = uid

    def check_writer(self, ctx) -> None:
        if self.read_only:
            raise pyfuse3.FUSEError(errno.EROFS)
        if ctx is not None and ctx.uid not in (self.uid, 0):
            raise pyfuse3.FUSEError(errno.EACCES)  # control files act on the server: the owner's only

    def check_access(self, entry: Entry, ctx) -> None:
        """`test -w` and access(2) answer as a write would: EROFS except for control files (the owner's)."""
        if not entry.is_dir and entry.kind is not Kind.CONTROL:
            raise pyfuse3.FUSEError(errno.EROFS)
        self.check_writer(ctx)  # control files, and directories (<task>.mirror is created there)

    def check_create(self, path: tuple, ctx) -> None:
        if layout.split_extension(path[-1])[1] != layout.MIRROR:
            raise pyfuse3.FUSEError(errno.EROFS)
        self.check_writer(ctx)

    def open(self, path: tuple, kind: Kind, ctx) -> ControlWrite:
        if kind is not Kind.CONTROL:
            raise pyfuse3.FUSEError(errno.EROFS)
        self.check_writer(ctx)
        vfs, node = self.tree.control_node(path[:-1], path[-1])
        return ControlWrite(vfs.mirrors, node)

    async def write(self, pending: ControlWrite, off: int, buf: bytes) -> None:
        pending.add(off, buf)
        if pending.data.endswith(b"\n"):  # a whole line: apply now, so the writer sees EINVAL
            await self.apply(pending)

    async def apply(self, pending: ControlWrite) -> None:
        pending.applied = True
        with errors():
            await pending.mirrors.write(pending.node, pending.data.decode("utf-8", "replace"))

    async def released(self, pending: ControlWrite) -> None:
        if pending.written and not pending.applied:
            # a last line without its newline: applied now; release cannot fail, so a rejection is only
            # in .server/mirrors and the log
            try:
                await self.apply(pending)
            except pyfuse3.FUSEError:
                pass

    async def unlink(self, entry: Entry, ctx) -> None:
        if entry.kind is not Kind.CONTROL:
            raise pyfuse3.FUSEError(errno.EROFS)
        self.check_writer(ctx)
        await self.tree.vfs_of(entry).mirrors.clear(entry.node)

    def check_truncate(self, entry: Entry, attr, fields, ctx) -> None:
        """`> t.mirror` truncates first: fine, the write decides."""
        only_truncate = fields.update_size and attr.st_size == 0 and not (
            fields.update_mode or fields.update_uid or fields.update_gid)
        if entry.kind is not Kind.CONTROL or not only_truncate:
            raise pyfuse3.FUSEError(errno.EROFS)
        self.check_writer(ctx)
