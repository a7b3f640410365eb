"""wffs.refresher.Refresher: polls while the mount is used, also through calls that never reach wffs's
Python code (the opens wffs/_fastopen answers), and says when it stops."""

from __future__ import annotations

import trio

from wffs.refresher import Refresher


class CountingVfs:
    def __init__(self):
        self.refreshes = 0

    async def refresh_once(self):
        self.refreshes += 1
        return []


async def nothing_changed(changed):
    pass


def test_uses_it_does_not_see_keep_it_polling_and_it_says_when_it_stops():
    vfs = CountingVfs()
    elsewhere = [0]
    idle_calls = []
    refresher = Refresher(vfs, nothing_changed, interval=0.02, idle_after=0.15,
                          uses_elsewhere=lambda: elsewhere[0], on_idle=lambda: idle_calls.append(vfs.refreshes))

    async def main():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refresher.run)
            for _ in range(25):  # 0.5 s of opens answered elsewhere, none seen by wffs
                elsewhere[0] += 1
                await trio.sleep(0.02)
            assert not refresher.idle and idle_calls == []
            polled = vfs.refreshes
            with trio.fail_after(5):
                while not refresher.idle:
                    await trio.sleep(0.01)
            assert idle_calls == [vfs.refreshes] and vfs.refreshes > polled
            await trio.sleep(0.1)
            assert vfs.refreshes == idle_calls[0]  # idle: no more polls
            assert refresher.use()  # a call wffs sees wakes it
            await refresher.fresh()
            assert vfs.refreshes > idle_calls[0]
            nursery.cancel_scope.cancel()

    trio.run(main)
