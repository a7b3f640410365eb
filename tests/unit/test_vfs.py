"""wffs.vfs against the in-memory FakeBackend: names, entries, exact sizes, contents, refresh."""

from __future__ import annotations

import pytest
import trio

from tests.fakes import FakeBackend
from wffs.layout import Kind
from wffs.vfs import NotADir, NotFound, Vfs

T1_ECF = b"#!/bin/sh\necho t1\n"
T1_MAN = b"manual of t1\n"
T1_JOB = b"#!/bin/sh\n# job of t1\n"
T1_OUT = b"\xff\xfe output, not UTF-8 \x80\n"  # bytes are served as they are


def build() -> FakeBackend:
    fake = FakeBackend()
    fake.add("/s")
    fake.add("/s/f", "family", "active")
    fake.add("/s/f/t1", state="complete", files={"ecf": T1_ECF, "man": T1_MAN, "job": T1_JOB, "out": T1_OUT})
    fake.add("/s/f/t2", state="aborted", suspended=True, files={"ecf": b"t2 script\n"})
    fake.add("/s/f/t2/al", "alias", "complete", files={"ecf": b"alias script\n", "out": b"alias out\n"})
    fake.add("/s/f/t3", state="queued", files={"ecf": b"t3\n"})
    fake.add("/s/t.v2", state="active", files={"out": (b"running...\n", False)})
    fake.add("/s2", state="complete")
    return fake


async def mounted(fake=None, **kw):
    fake = fake or build()
    vfs = Vfs(fake, **kw)
    changed = await vfs.refresh_once()
    assert changed and vfs.status.reachable is True
    return fake, vfs


def names(vfs, components):
    return [e.name for e in vfs.listdir(components)]


def run(fn):
    trio.run(fn)


# ---- listing ----------------------------------------------------------------------------------------
def test_listings():
    async def main():
        _, vfs = await mounted()
        assert names(vfs, ()) == [".server", "s", "s.que", "s.att", "s2", "s2.com", "s2.att"]
        assert names(vfs, ("s",)) == ["f", "f.act", "f.att", "t.v2.act", "t.v2.att", "t.v2.out"]
        assert names(vfs, ("s", "f")) == [
            "t1.com", "t1.att", "t1.ecf", "t1.job", "t1.out", "t1.man",
            "t2", "t2.sus", "t2.att", "t2.ecf",
            "t3.que", "t3.att", "t3.ecf",
        ]
        assert names(vfs, ("s2",)) == []
        assert names(vfs, (".server",)) == ["status", "log", "stats", "zombies", "suites.def", "mirrors"]
        kinds = {e.name: e.kind for e in vfs.listdir(("s", "f"))}
        assert kinds["t2"] is Kind.DIR and kinds["t2.sus"] is Kind.STATUS and kinds["t1.att"] is Kind.ATT
        assert kinds["t1.out"] is Kind.TASK_FILE
    run(main)


def test_absent_task_files_are_not_listed():
    async def main():
        _, vfs = await mounted()
        listed = names(vfs, ("s", "f"))
        assert "t3.job" not in listed and "t3.out" not in listed and "t2.out" not in listed
        with pytest.raises(NotFound):
            await vfs.lookup(("s", "f"), "t3.out")
    run(main)


def test_alias_directory():
    async def main():
        _, vfs = await mounted()
        assert names(vfs, ("s", "f", "t2")) == ["al.com", "al.att", "al.ecf", "al.out"]
        e = await vfs.lookup(("s", "f", "t2"), "al.ecf")
        assert e.node == "/s/f/t2/al"
        assert await vfs.content(e) == b"alias script\n"
        assert (await vfs.lookup(("s", "f"), "t2")).is_dir
    run(main)


def test_new_nodes_appear_after_refresh():
    async def main():
        fake, vfs = await mounted()
        assert "t4.que" not in names(vfs, ("s", "f"))
        fake.add("/s/f/t4")
        fake.set_state("/s/f/t1", "aborted")
        await vfs.refresh_once()
        listed = names(vfs, ("s", "f"))
        assert "t4.que" in listed and "t1.abo" in listed and "t1.com" not in listed
        with pytest.raises(NotFound):
            await vfs.lookup(("s", "f"), "t1.com")
    run(main)


# ---- exact sizes ------------------------------------------------------------------------------------
def test_every_size_equals_its_content():
    async def main():
        _, vfs = await mounted()
        seen_dirs, seen_kinds = set(), set()

        async def walk(components):
            seen_dirs.add(components)
            for listed in vfs.listdir(components):
                looked = await vfs.lookup(components, listed.name)
                assert looked.name == listed.name and looked.kind is listed.kind
                if listed.is_dir:
                    assert looked.size == 0
                    await walk(components + (listed.name,))
                    continue
                seen_kinds.add((listed.kind, listed.file))
                data = await vfs.content(looked)
                assert isinstance(data, bytes)
                assert looked.size == len(data), (components, listed.name)
                if listed.size is not None:
                    assert listed.size == len(data), (components, listed.name)
                again = {e.name: e for e in vfs.listdir(components)}[listed.name]
                if listed.kind is Kind.TASK_FILE:  # measured now: the listing says so too
                    assert again.size == len(data)

        await walk(())
        assert {(), ("s",), ("s", "f"), ("s", "f", "t2"), ("s2",), (".server",)} <= seen_dirs
        for kind, file in [(Kind.STATUS, "com"), (Kind.STATUS, "sus"), (Kind.STATUS, "act"), (Kind.ATT, "att"),
                           (Kind.TASK_FILE, "ecf"), (Kind.TASK_FILE, "job"), (Kind.TASK_FILE, "out"),
                           (Kind.TASK_FILE, "man"), (Kind.SERVER_FILE, "status"), (Kind.SERVER_FILE, "log")]:
            assert (kind, file) in seen_kinds
    run(main)


def test_contents():
    async def main():
        fake, vfs = await mounted()

        async def cat(components, name):
            return await vfs.content(await vfs.lookup(components, name))

        assert await cat(("s", "f"), "t1.com") == b"complete\n"
        assert await cat(("s", "f"), "t2.sus") == b"suspended (aborted)\n"
        assert await cat(("s", "f"), "t1.att") == fake.record("/s/f/t1")["att"]
        assert await cat(("s", "f"), "t1.ecf") == T1_ECF
        assert await cat(("s", "f"), "t1.man") == T1_MAN
        assert await cat(("s", "f"), "t1.job") == T1_JOB
        assert await cat(("s", "f"), "t1.out") == T1_OUT
        assert await cat(("s",), "t.v2.out") == b"running...\n"
        assert await cat((".server",), "log") == fake.server_files["log"]
        assert await cat((".server",), "suites.def") == fake.server_files["suites.def"]
        status = await cat((".server",), "status")
        assert status.startswith(b"server fake:3141\nreachable yes\n")
        assert b"\nsuites 2\n" in status and b"\nnodes 8\n" in status
        with pytest.raises(IsADirectoryError):
            await vfs.content(await vfs.lookup((), "s"))
    run(main)


def test_entry_times_and_volatility():
    async def main():
        fake, vfs = await mounted()
        entries = {e.name: e for e in vfs.listdir(("s", "f"))}
        assert entries["t1.com"].mtime == fake.nodes["/s/f/t1"].since
        assert entries["t1.att"].mtime == fake.nodes["/s/f/t1"].since
        assert entries["t1.out"].mtime == fake.nodes["/s/f/t1"].files["out"].mtime
        assert not entries["t1.out"].volatile  # complete: written once
        assert {e.name: e for e in vfs.listdir(("s",))}["t.v2.out"].volatile  # active: still being written
        assert all(e.volatile for e in vfs.listdir((".server",)))
    run(main)


# ---- errors -----------------------------------------------------------------------------------------
def test_not_found():
    async def main():
        _, vfs = await mounted()
        for components, name in [((), "nosuch"), ((), "s.com"), (("s", "f"), "t1"), (("s", "f"), "t1.que"),
                                 (("s", "f"), "t9.ecf"), ((".server",), "nosuch")]:
            with pytest.raises(NotFound):
                await vfs.lookup(components, name)
        for components in [("nosuch",), ("s", "nosuch"), ("s", "f", "t2", "nosuch"), (".server", "log"),
                           (".server", "x", "y"), ("s", "f", "t1.ecf")]:
            with pytest.raises(NotFound):
                vfs.listdir(components)
            with pytest.raises(NotFound):
                await vfs.lookup(components, "x")
    run(main)


def test_task_without_aliases_is_not_a_directory():
    async def main():
        _, vfs = await mounted()
        for components in [("s", "f", "t1"), ("s", "f", "t3"), ("s", "t.v2"), ("s", "f", "t2", "al")]:
            with pytest.raises(NotADir):
                vfs.listdir(components)
            with pytest.raises(NotADir):
                await vfs.lookup(components, "anything")
    run(main)


def test_file_the_server_cannot_provide_is_not_found():
    async def main():
        fake, vfs = await mounted()
        fake.drop_file("/s/f/t3", "ecf")  # the snapshot still lists it, the server no longer has it
        assert "t3.ecf" in names(vfs, ("s", "f"))
        with pytest.raises(NotFound):
            await vfs.lookup(("s", "f"), "t3.ecf")
    run(main)


# ---- contents pinned per node version ---------------------------------------------------------------
def test_content_pinned_until_the_node_changes():
    async def main():
        fake, vfs = await mounted(refresh=0.05)
        first = await vfs.lookup(("s", "f"), "t1.ecf")
        assert first.size == len(T1_ECF)
        assert await vfs.content(first) == T1_ECF
        reads = len([c for c in fake.calls if c[0] == "read"])

        fake.set_file("/s/f/t1", "ecf", b"edited script, longer than before\n")  # same record
        assert await vfs.refresh_once() == []
        await trio.sleep(0.12)  # several refresh intervals: pinning is not a timer for a complete task
        again = await vfs.lookup(("s", "f"), "t1.ecf")
        assert again.size == len(T1_ECF)
        assert await vfs.content(again) == T1_ECF
        assert len([c for c in fake.calls if c[0] == "read"]) == reads  # served from the cache

        fake.set_state("/s/f/t1", "queued")
        assert await vfs.refresh_once()
        fresh = await vfs.lookup(("s", "f"), "t1.ecf")
        assert fresh.size == len(b"edited script, longer than before\n")
        assert await vfs.content(fresh) == b"edited script, longer than before\n"
    run(main)


def test_file_with_a_reported_size_follows_the_record():
    async def main():
        fake, vfs = await mounted()
        assert await vfs.content(await vfs.lookup(("s", "f"), "t1.out")) == T1_OUT
        fake.set_file("/s/f/t1", "out", b"rewritten\n", touch=True)
        assert await vfs.refresh_once()
        listed = {e.name: e for e in vfs.listdir(("s", "f"))}["t1.out"]
        assert listed.size == len(b"rewritten\n")
        assert await vfs.content(listed) == b"rewritten\n"
    run(main)


def test_running_task_output_is_refetched_each_interval():
    async def main():
        fake, vfs = await mounted(refresh=0.05)
        e = await vfs.lookup(("s",), "t.v2.out")
        assert await vfs.content(e) == b"running...\n"
        fake.set_file("/s/t.v2", "out", b"running...\nstill running\n")  # grows, no state change
        await trio.sleep(0.12)
        e = await vfs.lookup(("s",), "t.v2.out")
        assert e.size == len(b"running...\nstill running\n")
        assert await vfs.content(e) == b"running...\nstill running\n"
    run(main)


@pytest.mark.parametrize("change", ["drop_file", "remove_node"])
def test_snapshot_change_while_a_read_is_in_flight(change):
    """A refresh may swap the snapshot while lookup awaits the backend (the refresher and the lookup share
    the backend): the lookup must end in an exact entry or NotFound, not KeyError/AttributeError (EIO)."""
    async def main():
        fake, vfs = await mounted()

        async def meanwhile(path, kind):
            fake.on_read = None
            if change == "drop_file":
                fake.drop_file("/s/f/t3", "ecf")
            else:
                fake.remove("/s/f/t3")
            assert await vfs.refresh_once()

        fake.on_read = meanwhile
        try:
            entry = await vfs.lookup(("s", "f"), "t3.ecf")
        except NotFound:
            pass
        else:
            assert entry.size == len(b"t3\n")
        assert "t3.ecf" not in names(vfs, ("s", "f"))
    run(main)


# ---- server files -----------------------------------------------------------------------------------
def test_server_files_cached_for_one_interval():
    async def main():
        fake, vfs = await mounted(refresh=60)
        e = await vfs.lookup((".server",), "log")
        assert e.size == len(fake.server_files["log"])
        listed = {x.name: x for x in vfs.listdir((".server",))}
        assert listed["log"].size == len(fake.server_files["log"])  # measured by the lookup
        assert listed["stats"].size is None  # not looked up yet
        fake.server_files["log"] = b"a longer log than the first one\n"
        assert await vfs.content(e) == b"LOG: started\n"
        assert [c for c in fake.calls if c[0] == "server_file"] == [("server_file", "log")]
    run(main)


def test_missing_server_file_is_not_found():
    async def main():
        fake, vfs = await mounted()
        del fake.server_files["zombies"]
        with pytest.raises(NotFound):  # not the backend's NotProvided, which the FUSE adapter maps to EIO
            await vfs.lookup((".server",), "zombies")
    run(main)


# ---- reachability -----------------------------------------------------------------------------------
def test_unreachable_server_keeps_the_last_tree_and_recovers():
    async def main():
        fake, vfs = await mounted()
        before = vfs.snapshot
        listing = names(vfs, ("s", "f"))
        assert vfs.status.last_error == ""

        fake.down = True
        fake.set_state("/s/f/t1", "aborted")
        assert await vfs.refresh_once() == []
        assert vfs.status.reachable is False
        assert "connection refused" in vfs.status.last_error and vfs.status.last_error_time > 0
        assert vfs.snapshot is before
        assert names(vfs, ("s", "f")) == listing  # still the tree last seen
        status = await vfs.content(await vfs.lookup((".server",), "status"))
        assert b"\nreachable no\n" in status and b"\nstale yes" in status and b"connection refused" in status
        assert (await vfs.lookup((".server",), "status")).size == len(status)
        assert await vfs.refresh_once() == []  # stays down quietly
        assert vfs.status.reachable is False

        fake.down = False
        changed = await vfs.refresh_once()
        assert [(o.state, n.state) for o, n in changed] == [("complete", "aborted")]
        assert vfs.status.reachable is True
        assert "t1.abo" in names(vfs, ("s", "f"))
        status = await vfs.content(await vfs.lookup((".server",), "status"))
        assert b"\nreachable yes\n" in status and b"stale" not in status
    run(main)


def test_not_yet_contacted():
    async def main():
        fake = build()
        fake.down = True
        vfs = Vfs(fake)
        status = await vfs.content(await vfs.lookup((".server",), "status"))
        assert b"\nreachable not yet contacted\n" in status
        assert names(vfs, ()) == [".server"]
        await vfs.refresh_once()
        assert vfs.status.reachable is False
        assert names(vfs, ()) == [".server"]
        fake.down = False
        await vfs.refresh_once()
        assert "s" in names(vfs, ())
    run(main)
