"""Issue 14: the Cylc worker's database and run-directory side, on a made-up run directory (no scheduler).

The run directory has what a Cylc 8 scheduler leaves: log/db (task_states, task_jobs, task_pool),
log/job/CYCLE/TASK/NN/{job,job.out,job.err} and log/config/flow-processed.cylc; no contact file, so the
worker finds the scheduler stopped and shows the whole run from the database.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from wffs.backend.cylc.database import inherits_of, parse_time
from wffs.backend.cylc.session import CylcSession
from wffs.backend.protocol import Missing, Unavailable

FLOW = """\
[scheduling]
    [[graph]]
        R1 = prep => FAM
[runtime]
    [[root]]
        script = true
    [[FAM]]
    [[a, b]]
        inherit = FAM
        [[[environment]]]
            inherit = not a parent
    [[prep]]
"""


def make_run(home, workflow="wf"):
    run = home / "cylc-run" / workflow
    (run / "log" / "config").mkdir(parents=True)
    (run / "log" / "config" / "flow-processed.cylc").write_text(FLOW)
    con = sqlite3.connect(run / "log" / "db")
    con.executescript("""
        CREATE TABLE task_states(name TEXT, cycle TEXT, flow_nums TEXT, time_created TEXT, time_updated TEXT,
            submit_num INTEGER, status TEXT, flow_wait INTEGER, is_manual_submit INTEGER);
        CREATE TABLE task_jobs(cycle TEXT, name TEXT, submit_num INTEGER, flow_nums TEXT, is_manual_submit INTEGER,
            try_num INTEGER, time_submit TEXT, time_submit_exit TEXT, submit_status INTEGER, time_run TEXT,
            time_run_exit TEXT, run_signal TEXT, run_status INTEGER, platform_name TEXT, job_runner_name TEXT,
            job_id TEXT);
        CREATE TABLE task_pool(cycle TEXT, name TEXT, flow_nums TEXT, status TEXT, is_held INTEGER);
        INSERT INTO task_states VALUES ('prep', '1', '[1]', '', '2026-11-26T01:00:00Z', 1, 'succeeded', 0, 0);
        INSERT INTO task_states VALUES ('a', '1', '[1]', '', '2026-11-26T01:01:00Z', 2, 'failed', 0, 0);
        INSERT INTO task_states VALUES ('b', '1', '[1]', '', '2026-11-26T01:02:00Z', 0, 'waiting', 0, 0);
        INSERT INTO task_jobs VALUES ('1', 'prep', 1, '[1]', 0, 1, '2026-11-26T00:59:00Z', '', 0,
            '2026-11-26T00:59:30Z', '2026-11-26T01:00:00Z', NULL, 0, 'localhost', 'background', '11');
        INSERT INTO task_jobs VALUES ('1', 'a', 1, '[1]', 0, 1, 't', '', 0, 't', 't', 'ERR', 1, 'localhost', 'background', '12');
        INSERT INTO task_jobs VALUES ('1', 'a', 2, '[1]', 0, 2, 't', '', 0, 't', 't', 'ERR', 1, 'localhost', 'background', '13');
        INSERT INTO task_pool VALUES ('1', 'b', '[1]', 'waiting', 1);
    """)
    con.commit()
    con.close()
    contents = {}
    for task, submits in (("prep", 1), ("a", 2)):
        for n in range(1, submits + 1):
            d = run / "log" / "job" / "1" / task / f"{n:02d}"
            d.mkdir(parents=True)
            for f in ("job", "job.out", "job.err"):
                data = f"{task} {n} {f}\n".encode() + bytes([0xff, 0, 10])  # not UTF-8, a NUL: bytes as they are
                (d / f).write_bytes(data)
                contents[(task, n, f)] = data
    return run, contents


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    run, contents = make_run(tmp_path)
    s = CylcSession("wf", 64 << 20, 1.0)
    s.contents = contents
    s.run = run
    return s


def test_a_stopped_workflow_is_read_from_its_database(session):
    d = session.op_sync()
    recs = {r["path"]: r for r in d["records"]}
    assert d["full"] and d["server"]["state"] == "stopped" and d["server"]["suites"] == ["1"]
    assert recs["/1/prep"]["state"] == "complete"
    assert recs["/1/FAM/a"]["state"] == "aborted"
    assert recs["/1/FAM/b"]["state"] == "queued" and recs["/1/FAM/b"]["suspended"] is True  # held, from task_pool
    assert recs["/1"]["children"] == ("FAM", "prep") and recs["/1/FAM"]["state"] == "aborted"
    assert recs["/1/prep"]["since"] == parse_time("2026-11-26T01:00:00Z")
    att = recs["/1/FAM/a"]["att"].decode()
    assert "source database" in att and "submits 2" in att and "  02 failed" in att
    assert sorted(recs["/1/FAM/a"]["files"]) == ["01.err", "01.job", "01.out", "err", "job", "out"]
    assert recs["/1/FAM/b"]["files"] == {}
    assert session.op_sync() is None  # nothing changed


def test_a_first_sync_of_a_stopped_workflow_says_it_reads_the_database(session):
    said = []
    session.report = said.append
    assert session.op_sync()["full"]
    assert said == ["the workflow is stopped; reading its database"]
    session.op_sync()
    assert len(said) == 1  # only a first sync says how it goes


def test_files_are_the_bytes_on_disk_with_their_sizes(session):
    recs = {r["path"]: r for r in session.op_sync()["records"]}
    for path, task in (("/1/prep", "prep"), ("/1/FAM/a", "a")):
        for kind, (size, mtime) in recs[path]["files"].items():
            number, _, base = kind.rpartition(".")
            n = int(number) if number else (2 if task == "a" else 1)
            want = session.contents[(task, n, {"job": "job", "out": "job.out", "err": "job.err"}[base])]
            assert session.op_read(path, kind) == want
            assert size == len(want)
    many = session.op_read_many([("/1/prep", "out"), ("/1/prep", "ecf"), ("/nope", "out")])
    assert list(many) == [("/1/prep", "out")]
    with pytest.raises(Missing):
        session.op_read("/1/FAM/b", "out")
    with pytest.raises(Missing):
        session.op_read("/1/prep", "../../db")


def test_big_files_are_served_as_their_head_and_a_marker(session):
    session.max_file_size = 4
    recs = {r["path"]: r for r in session.op_sync()["records"]}
    data = session.op_read("/1/prep", "out")
    assert data.startswith(b"prep") and b"truncated to its first 4" in data
    assert recs["/1/prep"]["files"]["out"][0] == len(data)


def test_a_database_change_is_a_change(session):
    session.op_sync()
    con = sqlite3.connect(session.run / "log" / "db")
    con.execute("UPDATE task_states SET status='succeeded', time_updated='2026-11-26T02:00:00Z' WHERE name='a'")
    con.commit()
    con.close()
    os.utime(session.run / "log" / "db", ns=(1, 2))  # a new mtime even within the same clock tick
    d = session.op_sync()
    assert {r["path"]: r["state"] for r in d["records"]}["/1/FAM/a"] == "complete"
    assert not d["full"]


def test_a_missing_workflow_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(Unavailable):
        CylcSession("nope", 1 << 20, 1.0).op_sync()


def test_server_files(session):
    session.op_sync()
    assert session.op_server_file("suites.def") == FLOW.encode()
    assert b"tasks 3" in session.op_server_file("stats")
    with pytest.raises(Missing):
        session.op_server_file("log")  # no scheduler log in this run directory


def test_inherits_of_a_processed_flow():
    assert inherits_of(FLOW) == {"FAM": "root", "a": "FAM", "b": "FAM", "prep": "root"}


@pytest.mark.parametrize("text, seconds", [("2026-11-26T02:27:57Z", 1795660077.0),
                                           ("2026-11-26T02:27:57+00:00", 1795660077.0),
                                           ("", 0.0), (None, 0.0), ("t", 0.0)])
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


def test_records_say_where_the_job_files_are(session):
    recs = {r["path"]: r for r in session.op_sync()["records"]}
    assert recs["/1/FAM/a"]["job_dir"] == (str(session.run / "log/job/1/a"), 2)
    assert recs["/1/FAM/b"]["job_dir"] == (str(session.run / "log/job/1/b"), 0)
    assert "job_dir" not in recs["/1/FAM"]


def test_the_backend_reads_job_files_itself(session):
    """CylcBackend reads job files from disk (in a thread, with a deadline), not through its worker: a
    stalled scheduler, which stalls the worker, stalls no read."""
    import trio

    from wffs.backend.base import NotProvided
    from wffs.backend.cylc.backend import CylcBackend

    delta = session.op_sync()
    backend = CylcBackend("wf", timeout=2.0)
    backend.worker.call = None  # any call to the worker would fail the test

    async def check():
        async def sync(op, *args, **kw):
            return delta
        backend.worker.call = sync
        await backend.changes()

        async def no_worker(*args, **kw):
            raise AssertionError("the worker was asked")
        backend.worker.call = no_worker
        assert await backend.read("/1/FAM/a", "out") == session.contents[("a", 2, "job.out")]
        assert await backend.read("/1/FAM/a", "01.err") == session.contents[("a", 1, "job.err")]
        for path, kind in (("/1/FAM/b", "out"), ("/1/FAM/a", "ecf"), ("/nope", "out"), ("/1/FAM/a", "03.out")):
            with pytest.raises(NotProvided):
                await backend.read(path, kind)
        many = await backend.read_many([("/1/prep", "job"), ("/1/FAM/b", "out")])
        assert many == {("/1/prep", "job"): session.contents[("prep", 1, "job")]}

    trio.run(check)
