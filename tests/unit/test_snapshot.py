"""wffs.snapshot: building immutable trees from backend deltas."""

from __future__ import annotations

import trio
import pytest

from tests.fakes import FakeBackend
from wffs.snapshot import ROOT, FileStat, NodeInfo, Snapshot


def tree() -> FakeBackend:
    fake = FakeBackend()
    fake.add("/s")
    fake.add("/s/f", "family", "active")
    fake.add("/s/f/t1", state="complete", files={"ecf": b"echo 1\n", "out": b"out 1\n"})
    fake.add("/s/f/t2", state="aborted", suspended=True)
    fake.add("/s/f/t2/al", "alias", "complete", files={"ecf": b"alias\n"})
    fake.add("/s/late", state="queued")
    fake.add("/s2", state="complete")
    return fake


def changes(fake: FakeBackend):
    return trio.run(fake.changes)


def paths(changed):
    return [(o.path if o else None, n.path if n else None) for o, n in changed]


# ---- records ----------------------------------------------------------------------------------------
def test_from_record():
    rec = {"path": "/s/f/t.v2", "kind": "task", "state": "active", "suspended": True, "since": 12.5,
           "att": b"task t.v2\n", "children": ["a"], "files": {"ecf": (None, 1.0), "out": (42, 2.0)}}
    n = NodeInfo.from_record(rec)
    assert (n.path, n.name, n.kind, n.state, n.suspended, n.since, n.att) == (
        "/s/f/t.v2", "t.v2", "task", "active", True, 12.5, b"task t.v2\n")
    assert n.children == ("a",) and isinstance(n.children, tuple)
    assert dict(n.files) == {"ecf": FileStat(None, 1.0), "out": FileStat(42, 2.0)}
    assert n.is_task
    with pytest.raises(TypeError):
        n.files["job"] = FileStat(1, 1.0)  # read-only


@pytest.mark.parametrize("kind, is_task", [("suite", False), ("family", False), ("task", True), ("alias", True)])
def test_is_task(kind, is_task):
    rec = {"path": "/x", "kind": kind, "state": "queued", "suspended": False, "since": 0.0, "att": b"",
           "children": ()}
    assert NodeInfo.from_record(rec).is_task is is_task


# ---- full deltas ------------------------------------------------------------------------------------
def test_empty_snapshot():
    snap = Snapshot()
    assert snap.node("/") is ROOT
    assert snap.node("/s") is None
    assert snap.children("/") == []
    assert snap.children("/nowhere") == []
    assert snap.generation == 0


def test_apply_full_delta():
    fake = tree()
    snap, changed = Snapshot().apply(changes(fake))
    assert snap.generation == 1
    assert set(snap.nodes) == set(fake.nodes)
    assert all(old is None for old, _ in changed)
    assert sorted(n.path for _, n in changed) == sorted(fake.nodes)
    t2 = snap.node("/s/f/t2")
    assert (t2.kind, t2.state, t2.suspended, t2.children) == ("task", "aborted", True, ("al",))
    assert snap.node("/s/f/t1").files["out"] == FileStat(len(b"out 1\n"), fake.nodes["/s/f/t1"].since)
    assert snap.node("/s/f/t1").files["ecf"].size is None
    assert snap.server["suites"] == ["s", "s2"]
    assert snap.server["version"] == fake.version


def test_children_order_follows_the_definition():
    fake = FakeBackend()
    fake.add("/s")
    for name in ("zeta", "alpha", "mid"):
        fake.add(f"/s/{name}")
    fake.add("/b")
    fake.add("/a")
    snap, _ = Snapshot().apply(changes(fake))
    assert [n.name for n in snap.children("/s")] == ["zeta", "alpha", "mid"]
    assert [n.name for n in snap.children("/")] == ["s", "b", "a"]


def test_children_skips_names_without_records():
    rec = {"path": "/s", "kind": "suite", "state": "queued", "suspended": False, "since": 0.0, "att": b"",
           "children": ("ghost", "t")}
    t = dict(rec, path="/s/t", kind="task", children=())
    snap, _ = Snapshot().apply({"full": True, "records": [rec, t], "removed": [],
                                "server": {"suites": ["s", "nosuch"]}})
    assert [n.path for n in snap.children("/s")] == ["/s/t"]
    assert [n.path for n in snap.children("/")] == ["/s"]
    assert snap.children("/s/t") == []


def test_full_delta_after_resync_reports_only_real_changes():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.resync()
    fake.set_state("/s/late", "submitted")
    fake.remove("/s2")
    delta = changes(fake)
    assert delta["full"] and delta["removed"] == []
    new, changed = snap.apply(delta)
    assert paths(changed) == [("/s/late", "/s/late"), ("/s2", None)]
    assert new.node("/s2") is None
    assert new.server["suites"] == ["s"]


def test_identical_full_delta_changes_nothing():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.resync()
    new, changed = snap.apply(changes(fake))
    assert changed == []
    assert dict(new.nodes) == dict(snap.nodes)
    assert new.generation == snap.generation + 1


# ---- incremental deltas -----------------------------------------------------------------------------
def test_no_news_is_none():
    fake = tree()
    changes(fake)
    assert changes(fake) is None


def test_incremental_state_change():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.set_state("/s/f/t1", "active")
    delta = changes(fake)
    assert not delta["full"]
    new, changed = snap.apply(delta)
    assert len(changed) == 1
    old, now = changed[0]
    assert (old.path, old.state, now.path, now.state) == ("/s/f/t1", "complete", "/s/f/t1", "active")
    assert now.since > old.since
    assert new.node("/s/f/t1") is now
    for p in fake.nodes:  # everything else is carried over as the same objects
        if p != "/s/f/t1":
            assert new.node(p) is snap.node(p)


def test_incremental_addition():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.add("/s/f/t3", state="queued")
    new, changed = snap.apply(changes(fake))
    assert sorted(paths(changed), key=str) == sorted([("/s/f", "/s/f"), (None, "/s/f/t3")], key=str)
    assert [n.name for n in new.children("/s/f")] == ["t1", "t2", "t3"]
    assert [n.name for n in snap.children("/s/f")] == ["t1", "t2"]


def test_incremental_removal_lists_every_removed_node():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.remove("/s/f")
    delta = changes(fake)
    assert sorted(delta["removed"]) == ["/s/f", "/s/f/t1", "/s/f/t2", "/s/f/t2/al"]
    new, changed = snap.apply(delta)
    assert ("/s", "/s") in paths(changed)  # its children changed
    gone = sorted(o.path for o, n in changed if n is None)
    assert gone == ["/s/f", "/s/f/t1", "/s/f/t2", "/s/f/t2/al"]
    for o, n in changed:
        if n is None:
            assert o is snap.node(o.path)
    assert [n.name for n in new.children("/s")] == ["late"]
    for p in gone:
        assert new.node(p) is None


def test_removed_suite():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    fake.remove("/s2")
    new, changed = snap.apply(changes(fake))
    assert paths(changed) == [("/s2", None)]
    assert [n.name for n in new.children("/")] == ["s"]


def test_removal_of_unknown_path_is_harmless():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    new, changed = snap.apply({"full": False, "records": [], "removed": ["/nosuch"], "server": None})
    assert changed == []
    assert dict(new.nodes) == dict(snap.nodes)


def test_server_kept_when_delta_has_none():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    new, _ = snap.apply({"full": False, "records": [], "removed": []})
    assert dict(new.server) == dict(snap.server)
    new2, _ = snap.apply({"full": False, "records": [], "removed": [], "server": None})
    assert dict(new2.server) == dict(snap.server)


# ---- immutability -----------------------------------------------------------------------------------
def test_old_snapshot_unchanged_after_apply():
    fake = tree()
    snap, _ = Snapshot().apply(changes(fake))
    before_nodes, before_server = dict(snap.nodes), dict(snap.server)
    before_gen = snap.generation
    fake.set_state("/s/f/t1", "queued")
    fake.remove("/s/late")
    fake.add("/s/new")
    fake.add("/s3")
    new, changed = snap.apply(changes(fake))
    assert len(changed) == 5  # t1, /s (children), /s/new, /s3 added; /s/late removed
    assert dict(snap.nodes) == before_nodes
    assert dict(snap.server) == before_server
    assert snap.generation == before_gen
    assert snap.node("/s/late") is not None and snap.node("/s/new") is None
    assert snap.node("/s/f/t1").state == "complete"
    assert [n.name for n in snap.children("/")] == ["s", "s2"]
    assert new.node("/s/late") is None and new.node("/s/new") is not None
    assert [n.name for n in new.children("/")] == ["s", "s2", "s3"]


def test_snapshot_mappings_are_read_only():
    snap, _ = Snapshot().apply(changes(tree()))
    with pytest.raises(TypeError):
        snap.nodes["/x"] = None
    with pytest.raises(TypeError):
        snap.server["suites"] = []
    with pytest.raises(Exception):
        snap.generation = 5  # frozen dataclass
    with pytest.raises(Exception):
        snap.node("/s").state = "aborted"


def test_apply_does_not_keep_a_reference_to_the_delta():
    fake = tree()
    delta = changes(fake)
    snap, _ = Snapshot().apply(delta)
    delta["records"].clear()
    delta["records"].append({"bogus": True})
    delta["server"] = {}
    assert "/s" in snap.nodes
    assert list(snap.server["suites"]) == ["s", "s2"]
    assert len(snap.nodes) == len(fake.nodes)
