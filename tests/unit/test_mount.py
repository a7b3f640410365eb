"""wffs.mount: what happens between starting a mount and the mount answering."""

from __future__ import annotations

from types import SimpleNamespace

import trio
from trio.testing import MockClock

from tests.fakes import FakeBackend
from wffs.backend.worker import WorkerBackend
from wffs.fuse_ops import Operations
from wffs.mount import first_view, first_view_limit, server_changed
from wffs.refresher import Refresher
from wffs.tree import Tree
from wffs.vfs import Vfs


def suite_with_families(fake: FakeBackend, families: int) -> set:
    """A suite of `families` families of two tasks each; the directories a `find` opens (.server aside)."""
    fake.add("/s")
    directories = {(), ("s",)}
    for f in range(families):
        fake.add(f"/s/f{f}", kind="family")
        for t in range(2):
            fake.add(f"/s/f{f}/t{t}", state="complete", files={"ecf": b"echo\n"})
        directories.add(("s", f"f{f}"))
    return directories


class SlowServer(FakeBackend):
    """A server whose first view takes `seconds`; `answers`: it answered at once (a big server: slow, not
    hung), as the ecFlow worker reports before it downloads and walks the definition."""

    def __init__(self, seconds: float, answers: bool):
        super().__init__()
        self.seconds, self.answers = seconds, answers
        self.syncing = False

    async def changes(self):
        self.syncing = True
        try:
            await trio.sleep(self.seconds)
        finally:
            self.syncing = False
        return await super().changes()

    def server_answered(self) -> bool:
        return self.syncing and self.answers


async def start_a_mount(fake=None) -> tuple[set, set]:
    fake = fake or FakeBackend()
    directories = suite_with_families(fake, 8)
    tree = Tree({}, single=True)
    ops = Operations(tree, refresh=2.0)
    vfs = tree.servers["local"] = Vfs(fake, refresh=2.0)
    vfs.mirrors = SimpleNamespace(follow_snapshot=lambda: None)
    refresher = Refresher(vfs, server_changed(ops, tree, "local"), interval=2.0, idle_after=62.0)
    ops.refreshers.append(refresher)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(refresher.run)
        await first_view(ops, nursery, timeout=5.0)
        built = set(ops._listings)  # what the first `find` finds ready: the listings built so far
        nursery.cancel_scope.cancel()
    return built, directories


def test_the_first_listings_are_built_before_the_mount_answers():
    # trio runs the tasks a refresh wakes in either order: when the background builder came first it took
    # the first listings and built them while the mount answered (half the starts); so start it many times
    for _ in range(30):
        built, directories = trio.run(start_a_mount)
        assert built == directories


def mount_after(seconds: float, answers: bool) -> tuple[float, set, set]:
    """Start a mount (timeout 5 s) of a SlowServer on a clock that jumps: (when it answers, listings
    built, the tree's directories)."""
    async def main():
        built, directories = await start_a_mount(SlowServer(seconds, answers))
        return trio.current_time(), built, directories

    return trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_slow_server_that_answered_is_waited_for():
    answered_at, built, directories = mount_after(30.0, answers=True)  # 50,000 tasks take about 8 s
    assert 30.0 <= answered_at < 31.0
    assert built == directories  # the mount answers with the whole tree, not an empty one


def test_a_server_that_did_not_answer_is_not_waited_for():
    answered_at, built, directories = mount_after(30.0, answers=False)  # hung: 6 s, then an empty tree
    assert answered_at == 6.0
    assert built == set()  # nothing to list yet


def test_the_wait_for_a_slow_server_is_bounded():
    answered_at, built, _ = mount_after(1000.0, answers=True)  # (a real first sync's deadline ends it first)
    assert answered_at == first_view_limit(5.0) == WorkerBackend.FULL_SYNC_TIMEOUT + 1.0
    assert built == set()  # nothing to list yet
