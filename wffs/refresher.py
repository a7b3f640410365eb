"""Keeps a Vfs in step with its server while the mount is in use, and costs the server nothing when idle.

Polls every `interval` seconds while something used the mount within `idle_after` seconds.  Kernel
caches hold entries for at most `idle_after` seconds (see fuse_ops), so whatever the kernel may still
answer from its cache is covered by polling; once polling has stopped, the next call reaches wffs,
wakes the refresher and waits (briefly) for a fresh view.  Calls answered without wffs's Python code (the
opens wffs/_fastopen answers) are counted elsewhere: `uses_elsewhere` reads that count, and `on_idle`
tells the owner that polling stops, so that the next call comes to wffs again.
"""

from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

import trio

log = logging.getLogger(__name__)


class Refresher:
    def __init__(self, vfs, on_change: Callable[[list], Awaitable[None]], *, interval: float,
                 idle_after: float, uses_elsewhere: Callable[[], int] = lambda: 0,
                 on_idle: Callable[[], None] = lambda: None):
        self.vfs = vfs
        self.on_change = on_change
        self.interval = interval
        self.idle_after = idle_after
        self.last_use = time.monotonic()
        self._wake = trio.Event()
        self._done = trio.Event()
        self.first_done = trio.Event()  # the first view has been asked for (answered or failed)
        self.idle = False
        self.uses_elsewhere = uses_elsewhere
        self._seen_elsewhere = uses_elsewhere()
        self.on_idle = on_idle

    def use(self) -> bool:
        """Record a use (every file-system call: no coroutine); True if the refresher was idle and is woken
        now, in which case the caller awaits fresh()."""
        self.last_use = time.monotonic()
        if not self.idle:
            return False
        self.idle = False
        self._wake.set()
        return True

    async def fresh(self) -> None:
        """After an idle spell, wait (up to one interval) for the first fresh view."""
        with trio.move_on_after(self.interval):
            await self._done.wait()

    async def refresh(self) -> None:
        changed = await self.vfs.refresh_once()
        if changed:
            await self.on_change(changed)

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a refresh must never end the refresher
                log.exception("refresh failed")
            self._done.set()
            self._done = trio.Event()
            self.first_done.set()
            await trio.sleep(self.interval)
            seen = self.uses_elsewhere()
            if seen != self._seen_elsewhere:  # used within the interval
                self._seen_elsewhere = seen
                self.last_use = time.monotonic()
            if time.monotonic() - self.last_use > self.idle_after:
                self.idle = True
                self.on_idle()
                log.debug("mount idle: polling stops until the next use")
                await self._wake.wait()
                self._wake = trio.Event()
