"""wffs.tree: one server at the mount point, or a directory per server plus the merged MNT/.events."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import trio

from tests.fakes import FakeBackend
from wffs.layout import Kind
from wffs.mount import server_changed
from wffs.tree import Tree
from wffs.vfs import InvalidControl, NotADir, NotFound, Vfs


def backend(name: str, suite: str) -> FakeBackend:
    fake = FakeBackend(name)
    fake.add(f"/{suite}")
    fake.add(f"/{suite}/t", state="complete", files={"ecf": f"script of {name}\n".encode()})
    return fake


async def several(*names: str, down=()) -> tuple[Tree, dict]:
    fakes = {n: backend(f"{n}:3141", f"s_{n}") for n in names}
    tree = Tree({}, single=False)
    for n, fake in fakes.items():
        fake.down = n in down
        tree.servers[n] = Vfs(fake)
        await tree.servers[n].refresh_once()
    return tree, fakes


def run(fn):
    trio.run(fn)


def listed(tree, components):
    return [e.name for e in tree.listdir(components)]


# ---- one server ---------------------------------------------------------------------------------------
def test_single_server_at_the_mount_point():
    async def main():
        fake = backend("local:3141", "s")
        vfs = Vfs(fake)
        await vfs.refresh_once()
        tree = Tree({"local": vfs}, single=True)
        assert listed(tree, ()) == [e.name for e in vfs.listdir(())] == [".server", "s", "s.que", "s.att",
                                                                          "s.def", "s.why"]
        assert ".events" not in listed(tree, ())
        # one server: its entries need no tag, and every one of them is answered by it
        assert all(tree.vfs_of(e) is vfs for e in tree.listdir(()) + tree.listdir(("s",)))
        assert tree.route(("s", "t")) == ("local", vfs, ("s", "t"))
        assert tree.prefix("local") == ()
        entry = await tree.lookup(("s",), "t.ecf")
        assert tree.vfs_of(entry) is vfs and entry.node == "/s/t"
        assert await tree.content(entry) == b"script of local:3141\n"
        assert tree.vfs_of(entry) is vfs
        events = await tree.lookup((".server",), "events")
        assert events.kind is Kind.EVENTS and tree.event_log(events) is vfs.events
        assert tree.control_node(("s",), "t.mirror") == (vfs, "/s/t")
        with pytest.raises(NotFound):
            await tree.lookup((), ".events")
        with pytest.raises(NotFound):
            tree.listdir(("nosuch",))
    run(main)


# ---- several servers -----------------------------------------------------------------------------------
def test_root_lists_events_and_one_directory_per_server():
    async def main():
        tree, fakes = await several("local", "ops", "backup", down=("backup",))
        root = tree.listdir(())
        assert [e.name for e in root] == [".events", "local", "ops", "backup"]  # config order
        events, *dirs = root
        assert (events.kind, events.size, events.server, events.volatile) == (Kind.EVENTS, 0, "", True)
        assert all(e.is_dir and e.size == 0 for e in dirs)
        assert [e.server for e in dirs] == ["local", "ops", "backup"]
        assert dirs[0].mtime == tree.servers["local"].changed_at > 0  # the last change, not every poll
        assert dirs[2].mtime == 0.0  # never reached
        for e in root:
            assert await tree.lookup((), e.name) == e
    run(main)


def test_routing_to_each_server():
    async def main():
        tree, fakes = await several("local", "ops")
        assert tree.route(("ops", "s_ops", "t")) == ("ops", tree.servers["ops"], ("s_ops", "t"))
        assert tree.route(("ops",)) == ("ops", tree.servers["ops"], ())
        assert tree.prefix("ops") == ("ops",)
        assert listed(tree, ("local",)) == [".server", "s_local", "s_local.que", "s_local.att", "s_local.def",
                                            "s_local.why"]
        assert listed(tree, ("ops",))[1] == "s_ops"
        assert all(e.server == "ops" for e in tree.listdir(("ops", "s_ops")))
        for n in ("local", "ops"):
            entry = await tree.lookup((n, f"s_{n}"), "t.ecf")
            assert (entry.server, entry.node) == (n, f"/s_{n}/t")
            assert await tree.content(entry) == f"script of {n}:3141\n".encode()
            assert ("read", f"/s_{n}/t", "ecf") in fakes[n].calls
            why = await tree.lookup((n,), f"s_{n}.why")
            assert await tree.content(why) == f"why /s_{n}\n".encode()
            assert ("node_text", f"/s_{n}", "why") in fakes[n].calls
        with pytest.raises(NotFound):  # each server sees only its own tree
            await tree.lookup(("local",), "s_ops")
        vfs, path = tree.control_node(("ops", "s_ops"), "t.mirror")
        assert vfs is tree.servers["ops"] and path == "/s_ops/t"
        with pytest.raises(NotADir):
            tree.listdir(("ops", "s_ops", "t"))
        with pytest.raises(InvalidControl):
            tree.control_node(("ops", "s_ops"), "t.ecf")
    run(main)


def test_unknown_server_names_are_not_found():
    async def main():
        tree, _ = await several("local", "ops")
        for components in [("nosuch",), ("nosuch", "s_local"), (".server",), (".events",), ("s_local",)]:
            with pytest.raises(NotFound):
                tree.listdir(components)
            with pytest.raises(NotFound):
                await tree.lookup(components, "x")
        for name in ["nosuch", ".server", "s_local", "events"]:
            with pytest.raises(NotFound):
                await tree.lookup((), name)
        with pytest.raises(NotFound):
            tree.control_node((), "local.mirror")
        with pytest.raises(NotFound):
            tree.control_node(("nosuch",), "t.mirror")
    run(main)


def test_a_server_that_is_down_is_a_directory_that_says_why():
    async def main():
        tree, _ = await several("local", "backup", down=("backup",))
        assert listed(tree, ("backup",)) == [".server"]
        status = await tree.content(await tree.lookup(("backup", ".server"), "status"))
        assert b"\nreachable no\n" in status and b"connection refused" in status
        assert "s_local" in listed(tree, ("local",))  # the others work as before
    run(main)


def test_each_server_has_its_own_event_log_and_the_root_merges_them():
    async def main():
        tree, fakes = await several("local", "ops")
        invalidated = []

        async def invalidate(changed, vfs, prefix=()):
            invalidated.append(prefix)

        ops = SimpleNamespace(invalidate=invalidate,
                              want_listings=lambda prefix: invalidated.append(("prebuilt",) + prefix))
        for n in tree.servers:
            tree.servers[n].mirrors = SimpleNamespace(follow_snapshot=lambda: None)
        fakes["local"].set_state("/s_local/t", "aborted")
        fakes["ops"].set_state("/s_ops", "active")
        for n in ("local", "ops"):
            await server_changed(ops, tree, n)(await tree.servers[n].refresh_once())
        assert invalidated == [("local",), ("prebuilt", "local"), ("ops",), ("prebuilt", "ops")]

        local_log = await tree.lookup(("local", ".server"), "events")
        assert local_log.server == "local" and tree.event_log(local_log) is tree.servers["local"].events
        local_lines = [line.split("\t")[1:] for line in (await tree.content(local_log)).decode().splitlines()]
        assert local_lines == [["/s_local/t", "com", "abo"]]  # no server column in a server's own log

        merged = await tree.lookup((), ".events")
        data = await tree.content(merged)
        assert merged.size == len(data) and tree.event_log(merged) is tree.events
        assert [line.split("\t")[1:] for line in data.decode().splitlines()] == [
            ["local", "/s_local/t", "com", "abo"],
            ["ops", "/s_ops", "que", "act"],
        ]
    run(main)


def test_single_server_mount_keeps_no_merged_log():
    async def main():
        fake = backend("local:3141", "s")
        vfs = Vfs(fake)
        vfs.mirrors = SimpleNamespace(follow_snapshot=lambda: None)
        await vfs.refresh_once()
        tree = Tree({"local": vfs}, single=True)

        async def invalidate(changed, vfs, prefix=()):
            assert prefix == ()

        fake.set_state("/s/t", "aborted")
        await server_changed(SimpleNamespace(invalidate=invalidate, want_listings=lambda prefix: None), tree, "local")(await vfs.refresh_once())
        assert len(tree.events) == 0 and len(vfs.events) > 0
    run(main)


def test_a_cached_file_is_what_lookup_and_content_give_with_its_server():
    async def main():
        tree, _ = await several("one", "two")
        assert tree.cached_file(("two", "s_two", "t.ecf")) is None  # not read yet
        entry = await tree.lookup(("two", "s_two"), "t.ecf")
        data = await tree.content(entry)
        assert tree.cached_file(("two", "s_two", "t.ecf")) == (entry, data) and entry.server == "two"
        status = await tree.lookup(("two", "s_two"), "t.com")  # a status file: always at hand
        assert tree.cached_file(("two", "s_two", "t.com")) == (status, await tree.content(status))
        assert status.server == "two"
        for nothing in [(), ("two",), ("three", "s_two", "t.ecf"), ("two", "nowhere", "t.ecf"),
                        ("two", "s_two", "t.nope"), ("two", "s_two", "t.ecf", "x")]:
            assert tree.cached_file(nothing) is None, nothing  # the slow path says why
    run(main)
