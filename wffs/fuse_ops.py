"""The thin FUSE adapter (pyfuse3): inodes, attributes, errno mapping and kernel cache invalidation.

Everything about names and contents is asked of the Vfs.  Inode numbers are stable per path for the
life of the mount.  Kernel caches are long (CACHE_SECONDS) and exactly the entries a refresh changed
are invalidated; files whose content changes without a state change (running jobs, .server/*) get
short cache times.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from typing import Optional

import trio

from wffs import layout
from wffs.dir_cache import DirCache, may_hold
from wffs.fuse_binding import (CACHE_DIR_MARK, DIR_CACHE, FAST_MARK, FAST_OPENS, HANDLE_MARKS,
                               KEEP_CACHE_MARK, FastOpens, pyfuse3)
from wffs.backend.base import ContentInexact, NotProvided, ServerUnavailable
from wffs.layout import Kind
from wffs.mirror_line import MirrorLineError
from wffs.tree import Tree
from wffs.vfs import CACHE_SECONDS, Entry, InvalidControl, NotADir, NotFound

log = logging.getLogger(__name__)
NAME_MAX = 255  # what statfs says



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


class StoredInodes:
    """The inodes whose content the kernel's page cache got from Operations._store and still holds as it
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


#: Flags of an open() that would change a file: only control files take them.
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND
#: Files up to this size are handed to the kernel's page cache when opened (see Operations._store).
STORE_MAX = 1 << 20


class Operations(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False

    def __init__(self, tree: Tree, *, refresh: float, read_only: bool = False, fast: FastOpens = FAST_OPENS):
        super().__init__()
        self.fast = fast
        self.read_only = read_only
        self._writes: dict[int, ControlWrite] = {}
        self._creating: dict[int, tuple] = {}  # fh -> path of a control file created through it
        self.tree = tree
        self.refreshers = []  # one per server, woken by any use of the mount
        self.refresh = refresh
        self.inodes = Inodes()
        self.uid, self.gid = os.getuid(), os.getgid()
        self.mount_time = time.time()
        self._dirs: dict[int, list] = {}  # fh -> listing of an open directory
        # path -> (the Vfs's entries, their names and attributes, the names the kernel's copy holds)
        self._listings: dict[tuple, tuple] = {}
        # whether the kernel's copy of a listing is good (when wffs/_dircache is loaded)
        self.dir_cache = DirCache(keep_for=CACHE_SECONDS - 10) if DIR_CACHE else None
        # inodes whose content the kernel's page cache got from _store, until wffs drops it (a refresh
        # changed it) or a read shows the kernel let it go
        self._stored = StoredInodes(fast)
        self._stale_tops: set = set()  # where listings are to be built (see build_listings)
        self._listings_wanted = trio.Event()
        self._files: dict[int, bytes] = {}
        self._opened: dict[int, tuple] = {}  # fh -> (inode, entry with the size of the content pinned)
        self._unread: dict[int, int] = {}  # inode -> its newest handle, until that handle's first read
        self._logs: dict = {}  # fh -> EventLog
        self._reported: dict[int, int] = {}  # inode -> size last told to the kernel
        self._next_fh = 1

    # ---- helpers ---------------------------------------------------------------------------------
    async def _use(self):
        for refresher in self.refreshers:
            if refresher.use():
                await refresher.fresh()
        self.fast.enable(True)  # every refresher polls now: the kernel's copies are kept fresh

    def uses_elsewhere(self) -> int:
        """How many opens wffs/_fastopen answered so far: uses of the mount that _use does not see."""
        return self.fast.opens()

    def went_idle(self) -> None:
        """A refresher stopped polling: the next open must reach _use, which waits for a fresh view."""
        self.fast.enable(False)

    def _attrs(self, path: tuple, entry: Entry, told: bool = True) -> pyfuse3.EntryAttributes:
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
            a.st_size = self._reported.get(a.st_ino, 0) if entry.size is None else entry.size
        if entry.size is None:  # not measured: the kernel must ask again before using it
            timeout = 0.0
        elif entry.volatile:
            timeout = self.refresh
        else:
            timeout = CACHE_SECONDS
        a.entry_timeout = timeout
        a.attr_timeout = timeout
        a.st_uid, a.st_gid = self.uid, self.gid
        mtime_ns = int((entry.mtime or self.mount_time) * 1e9)
        a.st_mtime_ns = a.st_ctime_ns = a.st_atime_ns = mtime_ns
        a.st_blksize = 4096
        a.st_blocks = (a.st_size + 511) // 512
        if told and entry.size is not None and entry.kind is not Kind.DIR:
            self._reported[a.st_ino] = entry.size
        return a

    def _root_entry(self) -> Entry:
        return Entry("", Kind.DIR, "/", "", 0, self.mount_time)

    async def _entry(self, path: tuple) -> Entry:
        if not path:
            return self._root_entry()
        return await self.tree.lookup(path[:-1], path[-1])

    # ---- read operations -------------------------------------------------------------------------
    async def lookup(self, parent_inode, name, ctx=None):
        await self._use()
        if len(name) > NAME_MAX:
            raise pyfuse3.FUSEError(errno.ENAMETOOLONG)
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            return self._attrs(path, await self._entry(path))

    async def getattr(self, inode, ctx=None):
        with errors():
            path = self.inodes.path(inode)
            try:
                entry = await self._entry(path)
                pinned = self._opened.get(self._unread.get(inode))
                if pinned is not None and pinned[1].size != entry.size:
                    return self._pinned_attrs(path, pinned[1])
                return self._attrs(path, entry)
            except NotFound:
                held = [entry for ino, entry in self._opened.values() if ino == inode]
                if held:  # renamed by a state change since it was opened: fstat answers for the open file
                    return self._attrs(path, held[-1])
                if path not in self._creating.values():
                    raise
                return self._new_control_attrs(path)  # created, not yet accepted by the server

    def _pinned_attrs(self, path: tuple, pinned: Entry) -> pyfuse3.EntryAttributes:
        """The size of the content a handle opened just now holds, where a refresh changed the file since:
        the fstat() that follows an open (tar's, before it reads st_size bytes) must describe what that
        handle's read() returns.  (pyfuse3 does not say which handle a getattr comes through.)  Not kept by
        the kernel: the next stat asks again."""
        a = self._attrs(path, pinned)
        a.attr_timeout = a.entry_timeout = 0.0
        return a

    async def access(self, inode, mode, ctx):
        """`test -w` and access(2) answer as a write would: EROFS except for control files (the owner's)."""
        if mode & os.W_OK:
            with errors():
                entry = await self._entry(self.inodes.path(inode))
                if not entry.is_dir and entry.kind is not Kind.CONTROL:
                    raise pyfuse3.FUSEError(errno.EROFS)
                self._check_writer(ctx)  # control files, and directories (<task>.mirror is created there)
        return True

    async def opendir(self, inode, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(inode)
            fh = self._new_fh()
            listing, names = self._listing(path)
            if self.dir_cache is not None:  # the kernel keeps the listing (see wffs/dir_cache.py)
                keep = self.dir_cache.opened(fh, inode, names, self._parent_inode(path))
                if may_hold(names):
                    fh |= CACHE_DIR_MARK | (KEEP_CACHE_MARK if keep else 0)
            self._dirs[fh] = listing
            return fh

    def _listing(self, path: tuple) -> tuple:
        """(name, attributes, path, entry) of a directory's entries, built once per listing the Vfs hands
        out; attributes None for entries not measured yet (made at each readdir, see _attrs); and what
        the kernel's copy of the listing holds: the names, and which of them are directories."""
        entries = self.tree.listdir(path)
        held = self._listings.get(path)
        if held is not None and held[0] is entries:
            return held[1], held[2]
        listing = []
        for e in entries:
            child = path + (e.name,)
            attrs = None if e.size is None else self._attrs(child, e, told=False)
            listing.append((e.name.encode("utf-8", "surrogateescape"), attrs, child, e))
        names = (tuple(e.name for e in entries), tuple(e.name for e in entries if e.is_dir))
        self._listings[path] = (entries, listing, names)
        return listing, names

    def want_listings(self, top: tuple = ()) -> None:
        """Ask for the listings below `top` to be built soon (a refresh changed something there)."""
        self._stale_tops.add(top)
        self._listings_wanted.set()

    async def build_listings(self) -> None:
        """For the life of the mount: build the listings asked for, one directory per scheduler turn, so
        that the first `find` or `ls -lR` after a mount or a change finds them ready (as a static file
        system has them) while the mount answers meanwhile."""
        while True:
            await self._listings_wanted.wait()
            self._listings_wanted = trio.Event()
            await self.build_wanted_listings()

    async def build_wanted_listings(self) -> None:
        """Build the listings asked for so far, now."""
        tops, self._stale_tops = self._stale_tops, set()
        for top in tops:
            await self._build_below(top)

    async def _build_below(self, top: tuple) -> None:
        todo = [top]
        while todo:
            path = todo.pop()
            try:
                entries = self.tree.listdir(path)
                self._listing(path)
            except (NotFound, NotADir):
                continue
            except Exception:  # a bug here must not take the mount down: the listing is built when opened
                log.exception("building the listing of %s", "/".join(path))
                continue
            todo.extend(path + (e.name,) for e in entries if e.is_dir and e.name != layout.SERVER_DIR)
            await trio.sleep(0)

    async def readdir(self, fh, start_id, token):
        listing = self._dirs.get(fh, ())
        if start_id == 0 and self.dir_cache is not None:
            self.dir_cache.listed(fh & ~HANDLE_MARKS)
        for i in range(start_id, len(listing)):
            name, attrs, path, entry = listing[i]
            if attrs is None:
                attrs = self._attrs(path, entry)
            elif entry.kind is not Kind.DIR:
                self._reported[attrs.st_ino] = attrs.st_size  # what the kernel is told now
            if not pyfuse3.readdir_reply(token, name, attrs, i + 1):
                break

    async def releasedir(self, fh):
        self._dirs.pop(fh, None)
        if self.dir_cache is not None:
            self.dir_cache.released(fh & ~HANDLE_MARKS)

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
                fh = self._new_fh()
                self._logs[fh] = self.tree.event_log(entry)
                return pyfuse3.FileInfo(fh=fh, direct_io=True)
            return await self._open_content(inode, entry, await self.tree.content(entry))

    async def _open_content(self, inode: int, entry: Entry, data: bytes) -> pyfuse3.FileInfo:
        resized = self._reported.get(inode, len(data)) != len(data)
        if resized:
            # The kernel holds an older size (told before a refresh whose invalidation has not reached it
            # yet, or before the file was measured): read past it directly, and make it forget it before
            # this open returns, so that an fstat() of the new handle asks again (and tar, which reads
            # st_size bytes, gets the size of what read() returns).
            self._reported[inode] = len(data)
            self._stored.discard(inode)
            await invalidate_attrs(inode)
        if not (entry.volatile or resized):
            self._store(inode, data)
        fh = self._new_fh()
        self._files[fh] = data  # one consistent content for the life of this handle
        self._opened[fh] = (inode, entry if entry.size == len(data) else entry._replace(size=len(data)))
        self._unread[inode] = fh
        return pyfuse3.FileInfo(fh=fh, keep_cache=not entry.volatile, direct_io=resized)

    def _store(self, inode: int, data: bytes) -> None:
        """Hand a file's content to the kernel's page cache with its open, instead of in the reads that
        follow.  A read answered by wffs makes the kernel drop the file's access time, so the next fstat
        of it (grep's, tar's, on a second run) costs a getattr each; a stored page does not.  Once per
        content: again after a refresh changed it, or a read showed the kernel let it go; small files
        only; and only while no other handle of the file is open: a read in progress holds a page lock
        that the store would wait for, blocking the loop that answers that read."""
        if not data or len(data) > STORE_MAX or inode in self._stored:
            return
        if any(ino == inode for ino, _ in self._opened.values()) or self.fast.held(inode):
            return
        try:
            pyfuse3.notify_store(inode, 0, data)
        except OSError as e:  # ENOENT: the kernel no longer knows the inode; the reads will fetch it
            log.debug("notify_store %s: %s", inode, e)
            return
        self._stored.add(inode)

    async def read(self, fh, off, size):
        log = self._logs.get(fh)
        if log is not None:
            return log.read(off, size)
        if fh & FAST_MARK:  # opened by wffs/_fastopen, and the kernel has let the stored pages go
            inode = fh & ~FAST_MARK
            self._page_cache_missed(inode)
            return (await self._stored_content(inode))[off:off + size]
        opened = self._opened.get(fh)
        if opened is not None:  # read from wffs, not from the page cache (see _store):
            self._read_begun(fh)
            self._page_cache_missed(opened[0])
        return self._files.get(fh, b"")[off:off + size]

    def _page_cache_missed(self, inode: int) -> None:
        self._stored.discard(inode)  # the kernel has let the stored content go: store it again
        if self.dir_cache is not None:  # and it drops the file's access time
            self.dir_cache.touched(self._parent_inode(self.inodes.path(inode)))

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

    def _parent_inode(self, path: tuple) -> Optional[int]:
        return self.inodes.known(path[:-1]) if path else None

    def _read_begun(self, fh: int) -> None:
        """A handle's reader has had its fstat: getattr answers for the file again (see _pinned_attrs)."""
        opened = self._opened.get(fh)
        if opened is not None and self._unread.get(opened[0]) == fh:
            del self._unread[opened[0]]

    async def statfs(self, ctx):
        s = pyfuse3.StatvfsData()
        s.f_bsize = s.f_frsize = 4096
        s.f_namemax = NAME_MAX
        return s

    def _new_fh(self) -> int:
        self._next_fh += 1
        return self._next_fh

    # ---- writes: only to control files (<task>.mirror); everything else is read-only ----------------
    async def _read_only(self, *args, **kwargs):
        raise pyfuse3.FUSEError(errno.EROFS)

    mkdir = mknod = rmdir = rename = symlink = link = setxattr = removexattr = _read_only

    def _check_writer(self, ctx) -> None:
        if self.read_only:
            raise pyfuse3.FUSEError(errno.EROFS)
        if ctx is not None and ctx.uid not in (self.uid, 0):
            raise pyfuse3.FUSEError(errno.EACCES)  # control files act on the server: the owner's only

    def _open_control(self, path: tuple, kind: Kind, ctx):
        if kind is not Kind.CONTROL:
            raise pyfuse3.FUSEError(errno.EROFS)
        self._check_writer(ctx)
        vfs, node = self.tree.control_node(path[:-1], path[-1])
        fh = self._new_fh()
        self._writes[fh] = ControlWrite(vfs.mirrors, node)
        return pyfuse3.FileInfo(fh=fh, direct_io=True)

    async def create(self, parent_inode, name, mode, flags, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            if layout.split_extension(path[-1])[1] != layout.MIRROR:
                raise pyfuse3.FUSEError(errno.EROFS)
            self._check_writer(ctx)
            info = self._open_control(path, Kind.CONTROL, ctx)
            self._creating[info.fh] = path
            return info, self._new_control_attrs(path)

    def _new_control_attrs(self, path: tuple) -> pyfuse3.EntryAttributes:
        """A control file being created: empty, and not cached, since it is listed only once accepted."""
        attrs = self._attrs(path, Entry(path[-1], Kind.CONTROL, "", layout.MIRROR, 0, time.time()))
        attrs.entry_timeout = attrs.attr_timeout = 0
        return attrs

    async def write(self, fh, off, buf):
        pending = self._writes.get(fh)
        if pending is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        pending.add(off, buf)
        if pending.data.endswith(b"\n"):  # a whole line: apply now, so the writer sees EINVAL
            await self._apply(pending)
        return len(buf)

    async def flush(self, fh):
        """Every close() of every file would come here, a round trip each (~65 us a file in tar); wffs
        needs nothing from it, so the kernel is told so once (ENOSYS) and stops asking."""
        raise pyfuse3.FUSEError(errno.ENOSYS)

    async def _apply(self, pending: "ControlWrite") -> None:
        pending.applied = True
        with errors():
            await pending.mirrors.write(pending.node, pending.data.decode("utf-8", "replace"))

    async def release(self, fh):
        self._read_begun(fh)
        self._files.pop(fh, None)
        self._opened.pop(fh, None)
        self._logs.pop(fh, None)
        self._creating.pop(fh, None)
        pending = self._writes.pop(fh, None)
        if pending is not None and pending.written and not pending.applied:
            # a last line without its newline: applied now; release cannot fail, so a rejection is only
            # in .server/mirrors and the log
            try:
                await self._apply(pending)
            except pyfuse3.FUSEError:
                pass

    async def unlink(self, parent_inode, name, ctx):
        await self._use()
        with errors():
            path = self.inodes.path(parent_inode) + (os.fsdecode(name),)
            entry = await self._entry(path)
            if entry.kind is not Kind.CONTROL:
                raise pyfuse3.FUSEError(errno.EROFS)
            self._check_writer(ctx)
            await self.tree.vfs_of(entry).mirrors.clear(entry.node)

    async def setattr(self, inode, attr, fields, fh, ctx):
        with errors():
            path = self.inodes.path(inode)
            entry = await self._entry(path)
            only_truncate = fields.update_size and attr.st_size == 0 and not (
                fields.update_mode or fields.update_uid or fields.update_gid)
            if entry.kind is not Kind.CONTROL or not only_truncate:
                raise pyfuse3.FUSEError(errno.EROFS)  # `> t.mirror` truncates first: fine, the write decides
            self._check_writer(ctx)
            return self._attrs(path, entry)

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
                if ino is not None:  # (its _reported size stays: until the kernel has forgotten it,
                    inodes.append(ino)  # an open must see that the content's size is new, see _open_content)
                    touched.add(parent_ino)
                    self._stored.discard(ino)  # the kernel drops its pages: the next open stores the new ones
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


def invalidate_inodes(inodes) -> None:
    for ino in inodes:
        try:
            pyfuse3.invalidate_inode(ino)
        except OSError as e:  # ENOENT: the kernel had already forgotten it
            if e.errno not in (errno.ENOENT,):
                log.debug("invalidate_inode %s: %s", ino, e)


async def invalidate_attrs(inode) -> None:
    await trio.to_thread.run_sync(invalidate_inodes, [inode])


class ControlWrite:
    """What a writer has written to a control file so far (a write always replaces the whole file)."""

    def __init__(self, mirrors, node: str):
        self.mirrors = mirrors
        self.node = node
        self.data = b""
        self.written = False
        self.applied = False

    def add(self, off: int, buf: bytes) -> None:
        self.data = self.data[:off].ljust(off, b"\0") + buf
        self.written = True
        self.applied = False


class errors:
    """Map the Vfs's exceptions to errno, in one place."""

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None or isinstance(exc, pyfuse3.FUSEError) or not isinstance(exc, Exception):
            return False  # (trio.Cancelled and KeyboardInterrupt pass through)
        code = {NotFound: errno.ENOENT, NotADir: errno.ENOTDIR, IsADirectoryError: errno.EISDIR,
                ServerUnavailable: errno.EIO, InvalidControl: errno.EINVAL, MirrorLineError: errno.EINVAL,
                NotProvided: errno.ENOENT, ContentInexact: errno.EIO}.get(typ)
        if code is None:
            log.exception("unexpected error", exc_info=(typ, exc, tb))
            code = errno.EIO
        elif typ is ContentInexact:
            log.warning("EIO rather than wrong bytes: %s", exc)
        elif code == errno.EIO:
            log.info("%s", exc)
        else:
            log.debug("%s: %s", errno.errorcode[code], exc)
        raise pyfuse3.FUSEError(code) from None
