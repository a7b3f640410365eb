"""Wire the parts together and serve one mount in the foreground until unmounted or signalled."""

from __future__ import annotations

import logging
import signal

import pyfuse3
import trio

from wffs.fuse_ops import CACHE_SECONDS, Operations
from wffs.mirrors import Mirrors
from wffs.refresher import Refresher
from wffs.vfs import Vfs

log = logging.getLogger(__name__)


def fuse_options(extra, fsname: str) -> set:
    """Without default_permissions: wffs answers every write itself (EROFS, or EACCES for a control
    file of someone else's mount), so that the owner can write control files shown read-only to others."""
    options = set(pyfuse3.default_options) - {"default_permissions"}
    options.add(f"fsname={fsname}")
    options.add("subtype=wffs")
    for opt in extra:
        options.update(o for o in opt.split(",") if o)
    return options


class Remotes:
    """One backend per remote server that mirrors follow, shared by the mirrors of that server."""

    def __init__(self, make_backend):
        self.make_backend = make_backend
        self.backends = {}

    def __call__(self, resolved):
        key = (resolved.remote_host, resolved.remote_port, resolved.ssl, resolved.remote_auth)
        if key not in self.backends:
            self.backends[key] = self.make_backend(resolved)
        return self.backends[key]

    async def close(self):
        for backend in self.backends.values():
            await backend.close()


def serve(backend, mountpoint: str, *, refresh: float, options, make_remote, read_only: bool = False,
          on_ready=None) -> None:
    """Mount, serve and always unmount; returns when unmounted or on SIGINT/SIGTERM/SIGHUP."""
    vfs = Vfs(backend, refresh=refresh)
    ops = Operations(vfs, refresh=refresh, read_only=read_only)
    remotes = Remotes(make_remote)

    async def on_change(changed):
        await ops.invalidate(changed)
        vfs.mirrors.follow_snapshot()

    ops.refresher = Refresher(vfs, on_change, interval=refresh, idle_after=CACHE_SECONDS + refresh)
    # a mirror compares with a fresh local view before it writes, so it never writes twice
    vfs.mirrors = Mirrors(backend, lambda: vfs.snapshot, remotes, ops.refresher.refresh)

    async def main():
        # Signals are caught from before the mount until everything is closed: a second SIGTERM
        # during shutdown must not kill the process between unmounting and closing (a dead mount).
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            await ops.refresher.refresh()  # the first view, before anyone can look
            pyfuse3.init(ops, mountpoint, fuse_options(options, f"wffs:{backend.name}"))
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(ops.refresher.run)
                    nursery.start_soon(vfs.mirrors.run)
                    nursery.start_soon(stop_on_signal, signals, nursery.cancel_scope)
                    if on_ready:
                        on_ready()
                    await pyfuse3.main()
                    nursery.cancel_scope.cancel()  # unmounted from outside
            finally:
                pyfuse3.close(unmount=True)  # first: nobody waits on a mount that no longer answers
                with trio.CancelScope(shield=True):
                    await remotes.close()
                    await backend.close()

    trio.run(main)


async def stop_on_signal(signals, cancel_scope) -> None:
    async for signum in signals:
        log.info("signal %s: unmounting", signal.Signals(signum).name)
        cancel_scope.cancel()
        return
