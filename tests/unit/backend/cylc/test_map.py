"""Issue 14: Cylc 8 as the wffs tree (wffs.backend.cylc.map, pure) and the Cylc parts of layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wffs import layout
from wffs.backend.cylc import map as cylc_map
from wffs.backend.cylc.map import CylcTask, build_records, delta

TREE = {"prep": "root", "a": "FAM", "b": "FAM", "FAM": "BIG", "BIG": "root", "bad": "root", "c": "OTHER"}


def files(task):
    return {"job": (10, 1.0), "out": (5, 1.0)} if task.submits else {}


def records(tasks, tree=TREE, native=None):
    recs, paths, cycles = build_records(tasks, tree, files, native)
    return {r["path"]: r for r in recs}, paths, cycles


@pytest.mark.parametrize("cylc_state, held, code", [
    ("waiting", False, "que"), ("preparing", False, "sub"), ("submitted", False, "sub"),
    ("running", False, "act"), ("succeeded", False, "com"), ("failed", False, "abo"),
    ("submit-failed", False, "abo"), ("expired", False, "exp"), ("waiting", True, "sus"),
    ("failed", True, "sus"), ("no-such-state", False, "unk")])
def test_state_map(cylc_state, held, code):
    recs, _, _ = records([CylcTask("1", "bad", cylc_state, held=held)])
    rec = recs["/1/bad"]
    assert layout.status_code(rec["state"], rec["suspended"]) == code


def test_expired_has_a_code_of_its_own():
    assert layout.STATE_CODES["expired"] == "exp"
    assert layout.CODE_STATES["exp"] == "expired"
    assert layout.status_text("expired") == b"expired\n"


def test_cycles_are_top_level_and_families_follow_first_parents():
    tasks = [CylcTask("1", "a", "succeeded", submits=1), CylcTask("1", "prep", "running", submits=1),
             CylcTask("10", "bad", "failed", submits=2), CylcTask("2", "b", "waiting")]
    recs, paths, cycles = records(tasks)
    assert cycles == ["1", "2", "10"]  # integer cycle points in number order
    assert recs["/1"]["kind"] == "suite" and recs["/1"]["children"] == ("BIG", "prep")
    assert recs["/1/BIG"]["kind"] == "family" and recs["/1/BIG"]["children"] == ("FAM",)
    assert recs["/1/BIG/FAM"]["children"] == ("a",)
    assert recs["/1/BIG/FAM/a"]["kind"] == "task" and recs["/1/BIG/FAM/a"]["files"] == {"job": (10, 1.0), "out": (5, 1.0)}
    assert set(paths) == {"/1/BIG/FAM/a", "/1/prep", "/10/bad", "/2/BIG/FAM/b"}
    assert recs["/2/BIG/FAM/b"]["files"] == {}


def test_family_state_precedence():
    def fam(*states):
        recs, _, _ = records([CylcTask("1", n, s) for n, s in zip("ab", states)])
        return recs["/1/BIG/FAM"]["state"], recs["/1"]["state"]

    assert fam("succeeded", "failed") == ("aborted", "aborted")
    assert fam("succeeded", "running") == ("active", "active")
    assert fam("succeeded", "waiting") == ("queued", "queued")
    assert fam("succeeded", "expired") == ("expired", "expired")
    assert fam("succeeded", "succeeded") == ("complete", "complete")
    assert fam("running", "submit-failed")[0] == "aborted"


def test_families_and_cycles_are_never_suspended():
    recs, _, _ = records([CylcTask("1", "a", "waiting", held=True)], native={("1", "FAM"): ("waiting", True)})
    assert recs["/1/BIG/FAM"]["suspended"] is False and recs["/1"]["suspended"] is False
    assert recs["/1/BIG/FAM/a"]["suspended"] is True
    assert b"held yes" in recs["/1/BIG/FAM"]["att"]


def test_the_scheduler_wins_over_the_database():
    old = CylcTask("1", "bad", "succeeded", source="database")
    new = CylcTask("1", "bad", "running", source="scheduler")
    for order in ([old, new], [new, old]):
        recs, _, _ = records(order)
        assert recs["/1/bad"]["state"] == "active"


def test_unknown_namespaces_and_loops_stay_at_the_cycle():
    recs, _, _ = records([CylcTask("1", "x", "waiting"), CylcTask("1", "y", "waiting")],
                         tree={"y": "L1", "L1": "L2", "L2": "L1"})
    assert "/1/x" in recs
    assert any(p.endswith("/y") for p in recs)


def test_att_has_native_state_and_every_flag():
    task = CylcTask("1", "bad", "waiting", held=True, queued=True, retry=True, submits=1,
                    outputs=[("succeeded", False), ("started", True)],
                    prerequisites=[("1/prep:succeeded", False)],
                    xtriggers=[("_cylc_retry_1_bad", "wall_clock(trigger_time=1)", True)],
                    jobs=[(1, "failed", "2026-11-26T00:00:00Z", None, None, "42", "localhost")])
    att = cylc_map.render_task_att(task, "/1/bad").decode()
    for line in ("task 1/bad", "cylc_state waiting", "state queued (held)", "  held yes", "  queued yes",
                 "  runahead no", "  retry yes", "  xtriggered no", "  started yes", "  succeeded no",
                 "  1/prep:succeeded no", "  _cylc_retry_1_bad wall_clock(trigger_time=1) yes",
                 "  01 failed submitted 2026-11-26T00:00:00Z started - finished - job_id 42 platform localhost"):
        assert line in att.splitlines(), (line, att)


def test_why_for_waiting_tasks_only():
    waiting = CylcTask("1", "a", "waiting", runahead=True, prerequisites=[("1/prep:succeeded", False),
                                                                          ("1/x:succeeded", True)])
    why = cylc_map.task_why(waiting).decode()
    assert "1/prep:succeeded" in why and "1/x" not in why and "runahead" in why
    assert cylc_map.task_why(CylcTask("1", "a", "running")) is None
    recs, _, _ = records([waiting, CylcTask("1", "b", "waiting", held=True)])
    assert recs["/1/BIG/FAM/a"]["why"] == cylc_map.task_why(waiting)
    assert recs["/1/BIG/FAM/b"]["why"] is None  # held: shown suspended, no .why
    assert b"1/a" in recs["/1/BIG/FAM"]["why"]


def test_delta_sends_what_changed_and_what_went():
    sent = {}
    first, _, _ = build_records([CylcTask("1", "a", "waiting"), CylcTask("1", "bad", "running")], TREE, files)
    changed, removed = delta(first, sent, full=True)
    assert len(changed) == len(first) and removed == []
    second, _, _ = build_records([CylcTask("1", "a", "waiting"), CylcTask("1", "bad", "failed")], TREE, files)
    changed, removed = delta(second, sent, full=False)
    assert {r["path"] for r in changed} == {"/1", "/1/bad"}
    third, _, _ = build_records([CylcTask("1", "bad", "failed")], TREE, files)
    changed, removed = delta(third, sent, full=False)
    assert set(removed) == {"/1/BIG", "/1/BIG/FAM", "/1/BIG/FAM/a"}
    assert [r["path"] for r in changed] == ["/1"]  # its children changed


@given(st.integers(1, 999), st.integers(1, 999), st.sampled_from(["job", "out", "err"]))
def test_job_kinds_round_trip(submit, latest, base):
    if submit > latest:
        submit, latest = latest, submit
    kind = cylc_map.job_kind(submit, latest, base)
    assert cylc_map.parse_kind(kind, latest) == (submit, cylc_map.JOB_FILES[base])
    assert (kind == base) == (submit == latest)
    if submit != latest:
        assert layout.EARLIER_SUBMIT.match(kind)


@pytest.mark.parametrize("kind", ["ecf", "man", "0.out", "x1.out", "01.log", "01", ".out"])
def test_parse_kind_rejects(kind):
    with pytest.raises(ValueError):
        cylc_map.parse_kind(kind, 3)


def test_earlier_submits_are_listed_after_the_latest_files():
    names = layout.node_names("/1", "bad", is_task=True, state="aborted", suspended=False,
                              task_files={"job", "out", "err", "02.out", "01.out", "01.err", "bogus", "1.out"})
    assert [n.name for n in names] == ["bad.abo", "bad.att", "bad.job", "bad.out", "bad.err",
                                       "bad.01.err", "bad.01.out", "bad.02.out"]
    assert all(n.kind is layout.Kind.TASK_FILE for n in names[2:])
    # ecFlow tasks are unchanged: they never have err
    names = layout.node_names("/s", "t", is_task=True, state="complete", suspended=False,
                              task_files={"ecf", "job", "out", "man"})
    assert [n.name for n in names] == ["t.com", "t.att", "t.ecf", "t.job", "t.out", "t.man"]


def test_mirror_state_and_remote_paths():
    assert cylc_map.mirror_state("succeeded") == "complete"
    assert cylc_map.mirror_state("expired") == "aborted"
    assert cylc_map.mirror_state("waiting") == "queued"
    assert cylc_map.split_remote("/1/held_one") == "1/held_one"
    assert cylc_map.split_remote("/20260101T0000Z/BIG/FAM/a") == "20260101T0000Z/a"
    with pytest.raises(ValueError):
        cylc_map.split_remote("/1")


def test_cycle_point_order():
    assert sorted(["10", "2", "1"], key=cylc_map.cycle_key) == ["1", "2", "10"]
    iso = ["20260102T0000Z", "20260101T1200Z", "20260101T0000Z"]
    assert sorted(iso, key=cylc_map.cycle_key) == sorted(iso)
