"""Wire the parts together and serve a mount in the foreground until unmounted or signalled."""

from __future__ import annotations

import logging
import signal

import trio

from wffs import file_cache, preflight, user_cache
from wffs.backend.worker import WorkerBackend
from wffs.fuse_binding import DIR_CACHE_OFF, FAST_OPENS, pyfuse3
from wffs.fuse_ops import CACHE_SECONDS, Operations
from wffs.mirrors import Mirrors
from wffs.refresher import Refresher
from wffs.events import state_changes
from wffs.tree import Tree
from wffs.vfs import DEFAULT_SCRIPT_AGE, Vfs

log = logging.getLogger(__name__)


class MountFailed(Exception):
    """The kernel would not mount (libfuse or fusermount3 said why on stderr, just before)."""


def fuse_options(extra, fsname: str) -> set:
    """Without default_permissions: wffs answers every write itself (EROFS, or EACCES for a control
    file of someone else's mount), so that the owner can write control files shown read-only to others."""
    options = set(pyfuse3.default_options) - {"default_permissions"}
    options.add(f"fsname={fsname}")
    options.add("subtype=wffs")
    options.update(preflight.fuse_options(extra))  # as checked before the mount
    return options


class Remotes:
    """One backend per remote server that mirrors follow, shared by the mirrors of that server."""

    def __init__(self, make_backend):
        self.make_backend = make_backend
        self.backends = {}

    def __call__(self, resolved):
        key = (resolved.remote_host, resolved.remote_port, resolved.ssl, resolved.remote_auth, resolved.remote_cylc)
        if key not in self.backends:
            self.backends[key] = self.make_backend(resolved)
        return self.backends[key]

    async def close(self):
        for backend in self.backends.values():
            await backend.close()


def serve(backends: dict, mountpoint: str, *, single: bool, refresh: float, timeout: float, options,
          make_remote, read_only: bool = False, fsname: str = "wffs", disk_cache: int = file_cache.DEFAULT_BYTES,
          script_age: float = DEFAULT_SCRIPT_AGE, fast_open: bool = False) -> None:
    """Mount `backends` ({name: backend}), serve and always unmount; returns when unmounted or on
    SIGINT/SIGTERM/SIGHUP.  single: the one server's layout at the mount point, else MNT/<name>/."""
    tree = Tree({}, single=single)
    ops = Operations(tree, refresh=refresh, read_only=read_only)
    remotes = Remotes(make_remote)  # shared: mirrors of any server following one remote use one worker
    for name, backend in backends.items():
        kept = (file_cache.FileCache(file_cache.path_for(user_cache.directory(), name), disk_cache)
                if disk_cache > 0 else None)
        vfs = Vfs(backend, refresh=refresh, file_cache=kept, script_age=script_age)
        tree.servers[name] = vfs
        refresher = Refresher(vfs, server_changed(ops, tree, name), interval=refresh,
                              idle_after=CACHE_SECONDS + refresh, uses_elsewhere=ops.uses_elsewhere,
                              on_idle=ops.went_idle)
        ops.refreshers.append(refresher)
        # a mirror compares with a fresh local view before it writes, so it never writes twice
        vfs.mirrors = Mirrors(backend, (lambda v=vfs: v.snapshot), remotes, refresher.refresh)

    failed = []

    async def main():
        # Signals are caught from before the mount until everything is closed: a second SIGTERM
        # during shutdown must not kill the process between unmounting and closing (a dead mount).
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stop_on_signal, signals, nursery.cancel_scope)
                for refresher, vfs in zip(ops.refreshers, tree.servers.values()):
                    nursery.start_soon(refresher.run)
                    nursery.start_soon(vfs.mirrors.run)
                await first_view(ops, nursery, timeout)
                if DIR_CACHE_OFF:
                    log.warning("listings are not kept by the kernel (each is asked of wffs again): %s",
                                DIR_CACHE_OFF)
                if fast_open:
                    why_not = FAST_OPENS.permit()
                    if why_not:
                        log.warning("--fast-open: not used: %s", why_not)
                try:
                    pyfuse3.init(ops, mountpoint, fuse_options(options, fsname))
                except RuntimeError as e:
                    log.error("%s was not mounted: %s", mountpoint, e)
                    failed.append(str(e))
                    nursery.cancel_scope.cancel()
                else:
                    await serve_mounted(nursery)
            with trio.CancelScope(shield=True):
                await remotes.close()
                for backend in backends.values():
                    await backend.close()

    async def serve_mounted(nursery):
        if fast_open and not FAST_OPENS.serving():
            log.warning("--fast-open: every open is answered by wffs's Python code: %s",
                        FAST_OPENS.off or "wffs/_fastopen could not start its thread")
        try:
            await pyfuse3.main()
            nursery.cancel_scope.cancel()  # unmounted from outside
        finally:
            pyfuse3.close(unmount=True)  # first: nobody waits on a mount that no longer answers

    trio.run(main)
    if failed:
        raise MountFailed(failed[0])


def first_view_limit(timeout: float) -> float:
    """The longest a mount waits for its first view (a first sync's own deadline, and a second)."""
    return max(timeout, WorkerBackend.FULL_SYNC_TIMEOUT) + 1.0


async def first_view(ops: Operations, nursery, timeout: float) -> None:
    """Before the mount answers: every server's first view and its listings (0.3 s at 10,000 tasks), so
    that the first `find` or `ls -lR` costs what it costs on a static file system.  A server that has not
    answered within `timeout` + 1 s is taken as hung and not waited for (its directory says why in
    .server/status meanwhile); one that answered is slow, not hung (50,000 tasks take 8 s to sync), and
    is waited for until its first sync ends (first_view_limit at most), so that the mount of a big server
    does not answer with an empty tree.  Only then the builder of later listings starts: started before,
    it could take the first ones and build them in the background, one directory per turn, while the
    mount already answered (trio runs woken tasks in either order)."""
    limit = trio.current_time() + first_view_limit(timeout)
    with trio.move_on_after(max(timeout, 1.0) + 1.0):
        for refresher in ops.refreshers:
            await refresher.first_done.wait()
    with trio.move_on_at(limit):
        for refresher in ops.refreshers:
            if not refresher.first_done.is_set() and refresher.vfs.backend.server_answered():
                log.info("%s answered; waiting for its first view", refresher.vfs.backend.name)
                await refresher.first_done.wait()
    await ops.build_wanted_listings()
    nursery.start_soon(ops.build_listings)


def server_changed(ops: Operations, tree: Tree, name: str):
    """What a refresh of one server does with the nodes that changed."""
    mount_events = None if tree.single else tree.events  # MNT/.events, several-server mounts only

    async def on_change(changed):
        await ops.invalidate(changed, tree.servers[name], tree.prefix(name))
        ops.want_listings(tree.prefix(name))
        tree.servers[name].mirrors.follow_snapshot()
        if mount_events is not None:
            for path, old, new in state_changes(changed):
                mount_events.add(path, old, new, server=name)

    return on_change


async def stop_on_signal(signals, cancel_scope) -> None:
    async for signum in signals:
        log.info("signal %s: unmounting", signal.Signals(signum).name)
        cancel_scope.cancel()
        return
