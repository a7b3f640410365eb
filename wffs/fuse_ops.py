"""The thin FUSE adapter (pyfuse3): each handler asks the parts that know and answers the kernel.

Everything about names and contents is asked of the Tree (the Vfs of each server); inode numbers are
in wffs/inodes.py, open handles in wffs/handles.py, attributes in wffs/attributes.py, what the kernel
keeps and when it must forget it in wffs/kernel_cache.py, listings in wffs/listings.py, writes to
control files in wffs/control_files.py and errno mapping in wffs/fuse_errors.py.
"""

from __future__ import annotations

import errno
import os
from typing import Optional

from wffs.attributes import Attributes
from wffs.control_files import ControlFiles
from wffs.fuse_binding import (CACHE_DIR_MARK, FAST_MARK, FAST_OPENS, HANDLE_MARKS, KEEP_CACHE_MARK, FastOpens,
                               pyfuse3)
from wffs.fuse_errors import errors
from wffs.handles import ControlWrite, Handles, directory_number, fast_inode
from wffs.inodes import Inodes
from wffs.kernel_cache import STORE_MAX, KernelCache, StoredInodes, invalidate_attrs, invalidate_inodes
from wffs.layout import Kind
from wffs.listings import Listings
from wffs.tree import Tree
from wffs.vfs import CACHE_SECONDS, Entry, NotFound

__all__ = ["Operations", "NAME_MAX", "WRITE_FLAGS", "CACHE_SECONDS", "STORE_MAX", "Inodes", "StoredInodes",
           "ControlWrite", "errors", "invalidate_inodes", "invalidate_attrs",
           "CACHE_DIR_MARK", "KEEP_CACHE_MARK", "HANDLE_MARKS", "FAST_MARK"]

NAME_MAX = 255  # what statfs says
#: Flags of an open() that would change a file: only control files take them.
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND


class Operations(pyfuse3.Operations):
    """pyfuse3's handlers; attributes `tree`, `refreshers`, `uses_elsewhere`, `went_idle`, `invalidate` and
    the listing builders are what wffs/mount.py wires."""

    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(self, tree: Tree, *, refresh: float, read_only: bool = False, fast: FastOpens = FAST_OPENS):
        super().__init__()
        self.tree = tree
        self.refresh = refresh
        self.read_only = read_only
        self.refreshers = []  # one per server, woken by any use of the mount
        self.inodes = Inodes()
        self.handles = Handles()
        self.cache = KernelCache(self.inodes, refresh=refresh, fast=fast)
        self.attributes = Attributes(self.inodes, self.cache, read_only=read_only)
        self.listings = Listings(tree, self.attributes.of)
        self.controls = ControlFiles(tree, read_only=read_only, uid=self.attributes.uid)

    # what tests/integration/counting_cli.py and tests/unit/test_mount.py read, by their former names
    _dirs = property(lambda self: self.handles.listings)
    _opened = property(lambda self: self.handles.files)
    _listings = property(lambda self: self.listings.held)

    # ---- use of the mount ----------------------------------------------------------------------------
    async def _use(self):
        for refresher in self.refreshers:
            if refresher.use():
                await refresher.fresh()
        self.cache.in_use()  # every refresher polls now: the kernel's copies are kept fresh

    def uses_elsewhere(self) -> int:
        """How many opens wffs/_fastopen answered so far: uses of the mount that _use does not see."""
        return self.cache.uses_elsewhere()

    def went_idle(self) -> None:
        """A refresher stopped polling: the next open must reach _use, which waits for a fresh view."""
        self.cache.went_idle()

    async def _entry(self, path: tuple) -> Entry:
        if not path:
            return self.attributes.root_entry()
        return await self.tree.lookup(path[:-1], path[-1])

    # ---- read operations -----------------------------------------------------------------------------
    async def lookup(self, parent_inode, name, ctx=None):
        await self._use()
        if len(name) > NAME_MAX:
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            return self.attributes.of(path, await self._entry(path))

    async def getattr(self, inode, ctx=None):
        with errors():
            path = self.inodes.path(inode)
            try:
                entry = await self._entry(path)
                unread = self.handles.unread(inode)
                if unread is not None and unread.entry.size != entry.size:
                    return self.attributes.pinned(path, unread.entry)
                return self.attributes.of(path, entry)
            except NotFound:
                held = self.handles.entries_open(inode)
                if held:  # renamed by a state change since it was opened: fstat answers for the open file
                    return self.attributes.of(path, held[-1])
                if not self.handles.creating(path):
                    raise
                return self.attributes.new_control(path)  # created, not yet accepted by the server

    async def access(self, inode, mode, ctx):
        """`test -w` and access(2) answer as a write would: EROFS except for control files (the owner's)."""
        if mode & os.W_OK:
            with errors():
                self.controls.check_access(await self._entry(self.inodes.path(inode)), ctx)
        return True

    async def opendir(self, inode, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(inode)
            fh = self.handles.new()
            rows, names = self.listings.listing(path)
            kept = self.cache.dir_opened(fh, inode, names, self.inodes.parent(path))
            return self.handles.open_dir(fh, rows, kept)

    def want_listings(self, top: tuple = ()) -> None:
        """Ask for the listings below `top` to be built soon (a refresh changed something there)."""
        self.listings.want(top)

    async def build_listings(self) -> None:
        """For the life of the mount: build the listings asked for (see Listings.build)."""
        await self.listings.build()

    async def build_wanted_listings(self) -> None:
        """Build the listings asked for so far, now."""
        await self.listings.build_wanted()

    async def readdir(self, fh, start_id, token):
        rows = self.handles.listings.get(fh, ())
        if start_id == 0:
            self.cache.dir_listed(directory_number(fh))
        for i in range(start_id, len(rows)):
            name, attrs, path, entry = rows[i]
            if attrs is None:
                attrs = self.attributes.of(path, entry)
            elif entry.kind is not Kind.DIR:
                self.cache.told(attrs.st_ino, attrs.st_size)  # what the kernel is told now
            if not pyfuse3.readdir_reply(token, name, attrs, i + 1):
                break

    async def releasedir(self, fh):
        self.handles.release_dir(fh)
        self.cache.dir_released(directory_number(fh))

    async def open(self, inode, flags, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(inode)
            # status files, .att and the files read ahead (a backup, `grep -r`, `tar`): no further lookup
            found = None if flags & WRITE_FLAGS else self.tree.cached_file(path)
            if found is not None:
                return await self._open_content(inode, *found)
            entry = await self._entry(path)
            if entry.is_dir:
                raise IsADirectoryError(path)
            if flags & WRITE_FLAGS:
                return self._open_control(path, entry.kind, ctx)
            if entry.kind is Kind.EVENTS:  # read as it grows (tail -f), never pinned
                return pyfuse3.FileInfo(fh=self.handles.open_log(self.tree.event_log(entry)), direct_io=True)
            return await self._open_content(inode, entry, await self.tree.content(entry))

    async def _open_content(self, inode: int, entry: Entry, data: bytes) -> pyfuse3.FileInfo:
        resized = await self.cache.resized(inode, len(data))  # then read past the size the kernel holds
        if not (entry.volatile or resized):
            self.cache.store(inode, data, self.handles.is_open)
        fh = self.handles.open_file(inode, entry, data)
        return pyfuse3.FileInfo(fh=fh, keep_cache=not entry.volatile, direct_io=resized)

    async def read(self, fh, off, size):
        events = self.handles.logs.get(fh)
        if events is not None:
            return events.read(off, size)
        inode = fast_inode(fh)
        if inode is not None:  # opened by wffs/_fastopen, and the kernel has let the stored pages go
            self.cache.page_cache_missed(inode)
            return (await self._stored_content(inode))[off:off + size]
        opened = self.handles.files.get(fh)
        if opened is None:
            return b""
        self.handles.read_begun(fh)  # read from wffs, not from the page cache (see KernelCache.store)
        self.cache.page_cache_missed(opened.inode)
        return opened.data[off:off + size]

    async def _stored_content(self, inode: int) -> bytes:
        """The content of a file opened by wffs/_fastopen: what was stored, which has not changed
        since the open, unless a refresh changed it since (then the new one, as with a local file that
        is rewritten while it is read)."""
        with errors():
            path = self.inodes.path(inode)
            found = self.tree.cached_file(path)
            if found is not None:
                return found[1]
            return await self.tree.content(await self._entry(path))

    async def statfs(self, ctx):
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_namemax = NAME_MAX
        return s

    # ---- writes: only to control files (<task>.mirror); everything else is read-only -----------------
    async def _read_only(self, *args, **kwargs):
        raise pyfuse3.FUSEError(errno.EROFS)

    mkdir = mknod = rmdir = rename = symlink = link = setxattr = removexattr = _read_only

    def _open_control(self, path: tuple, kind: Kind, ctx, created: Optional[tuple] = None) -> pyfuse3.FileInfo:
        pending = self.controls.open(path, kind, ctx)
        pending.created = created
        return pyfuse3.FileInfo(fh=self.handles.open_control(pending), direct_io=True)

    async def create(self, parent_inode, name, mode, flags, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            self.controls.check_create(path, ctx)
            info = self._open_control(path, Kind.CONTROL, ctx, created=path)
            return info, self.attributes.new_control(path)

    async def write(self, fh, off, buf):
        pending = self.handles.controls.get(fh)
        if pending is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        await self.controls.write(pending, off, buf)
        return len(buf)

    async def flush(self, fh):
        """Every close() of every file would come here, a round trip each; wffs needs nothing from it,
        so the kernel is told so once (ENOSYS) and stops asking."""
        raise pyfuse3.FUSEError(errno.ENOSYS)

    async def release(self, fh):
        pending = self.handles.release(fh)
        if pending is not None:
            await self.controls.released(pending)

    async def unlink(self, parent_inode, name, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            await self.controls.unlink(await self._entry(path), ctx)

    async def setattr(self, inode, attr, fields, fh, ctx):
        with errors():
            path = self.inodes.path(inode)
            entry = await self._entry(path)
            self.controls.check_truncate(entry, attr, fields, ctx)
            return self.attributes.of(path, entry)

    # ---- invalidation after a refresh ----------------------------------------------------------------
    async def invalidate(self, changed: list, vfs, prefix: tuple = ()) -> None:
        """Drop exactly what changed from the kernel caches (see KernelCache.invalidate)."""
        await self.cache.invalidate(changed, vfs, prefix)
