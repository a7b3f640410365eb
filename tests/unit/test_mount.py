"""wffs.mount: what happens between starting a mount and the mount answering."""

from __future__ import annotations

from types import SimpleNamespace

import trio

from tests.fakes import FakeBackend
from wffs.fuse_ops import Operations
from wffs.mount import first_view, server_changed
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


async def start_a_mount() -> tuple[set, set]:
    fake = FakeBackend()
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
