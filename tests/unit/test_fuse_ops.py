"""wffs.fuse_ops.Operations against an in-memory backend: what the kernel is told around a refresh.

The kernel itself is not here: its cache notifications (invalidate_inodes) are recorded instead."""

from __future__ import annotations

import os

import trio

from tests.fakes import FakeBackend
from wffs import fuse_ops, kernel_cache
from wffs.fuse_binding import CACHE_DIR_MARK, KEEP_CACHE_MARK, pyfuse3
from wffs.fuse_ops import Operations
from wffs.tree import Tree
from wffs.vfs import Vfs


def without_a_kernel(monkeypatch, forgotten: list, stored: list | None = None) -> None:
    """The kernel's cache notifications: the inodes it is told to forget go to `forgotten`, the contents
    handed to its page cache to `stored` ((inode, offset, data))."""
    monkeypatch.setattr(kernel_cache, "invalidate_inodes", forgotten.extend)
    monkeypatch.setattr(pyfuse3, "invalidate_entry_async", lambda *args, **kwargs: None)
    monkeypatch.setattr(pyfuse3, "notify_store", lambda *args: (stored if stored is not None else []).append(args))


async def one_task_mounted() -> tuple:
    """(backend, vfs, operations, inode of /s/t's .att as a lookup told the kernel) for a suite s with
    one queued task t."""
    fake = FakeBackend()
    fake.add("/s")
    fake.add("/s/t", state="queued")
    tree = Tree({}, single=True)
    vfs = tree.servers["local"] = Vfs(fake, refresh=2.0)
    ops = Operations(tree, refresh=2.0)
    await vfs.refresh_once()
    suite = await ops.lookup(pyfuse3.ROOT_INODE, b"s")
    return fake, vfs, ops, await ops.lookup(suite.st_ino, b"t.att")


def test_an_att_opened_before_the_kernel_forgot_its_old_size_reads_what_fstat_says(monkeypatch):
    """A refresh changes a task's .att (its state: another size); the kernel still holds the old size
    until the notification sent by `invalidate` reaches it.  An open in between must not leave it so:
    fstat() of the new handle said 2337 bytes where read() gave 2317 (the load test saw it once), which
    is what makes tar and rsync write a corrupt copy."""
    forgotten = []
    without_a_kernel(monkeypatch, forgotten)

    async def main():
        fake, vfs, ops, told = await one_task_mounted()  # told: the size the kernel now holds
        fake.set_state("/s/t", "complete")
        await ops.invalidate(await vfs.refresh_once(), vfs)  # ... and still holds: not reached it yet
        forgotten.clear()
        info = await ops.open(told.st_ino, os.O_RDONLY, None)
        data = await ops.read(info.fh, 0, 1 << 20)
        assert data == vfs.snapshot.node("/s/t").att and len(data) != told.st_size
        assert info.direct_io  # read() is not cut at the size the kernel holds
        assert forgotten == [told.st_ino]  # and the kernel has forgotten it before open() returned,
        assert (await ops.getattr(told.st_ino)).st_size == len(data)  # so fstat() asks, and is told this
        await ops.release(info.fh)
        forgotten.clear()
        again = await ops.open(told.st_ino, os.O_RDONLY, None)  # told now: the short way, cached
        assert not again.direct_io and again.keep_cache and forgotten == []

    trio.run(main)


def test_fstat_right_after_open_describes_the_opened_content_though_a_refresh_came_between(monkeypatch):
    """tar opens, fstats, then reads st_size bytes.  A refresh between its open and its fstat changed the
    .att again: the fstat (a getattr, which pyfuse3 does not tie to the handle) answers for the content
    that handle holds, until its first read; after that, for the file as it is now."""
    without_a_kernel(monkeypatch, [])

    async def main():
        fake, vfs, ops, told = await one_task_mounted()
        att = told.st_ino
        info = await ops.open(att, os.O_RDONLY, None)
        opened = vfs.snapshot.node("/s/t").att
        fake.set_state("/s/t", "aborted")
        await ops.invalidate(await vfs.refresh_once(), vfs)
        now = vfs.snapshot.node("/s/t").att
        assert len(now) != len(opened)
        fstat = await ops.getattr(att)
        assert fstat.st_size == len(opened) and fstat.attr_timeout == 0  # not kept: the file has changed
        assert await ops.read(info.fh, 0, 1 << 20) == opened
        assert (await ops.getattr(att)).st_size == len(now)  # read begun: the file as it is now
        await ops.release(info.fh)
        assert (await ops.getattr(att)).st_size == len(now)

    trio.run(main)


def test_a_directory_handle_keeps_the_kernels_copy_only_while_its_names_and_attributes_hold(monkeypatch):
    """Every directory handle lets the kernel keep the listing (CACHE_DIR_MARK: FOPEN_CACHE_DIR); it keeps
    the copy the kernel holds (KEEP_CACHE_MARK: keep_cache) while the names are those of the copy.  After
    a refresh that renamed t.que to t.com, the next handle has the kernel drop its copy and fill it with
    the new names from wffs; the one after it keeps it.  A file of the directory read from wffs (the kernel
    then drops its atime) also has the next handle fill the copy again, renewing the attributes at once."""
    without_a_kernel(monkeypatch, [])

    async def names(ops, fh):
        got = []

        def reply(token, name, attrs, next_id):
            got.append(name.decode())
            return True
        monkeypatch.setattr(pyfuse3, "readdir_reply", reply)
        await ops.readdir(fh, 0, None)
        await ops.releasedir(fh)
        return got

    def kept(fh):
        assert fh & CACHE_DIR_MARK
        return bool(fh & KEEP_CACHE_MARK)

    async def main():
        fake, vfs, ops, told = await one_task_mounted()
        suite = (await ops.lookup(pyfuse3.ROOT_INODE, b"s")).st_ino
        first = await ops.opendir(suite, None)
        assert kept(first) and "t.que" in await names(ops, first)  # nothing held yet: filled from it
        second = await ops.opendir(suite, None)
        assert kept(second) and "t.que" in await names(ops, second)
        fake.set_state("/s/t", "complete")
        await ops.invalidate(await vfs.refresh_once(), vfs)
        changed = await ops.opendir(suite, None)
        assert not kept(changed)
        listed = await names(ops, changed)
        assert "t.com" in listed and "t.que" not in listed
        again = await ops.opendir(suite, None)
        assert kept(again) and await names(ops, again) == listed

        info = await ops.open(told.st_ino, os.O_RDONLY, None)  # t.att, read from wffs
        await ops.read(info.fh, 0, 1 << 20)
        await ops.read(info.fh, 0, 1 << 20)
        await ops.release(info.fh)
        assert not kept(await ops.opendir(suite, None))
        assert kept(await ops.opendir(suite, None))

    trio.run(main)


def test_a_file_opened_is_handed_to_the_page_cache_once_per_content(monkeypatch):
    """The content goes to the kernel with the open (notify_store), so the reads that follow come from
    the page cache and do not make the kernel drop the file's access time.  Not again while the kernel
    has it; again once a read shows it let it go; never while another handle of the file is open (a
    read in progress would hold the page lock the store waits for)."""
    stored = []
    without_a_kernel(monkeypatch, [], stored)

    async def main():
        fake, vfs, ops, told = await one_task_mounted()
        att = told.st_ino
        content = vfs.snapshot.node("/s/t").att
        first = await ops.open(att, os.O_RDONLY, None)
        assert stored == [(att, 0, content)]
        second = await ops.open(att, os.O_RDONLY, None)  # the kernel has it
        await ops.release(second.fh)
        await ops.release(first.fh)
        again = await ops.open(att, os.O_RDONLY, None)
        assert len(stored) == 1
        assert await ops.read(again.fh, 0, 1 << 20) == content  # the kernel let it go: asked of wffs
        held = await ops.open(att, os.O_RDONLY, None)  # `again` is still open: no store now
        await ops.release(held.fh)
        await ops.release(again.fh)
        assert len(stored) == 1
        last = await ops.open(att, os.O_RDONLY, None)
        assert stored[1:] == [(att, 0, content)]
        await ops.release(last.fh)
        fake.set_state("/s/t", "active")  # a refresh changes it (not its size): the kernel drops it
        await ops.invalidate(await vfs.refresh_once(), vfs)
        changed = vfs.snapshot.node("/s/t").att
        assert changed != content and len(changed) == len(content)
        new = await ops.open(att, os.O_RDONLY, None)
        assert stored[2:] == [(att, 0, changed)]
        await ops.release(new.fh)

    trio.run(main)


class FakeFastOpens:
    """wffs/_fastopen as wffs sees it: which inodes it may answer, whether it answers at all, and the
    handles it would hold; `open` is what it does with an open that comes to it."""

    def __init__(self):
        self.allowed: set[int] = set()
        self.enabled = False
        self.holding: dict[int, int] = {}
        self.answered = 0

    def allow(self, inode: int, allow: bool = True) -> None:
        (self.allowed.add if allow else self.allowed.discard)(inode)

    def enable(self, on: bool) -> None:
        self.enabled = on

    def held(self, inode: int) -> int:
        return self.holding.get(inode, 0)

    def opens(self) -> int:
        return self.answered

    def open(self, inode: int):
        """The library's handle, or None: the open goes to wffs."""
        if not (self.enabled and inode in self.allowed):
            return None
        self.holding[inode] = self.held(inode) + 1
        self.answered += 1
        return fuse_ops.FAST_MARK | inode

    def release(self, fh: int) -> None:
        self.holding[fh & ~fuse_ops.FAST_MARK] -= 1


def test_a_file_whose_content_the_kernel_holds_is_opened_without_wffs_until_it_changes(monkeypatch):
    """Once a file's content went to the page cache with its open, later opens are answered by the
    library; a refresh that changes the content takes that back, as does a read that shows the kernel let
    the pages go; the next open through wffs stores the content again and gives it back, but not while
    a handle the library opened is still open (a read through it holds the page lock a store waits for)."""
    stored = []
    without_a_kernel(monkeypatch, [], stored)
    fast = FakeFastOpens()

    async def main():
        fake = FakeBackend()
        fake.add("/s")
        fake.add("/s/t", state="queued")
        tree = Tree({}, single=True)
        vfs = tree.servers["local"] = Vfs(fake, refresh=2.0)
        ops = Operations(tree, refresh=2.0, fast=fast)
        await vfs.refresh_once()
        suite = await ops.lookup(pyfuse3.ROOT_INODE, b"s")
        att = (await ops.lookup(suite.st_ino, b"t.att")).st_ino
        assert fast.enabled  # the mount is in use
        content = vfs.snapshot.node("/s/t").att
        assert fast.open(att) is None  # the kernel does not hold it yet: to wffs
        first = await ops.open(att, os.O_RDONLY, None)
        await ops.release(first.fh)
        assert stored == [(att, 0, content)] and att in fast.allowed
        handle = fast.open(att)
        assert handle is not None and fast.opens() == 1
        # the kernel let the pages go: the library's handle is read through wffs, by inode
        assert await ops.read(handle, 0, 1 << 20) == content
        assert att not in fast.allowed and fast.open(att) is None
        again = await ops.open(att, os.O_RDONLY, None)  # `handle` is still open: no store
        await ops.release(again.fh)
        assert len(stored) == 1 and att not in fast.allowed
        fast.release(handle)
        last = await ops.open(att, os.O_RDONLY, None)
        await ops.release(last.fh)
        assert stored[1:] == [(att, 0, content)] and att in fast.allowed
        # a refresh that changes it: never answered by the library with the old pages
        fake.set_state("/s/t", "aborted")
        await ops.invalidate(await vfs.refresh_once(), vfs)
        assert att not in fast.allowed
        changed = vfs.snapshot.node("/s/t").att
        new = await ops.open(att, os.O_RDONLY, None)
        assert await ops.read(new.fh, 0, 1 << 20) == changed
        await ops.release(new.fh)

    trio.run(main)


def test_the_library_answers_only_while_the_refreshers_poll(monkeypatch):
    """After an idle spell the first open must reach wffs, which waits for a fresh view: the library
    stops answering when a refresher stops polling and starts again at the next call wffs sees; the opens
    it answered count as uses of the mount."""
    without_a_kernel(monkeypatch, [])
    fast = FakeFastOpens()

    async def main():
        fake, vfs, ops, told = await one_task_mounted()
        ops = Operations(ops.tree, refresh=2.0, fast=fast)
        await ops.lookup(pyfuse3.ROOT_INODE, b"s")
        assert fast.enabled
        ops.went_idle()
        assert not fast.enabled
        await ops.lookup(pyfuse3.ROOT_INODE, b"s")
        assert fast.enabled
        fast.answered = 7
        assert ops.uses_elsewhere() == 7

    trio.run(main)
