"""wffs.vfs against the in-memory FakeBackend: names, entries, exact sizes, contents, refresh."""

from __future__ import annotations

import re

import pytest
import trio

from tests.fakes import FakeBackend
from wffs.backend.base import NotProvided, ServerUnavailable
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
        assert names(vfs, ()) == [".server", "s", "s.que", "s.att", "s.def", "s.why", "s2", "s2.com", "s2.att",
                                  "s2.def"]
        assert names(vfs, ("s",)) == ["f", "f.act", "f.att", "f.def", "t.v2.act", "t.v2.att", "t.v2.out"]
        assert names(vfs, ("s", "f")) == [
            "t1.com", "t1.att", "t1.ecf", "t1.job", "t1.out", "t1.man",
            "t2", "t2.sus", "t2.att", "t2.ecf",
            "t3.que", "t3.att", "t3.why", "t3.ecf",
        ]
        assert names(vfs, ("s2",)) == []
        assert names(vfs, (".server",)) == ["status", "nodes", "log", "stats", "zombies", "suites.def", "mirrors",
                                            "events"]
        kinds = {e.name: e.kind for e in vfs.listdir(("s", "f"))}
        assert kinds["t2"] is Kind.DIR and kinds["t2.sus"] is Kind.STATUS and kinds["t1.att"] is Kind.ATT
        assert kinds["t1.out"] is Kind.TASK_FILE and kinds["t3.why"] is Kind.NODE_TEXT
        assert {e.name: e.kind for e in vfs.listdir(())}["s.def"] is Kind.NODE_TEXT
        assert {e.name: e.kind for e in vfs.listdir((".server",))}["events"] is Kind.EVENTS
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


def test_listings_are_kept_until_a_node_of_the_directory_changes():
    async def main():
        fake, vfs = await mounted()
        f_listing, s2_root = vfs.listdir(("s", "f")), vfs.listdir(("s", "f", "t2"))
        assert vfs.listdir(("s", "f")) is f_listing  # the same object: the FUSE adapter keeps its attributes
        fake.set_state("/s/t.v2", "complete")  # a node of /s, not of /s/f
        assert await vfs.refresh_once()
        assert vfs.listdir(("s", "f")) is f_listing and vfs.listdir(("s", "f", "t2")) is s2_root
        fake.set_state("/s/f/t3", "aborted")
        assert await vfs.refresh_once()
        again = vfs.listdir(("s", "f"))
        assert again is not f_listing and "t3.abo" in [e.name for e in again]
        fake.remove("/s/f/t2")  # its alias directory goes with it
        assert await vfs.refresh_once()
        with pytest.raises(NotFound):
            vfs.listdir(("s", "f", "t2"))
    run(main)


def test_a_script_read_at_another_size_than_listed_is_listed_again():
    async def main():
        fake, vfs = await mounted()
        fake.set_file("/s/f/t3", "ecf", b"t3\n", size_known=True)
        assert await vfs.refresh_once()
        listing = vfs.listdir(("s", "f"))
        assert {e.name: e for e in listing}["t3.ecf"].size == 3
        fake.nodes["/s/f/t3"].files["ecf"].data = b"edited in place, no state change\n"
        entry = await vfs.lookup(("s", "f"), "t3.ecf")
        data = await vfs.content(entry)
        relisted = {e.name: e for e in vfs.listdir(("s", "f"))}
        assert relisted["t3.ecf"].size == len(data) == len(b"edited in place, no state change\n")
    run(main)


def test_node_texts_of_a_directory_are_measured_in_one_call():
    async def main():
        fake = build()
        for i in range(5):
            fake.add(f"/s/g{i}", "family")
        _, vfs = await mounted(fake)
        fake.calls.clear()
        for name in [e.name for e in vfs.listdir(("s",)) if e.name.endswith(".def")]:  # what `ls -l` does
            entry = await vfs.lookup(("s",), name)
            assert entry.size == len(await vfs.content(entry))
        assert [c[0] for c in fake.calls] == ["read_many"]
        assert sorted(p for p, _ in fake.calls[0][1]) == ["/s/f"] + [f"/s/g{i}" for i in range(5)]
    run(main)


def test_a_directory_named_like_a_siblings_file_is_listed_with_a_mark():
    """Family `a.que` beside task `a` (whose status file is `a.que`): the family is `a.que~`, whatever a's state."""
    async def main():
        fake = FakeBackend()
        fake.add("/s")
        fake.add("/s/a", state="queued")
        fake.add("/s/a.que", "family")
        fake.add("/s/a.que/x", state="complete")
        _, vfs = await mounted(fake)
        entries = {e.name: e for e in vfs.listdir(("s",))}
        assert entries["a.que"].kind is Kind.STATUS and entries["a.que"].node == "/s/a"
        assert entries["a.que~"].is_dir and entries["a.que~"].node == "/s/a.que"
        assert names(vfs, ("s", "a.que~"))[:2] == ["x.com", "x.att"]
        assert vfs.components_of("/s/a.que/x") == ("s", "a.que~", "x")
        listing = vfs.listdir(("s", "a.que~"))
        fake.set_state("/s/a.que/x", "aborted")
        fake.set_state("/s/a", "complete")
        await vfs.refresh_once()
        assert vfs.listdir(("s", "a.que~")) is not listing and "x.abo" in names(vfs, ("s", "a.que~"))
        assert "a.que~" in names(vfs, ("s",)) and "a.com" in names(vfs, ("s",))  # the mark stays
        with pytest.raises(NotFound):
            await vfs.lookup(("s",), "a~")  # no other name leads to a directory
    run(main)


def test_server_nodes_lists_every_node_with_its_state_and_status_file():
    async def main():
        fake = build()
        fake.add("/s/f/t3.que", "family")  # a directory named like t3's status file: listed as t3.que~
        fake.add("/s/f/t3.que/x", state="aborted")
        _, vfs = await mounted(fake)
        entry = await vfs.lookup((".server",), "nodes")
        text = await vfs.content(entry)
        assert entry.size == len(text)
        rows = [line.split("\t") for line in text.decode().splitlines()]
        assert {r[0] for r in rows} == set(fake.paths())
        by_path = {r[0]: r[1:] for r in rows}
        assert by_path["/s/f/t2"] == ["suspended", "task", "s/f/t2.sus"]
        assert by_path["/s/t.v2"] == ["active", "task", "s/t.v2.act"]
        assert by_path["/s/f/t3.que/x"] == ["aborted", "task", "s/f/t3.que~/x.abo"]
        for path, (_state, _kind, status_file) in by_path.items():  # every status file is where it says
            *dirs, name = status_file.split("/")
            assert name in names(vfs, tuple(dirs)), path
        fake.set_state("/s/f/t1", "aborted")
        await vfs.refresh_once()
        again = await vfs.content(await vfs.lookup((".server",), "nodes"))
        assert "/s/f/t1\taborted\ttask\ts/f/t1.abo\n" in again.decode()
    run(main)


def families(*paths: str, kinds=("ecf",)) -> FakeBackend:
    """A server with complete tasks t0-t2 in each family ('/s/f'), with files of these kinds that say
    whose they are: b'f0\\n' is /s/f/t0's script, b'out f0\\n' its output."""
    fake = FakeBackend()
    for path in paths:
        suite, family = path.strip("/").split("/")
        if f"/{suite}" not in fake.nodes:
            fake.add(f"/{suite}")
        fake.add(path, "family")
        for t in range(3):
            fake.add(f"{path}/t{t}", state="complete",
                     files={k: (f"{family}{t}\n" if k == "ecf" else f"{k} {family}{t}\n").encode() for k in kinds})
    return fake


def batches(fake: FakeBackend) -> list:
    """The paths of each read_many call so far."""
    return [sorted(p for p, _ in c[1]) for c in fake.calls if c[0] == "read_many"]


def test_reading_a_directory_reads_the_next_one_ahead():
    """`cat` of every file in find's order: the next directory's files of the kind come in the background."""
    async def main():
        fake = families("/s/f", "/s/g", "/s/h")
        _, vfs = await mounted(fake)
        fake.calls.clear()
        assert await vfs.content(await vfs.lookup(("s", "f"), "t0.ecf")) == b"f0\n"
        await trio.sleep(0.05)  # the read-ahead runs
        assert batches(fake) == [["/s/f/t0", "/s/f/t1", "/s/f/t2"], ["/s/g/t0", "/s/g/t1", "/s/g/t2"]]
        fake.calls.clear()
        for t in range(3):  # already there: no server call for g
            assert await vfs.content(await vfs.lookup(("s", "g"), f"t{t}.ecf")) == f"g{t}\n".encode()

        assert [c[0] for c in fake.calls if c[0] != "read_many" or "/s/g/t0" in dict(c[1])] == []
        await trio.sleep(0.05)
        assert [sorted(p for p, _ in c[1]) for c in fake.calls] == [["/s/h/t0", "/s/h/t1", "/s/h/t2"]]  # one ahead
    run(main)


def test_read_ahead_brings_every_kind_read_lately_in_one_call():
    """A backup reads scripts and outputs in turn: the next directory's come together, in one call, so
    that a reader of outputs never waits behind a read-ahead of scripts."""
    async def main():
        fake = families("/s/f", "/s/g", "/s/h", kinds=("ecf", "out"))
        _, vfs = await mounted(fake)
        assert await vfs.content(await vfs.lookup(("s", "f"), "t0.ecf")) == b"f0\n"
        assert await vfs.content(await vfs.lookup(("s", "f"), "t0.out")) == b"out f0\n"
        await trio.sleep(0.05)
        fake.calls.clear()
        assert await vfs.content(await vfs.lookup(("s", "g"), "t0.ecf")) == b"g0\n"
        await trio.sleep(0.05)  # the read-ahead of h runs
        for_h = [sorted(c[1]) for c in fake.calls if c[0] == "read_many" and ("/s/h/t0", "ecf") in c[1]]
        assert for_h == [sorted((f"/s/h/t{t}", kind) for t in range(3) for kind in ("ecf", "out"))]
        fake.calls.clear()
        for t in range(3):  # h's scripts and outputs are there: no call at all
            for kind in ("ecf", "out"):
                data = await vfs.content(await vfs.lookup(("s", "h"), f"t{t}.{kind}"))
                assert data == (f"h{t}\n" if kind == "ecf" else f"out h{t}\n").encode()
        assert fake.calls == []
    run(main)


def test_a_cached_file_is_what_lookup_and_content_give():
    """open()'s short way: for a status file, an .att and a task file whose content is at hand, the same
    entry and bytes as the long way (size as read, even where the listing said otherwise); None for
    anything else."""
    async def main():
        fake, vfs = await mounted()
        assert vfs.cached_file(("s", "f"), "t1.out") is None  # nothing read yet
        await vfs.content(await vfs.lookup(("s", "f"), "t1.ecf"))  # reads the directory's scripts
        for components, name in [(("s", "f"), "t1.ecf"), (("s", "f"), "t2.ecf"), (("s", "f"), "t3.ecf"),
                                 (("s", "f"), "t1.com"), (("s", "f"), "t1.att"), (("s", "f"), "t2.sus"),
                                 (("s",), "f.act"), (("s",), "f.att"), ((), "s.que")]:
            entry = await vfs.lookup(components, name)
            assert vfs.cached_file(components, name) == (entry, await vfs.content(entry)), name
        for components, name in [(("s", "f"), "nope.ecf"), (("s", "nope"), "t1.ecf"), (("s", "f", "t1.com"), "x"),
                                 ((".server",), "status"), (("s",), "f.def"), ((), "s.why")]:
            assert vfs.cached_file(components, name) is None, name
        fake.set_file("/s/f/t3", "ecf", b"t3\n", size_known=True)
        await vfs.refresh_once()
        fake.nodes["/s/f/t3"].files["ecf"].data = b"edited in place, longer than before\n"  # listed: 3 bytes
        entry = await vfs.lookup(("s", "f"), "t3.ecf")
        data = await vfs.content(entry)
        assert entry.size == 3 and data == b"edited in place, longer than before\n"
        assert vfs.cached_file(("s", "f"), "t3.ecf") == (entry._replace(size=len(data)), data)
    run(main)


def test_read_ahead_passes_directories_without_such_files():
    """After the last family of a suite comes the next suite's own directory (no tasks): the read-ahead
    goes on to its first family, where the reader will want files next."""
    async def main():
        fake = families("/s/f", "/u/f")
        _, vfs = await mounted(fake)
        fake.calls.clear()
        assert await vfs.content(await vfs.lookup(("s", "f"), "t0.ecf")) == b"f0\n"
        await trio.sleep(0.05)  # the read-ahead runs
        assert batches(fake) == [["/s/f/t0", "/s/f/t1", "/s/f/t2"], ["/u/f/t0", "/u/f/t1", "/u/f/t2"]]
    run(main)


def test_listings_follow_a_directory_whose_mark_comes_and_goes():
    """A sibling added or removed can put the clash mark on a directory or take it off: what was listed
    under the other name must not be served again, nor crash when its nodes go."""
    async def main():
        fake = FakeBackend()
        fake.add("/s")
        fake.add("/s/a.que", "family")
        fake.add("/s/a.que/c", state="queued")
        fake.add("/s/a.que/d", state="queued")
        _, vfs = await mounted(fake)
        assert "c.que" in names(vfs, ("s", "a.que"))
        fake.add("/s/a", state="queued")  # now /s/a.que is listed as a.que~
        await vfs.refresh_once()
        assert "a.que~" in names(vfs, ("s",)) and "c.que" in names(vfs, ("s", "a.que~"))
        fake.remove("/s/a.que/d")  # while marked
        fake.set_state("/s/a.que/c", "complete")
        await vfs.refresh_once()
        assert names(vfs, ("s", "a.que~"))[:2] == ["c.com", "c.att"]
        fake.remove("/s/a")  # the mark goes
        await vfs.refresh_once()
        listed = names(vfs, ("s", "a.que"))
        assert "c.com" in listed and "c.que" not in listed and not any(n.startswith("d.") for n in listed)
        with pytest.raises(NotFound):
            vfs.listdir(("s", "a.que~"))
    run(main)


def test_server_listing_follows_the_nodes_file():
    async def main():
        fake, vfs = await mounted()
        before = {e.name: e for e in vfs.listdir((".server",))}["nodes"]
        fake.add("/s/f/t9", state="aborted")
        await vfs.refresh_once()
        listed = {e.name: e for e in vfs.listdir((".server",))}["nodes"]
        data = await vfs.content(listed)
        assert listed.size == len(data) > before.size
    run(main)


def test_a_script_edited_back_to_its_size_is_listed_at_it_again():
    async def main():
        fake, vfs = await mounted()
        fake.set_file("/s/f/t3", "ecf", b"t3\n", size_known=True)
        await vfs.refresh_once()
        script = fake.nodes["/s/f/t3"].files["ecf"]
        for data in (b"edited: longer\n", b"t3\n"):  # edited, then put back, without a state change
            script.data = data
            vfs._contents.clear()  # as after CACHE_SECONDS: read again
            assert await vfs.content(await vfs.lookup(("s", "f"), "t3.ecf")) == data
            assert {e.name: e for e in vfs.listdir(("s", "f"))}["t3.ecf"].size == len(data)
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
                           (Kind.TASK_FILE, "man"), (Kind.SERVER_FILE, "status"), (Kind.SERVER_FILE, "log"),
                           (Kind.NODE_TEXT, "why"), (Kind.NODE_TEXT, "def"), (Kind.EVENTS, "events")]:
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


# ---- <node>.why and <node>.def (issue 12) ------------------------------------------------------------
def node_text_calls(fake):
    return [c for c in fake.calls if c[0] == "node_text"]


def test_why_listed_only_for_waiting_nodes():
    async def main():
        fake = build()
        fake.add("/s/f/t4", state="unknown")
        fake.add("/s/f/t5", state="queued", suspended=True)
        fake.add("/s/f/t6", state="submitted")
        fake, vfs = await mounted(fake)
        whys = sorted(n for n in names(vfs, ("s", "f")) if n.endswith(".why"))
        assert whys == ["t3.why", "t4.why"]  # queued and unknown; not suspended, complete, aborted, submitted
        assert "s.why" in names(vfs, ()) and "s2.why" not in names(vfs, ())  # suites too
        assert "f.why" not in names(vfs, ("s",))  # active family

        fake.set_state("/s/f/t3", "active")
        fake.set_state("/s/f/t1", "queued")
        fake.set_state("/s/f/t4", "unknown", suspended=True)
        assert await vfs.refresh_once()
        whys = sorted(n for n in names(vfs, ("s", "f")) if n.endswith(".why"))
        assert whys == ["t1.why"]
        with pytest.raises(NotFound):
            await vfs.lookup(("s", "f"), "t3.why")
        assert node_text_calls(fake) == []  # listing asks nothing of the server
    run(main)


def test_why_content_and_size_come_from_the_backend():
    async def main():
        fake, vfs = await mounted(refresh=60)
        fake.node_texts[("/s/f/t3", "why")] = b"trigger /s/f/t1 == complete is false\n"
        listed = {e.name: e for e in vfs.listdir(("s", "f"))}["t3.why"]
        assert listed.size is None and listed.volatile  # not looked up yet
        assert listed.node == "/s/f/t3" and listed.file == "why"
        entry = await vfs.lookup(("s", "f"), "t3.why")
        assert entry.size == len(b"trigger /s/f/t1 == complete is false\n")
        assert await vfs.content(entry) == b"trigger /s/f/t1 == complete is false\n"
        assert {e.name: e for e in vfs.listdir(("s", "f"))}["t3.why"].size == entry.size  # measured now
        assert node_text_calls(fake) == [("node_text", "/s/f/t3", "why")]  # once: cached

        assert await vfs.content(await vfs.lookup((), "s.why")) == b"why /s\n"
        assert node_text_calls(fake)[-1] == ("node_text", "/s", "why")
    run(main)


def test_node_text_cached_per_snapshot_generation():
    async def main():
        fake, vfs = await mounted(refresh=60)
        entry = await vfs.lookup(("s", "f"), "t3.why")
        assert await vfs.content(entry) == b"why /s/f/t3\n"
        fake.node_texts[("/s/f/t3", "why")] = b"a new reason, longer than the first\n"
        assert await vfs.content(entry) == b"why /s/f/t3\n"  # same snapshot, same interval
        fake.set_state("/s/f/t1", "aborted")  # another node changes: the reason may have too
        assert await vfs.refresh_once()
        entry = await vfs.lookup(("s", "f"), "t3.why")
        assert entry.size == len(b"a new reason, longer than the first\n")
        assert await vfs.content(entry) == b"a new reason, longer than the first\n"
        assert len(node_text_calls(fake)) == 2
    run(main)


def test_node_text_refetched_after_the_refresh_interval():
    async def main():
        fake, vfs = await mounted(refresh=0.05)
        assert await vfs.content(await vfs.lookup(("s", "f"), "t3.why")) == b"why /s/f/t3\n"
        fake.node_texts[("/s/f/t3", "why")] = b"later\n"
        await trio.sleep(0.12)
        assert await vfs.content(await vfs.lookup(("s", "f"), "t3.why")) == b"later\n"
    run(main)


def test_def_for_suites_and_families_only():
    async def main():
        fake, vfs = await mounted()
        assert "s.def" in names(vfs, ()) and "s2.def" in names(vfs, ())
        assert "f.def" in names(vfs, ("s",))
        assert not [n for n in names(vfs, ("s", "f")) + names(vfs, ("s", "f", "t2")) if n.endswith(".def")]
        entry = await vfs.lookup(("s",), "f.def")
        assert (entry.kind, entry.node, entry.file) == (Kind.NODE_TEXT, "/s/f", "def")
        data = await vfs.content(entry)
        assert data == fake.definition("/s/f").encode()
        assert data.startswith(b"family f\n") and b"  task t1\n" in data and b"    alias al\n" in data
        assert entry.size == len(data)
        assert node_text_calls(fake) == [("node_text", "/s/f", "def")]
    run(main)


def test_node_text_of_an_unreachable_server():
    async def main():
        fake, vfs = await mounted()
        fake.down = True
        with pytest.raises(ServerUnavailable):  # EIO: the reason cannot be known
            await vfs.lookup(("s", "f"), "t3.why")
        fake.down = False
        await vfs.refresh_once()  # the refresher finds it back
        assert await vfs.content(await vfs.lookup(("s", "f"), "t3.why")) == b"why /s/f/t3\n"
    run(main)


def test_after_a_failed_call_reads_fail_at_once_until_a_refresh_gets_an_answer():
    """`tar` over a hung server must not wait --timeout for every file: one wait, then EIO at once."""
    async def main():
        fake, vfs = await mounted()
        fake.down = True
        with pytest.raises(ServerUnavailable):
            await vfs.content(await vfs.lookup(("s", "f"), "t2.ecf"))
        assert vfs.status.reachable is False and "connection refused" in vfs.status.last_error
        fake.down = False  # back, but nobody has asked yet
        fake.calls.clear()
        for name in ("t2.ecf", "t3.ecf"):
            with pytest.raises(ServerUnavailable, match="not answering since"):
                await vfs.content(await vfs.lookup(("s", "f"), name))
        with pytest.raises(ServerUnavailable):
            await vfs.content(await vfs.lookup((".server",), "log"))
        assert fake.calls == []  # failed without asking the server
        await vfs.refresh_once()
        assert vfs.status.reachable is True
        assert await vfs.content(await vfs.lookup(("s", "f"), "t3.ecf")) == b"t3\n"
    run(main)


def test_node_text_of_a_node_the_server_no_longer_has():
    async def main():
        fake, vfs = await mounted()
        fake.remove("/s/f/t3")  # the snapshot still lists it
        assert "t3.why" in names(vfs, ("s", "f"))
        # ENOENT either way (the FUSE adapter maps both); NotFound would match the other server files
        with pytest.raises((NotFound, NotProvided)):
            await vfs.lookup(("s", "f"), "t3.why")
    run(main)


# ---- .server/events (issue 12) -----------------------------------------------------------------------
def event_lines(data: bytes) -> list[list[str]]:
    return [line.split("\t") for line in data.decode().splitlines()]


def test_server_events_grow_with_state_changes():
    async def main():
        fake, vfs = await mounted()
        first = await vfs.lookup((".server",), "events")
        assert (first.kind, first.size, first.volatile) == (Kind.EVENTS, 0, True)
        assert await vfs.content(first) == b""  # the first view of the tree is no change

        fake.set_state("/s/f/t3", "active")
        fake.add("/s/f/t4")  # a new node is no state change
        assert await vfs.refresh_once()
        entry = await vfs.lookup((".server",), "events")
        data = await vfs.content(entry)
        assert entry.size == len(data) > 0
        assert entry.mtime == vfs.events.changed_at
        [line] = event_lines(data)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line[0])
        assert line[1:] == ["/s/f/t3", "que", "act"]

        fake.set_state("/s/f/t3", "active", suspended=True)
        fake.set_state("/s/f/t1", "complete")  # same state, new time: no line
        assert await vfs.refresh_once()
        again = await vfs.content(await vfs.lookup((".server",), "events"))
        assert again.startswith(data)  # append-only
        assert [line[1:] for line in event_lines(again)] == [["/s/f/t3", "que", "act"], ["/s/f/t3", "act", "sus"]]
        listed = {e.name: e for e in vfs.listdir((".server",))}["events"]
        assert listed.size == len(again)

        fake.down = True
        fake.set_state("/s/f/t1", "aborted")
        assert await vfs.refresh_once() == []
        assert len(vfs.events) == len(again)  # nothing seen while down
        fake.down = False
        assert await vfs.refresh_once()
        assert event_lines(vfs.events.read(0, len(vfs.events)))[-1][1:] == ["/s/f/t1", "com", "abo"]
    run(main)



# ---- the module's names -----------------------------------------------------------------------------
def test_names_other_modules_import_from_vfs_stay_there():
    """They live in smaller modules now; wffs.vfs still hands them out."""
    import wffs.vfs
    from wffs import entry, freshness, server_status, vfs_errors

    assert wffs.vfs.Entry is entry.Entry and wffs.vfs.ServerStatus is server_status.ServerStatus
    assert (wffs.vfs.NotFound, wffs.vfs.NotADir, wffs.vfs.InvalidControl) == (
        vfs_errors.NotFound, vfs_errors.NotADir, vfs_errors.InvalidControl)
    for name in ("CACHE_SECONDS", "SETTLE_SECONDS", "DEFAULT_SCRIPT_AGE", "EDITED_IN_PLACE", "RUNNING_STATES",
                 "being_written"):
        assert getattr(wffs.vfs, name) is getattr(freshness, name)


def test_files_a_batch_is_reading_are_not_asked_for_again_by_the_next():
    """A read-ahead still under way when the refresh interval turns (its batch key is the old interval's):
    a lookup's batch of the same directory waits for those files instead of asking the server again."""
    async def main():
        fake, vfs = await mounted()
        reading, release = trio.Event(), trio.Event()

        async def slow(path, kind):
            reading.set()
            await release.wait()

        fake.on_read = slow
        reads = vfs._reads
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reads._read_batch_now, ("s", "f"), ("ecf",))
            await reading.wait()
            second = trio.Event()

            async def again():
                await reads._read_batch_now(("s", "f"), ("ecf",))
                second.set()

            nursery.start_soon(again)
            await trio.sleep(0.05)
            assert not second.is_set()  # it waits for the first batch ...
            release.set()
            await second.wait()  # ... and finds the contents it brought
        assert [c[0] for c in fake.calls].count("read_many") == 1
        t1 = vfs.cached_file(("s", "f"), "t1.ecf")
        assert t1 is not None and t1[1] == T1_ECF

    run(main)
