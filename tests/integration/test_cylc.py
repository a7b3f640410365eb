"""Issue 14: a real Cylc 8 workflow (a real scheduler, real local jobs) mounted with `wffs mount cylc://ID`.

One workflow and one mount for the module (the scheduler takes ~15 s to settle); the tests that change
states run last, in file order.  The workflow (testbed.cylcdev.SMALL_FLOW) has two integer cycles of: prep =>
FAM (a, b) => done, a task `bad` that fails twice (one retry), a `long` one that runs for 10 minutes,
`held_one`, held in cycle 1 before anything ran, and `never`, which waits for `bad` to succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wffs import layout
from wffs.backend import protocol
from wffs.backend.cylc.map import STATE_MAP
from testbed.cylcdev import MARKER, CylcWorkflow
from testbed.devserver import marked_pids
from testbed.devserver import EcflowServer, state_of

from .mounting import ROOT, Mount, run, wait_until

SETTLED = {"1/bad": "failed", "2/bad": "failed", "1/held_one": "waiting (held,queued)",
           "1/long": "running", "2/long": "running"}
SLACK = 3.0  # the bound: a state change shows in the mount within 3 s


def start_cylc_mount(workflow: CylcWorkflow, path: Path, *extra: str, config: Path | None = None) -> Mount:
    """A mount of cylc://WORKFLOW (or of a --config file) with the workflow's HOME, not its marker."""
    target = ["--config", str(config)] if config else [f"cylc://{workflow.name}"]
    return Mount.start_target(target, path, *extra, env=workflow.env(marked=False))


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    wf = CylcWorkflow(tmp_path_factory.mktemp("cylc") / "home")
    try:
        wf.start(hold=("1/held_one",))
        wait_until(lambda: wf.states() == SETTLED, 60, 0.5)
        assert wf.states() == SETTLED
        yield wf
    finally:
        wf.stop()
        assert not marked_pids(wf.home, MARKER), "a process of the workflow outlived its stop"


@pytest.fixture(scope="module")
def cmount(workflow, tmp_path_factory):
    with start_cylc_mount(workflow, tmp_path_factory.mktemp("cylc-mnt") / "mnt") as m:
        yield m


def status_files(mnt: Path) -> dict:
    """{'CYCLE/TASK': code} for every task status file in the mount (families and cycles left out)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(mnt):
        rel = Path(dirpath).relative_to(mnt).parts
        if not rel or rel[0] == layout.SERVER_DIR:
            continue
        for f in filenames:
            stem, ext = layout.split_extension(f)
            if ext in layout.CODE_STATES and stem not in dirnames:
                found[f"{rel[0]}/{stem}"] = ext
    return found


def expected_code(state: str, held: bool) -> str:
    return layout.status_code(STATE_MAP.get(state, "unknown"), held)


def scheduler_codes(workflow) -> dict:
    proxies = workflow.graphql("{ taskProxies { name cyclePoint state isHeld } }")["taskProxies"]
    return {f"{p['cyclePoint']}/{p['name']}": expected_code(p["state"], p["isHeld"]) for p in proxies}


def test_states_match_the_scheduler_for_every_task(workflow, cmount):
    want = scheduler_codes(workflow)
    assert wait_until(lambda: {k: v for k, v in status_files(cmount.path).items() if k in want} == want, SLACK)
    assert want["1/held_one"] == "sus" and want["1/bad"] == "abo" and want["1/long"] == "act"
    dump = workflow.states()  # `cylc dump -t`: the tasks of the active window
    seen = status_files(cmount.path)
    for task, text in dump.items():
        state, _, flags = text.partition(" ")
        assert seen[task] == expected_code(state, "held" in flags), task
    assert (cmount.path / "1/held_one.sus").read_text() == "suspended (queued)\n"
    assert (cmount.path / "1.abo").exists() and (cmount.path / "1/FAM.com").is_file()
    status = (cmount.path / ".server/status").read_text()
    assert "reachable yes" in status and "state running" in status and "cylc-flow 8.5.4" in status


def test_finished_tasks_come_from_the_database(workflow, cmount):
    dump = workflow.states()
    for task in ("1/prep", "1/a", "1/b", "1/done", "2/prep", "2/done", "2/held_one"):
        assert task not in dump  # out of the scheduler's window ...
    seen = status_files(cmount.path)
    for task in ("1/prep", "1/a", "1/b", "1/done", "2/prep", "2/a", "2/b", "2/done", "2/held_one"):
        assert seen.get(task) == "com", (task, seen)  # ... yet in the mount: find sees the whole run
    att = (cmount.path / "1/FAM/a.att").read_text()
    assert "source database" in att and "cylc_state succeeded" in att
    found = run(["find", str(cmount.path)]).stdout.decode().split()
    assert str(cmount.path / "1/FAM/a.out") in found and str(cmount.path / "2/done.job") in found


def test_job_files_equal_the_files_on_disk(workflow, cmount):
    checked = 0
    for cycle in ("1", "2"):
        for dirpath, _, filenames in os.walk(cmount.path / cycle):
            for f in filenames:
                task, _, kind = f.partition(".")
                if kind not in ("job", "out", "err") and not layout.EARLIER_SUBMIT.match(kind):
                    continue
                number, _, base = kind.rpartition(".")
                submit = int(number) if number else None
                on_disk = workflow.job_dir(cycle, task, submit) / {"job": "job", "out": "job.out",
                                                                    "err": "job.err"}[base]
                data = (Path(dirpath) / f).read_bytes()
                if task != "long":  # long's files may still grow
                    assert os.stat(Path(dirpath) / f).st_size == len(data), f
                    assert data == on_disk.read_bytes(), (dirpath, f)
                checked += 1
    assert checked >= 40
    assert b"bad try 1" in (cmount.path / "1/bad.01.out").read_bytes()
    assert b"bad try 2" in (cmount.path / "1/bad.out").read_bytes()
    assert b"oops 1" in (cmount.path / "1/bad.01.err").read_bytes()
    assert b"oops 2" in (cmount.path / "1/bad.err").read_bytes()
    assert b"to stderr from 1/a" in (cmount.path / "1/FAM/a.err").read_bytes()
    assert not (cmount.path / "1/held_one.job").exists()  # never submitted: no files


def test_every_size_is_what_a_read_returns_and_tar_agrees(workflow, cmount):
    sizes = 0
    for dirpath, _, filenames in os.walk(cmount.path):
        for f in filenames:
            path = Path(dirpath) / f
            if f == "events":
                continue  # an append-only log: it may grow between stat and read
            size = os.stat(path).st_size
            assert size == len(path.read_bytes()), path
            sizes += size
    assert sizes > 10000
    tar = subprocess.run(f"tar cf - -C {cmount.path} 1 2 | wc -c", shell=True, capture_output=True, timeout=60)
    assert tar.returncode == 0 and int(tar.stdout) > sizes // 2, tar.stderr
    grep = run(["grep", "-rl", "oops 1", str(cmount.path)])
    assert sorted(Path(p).relative_to(cmount.path).as_posix() for p in grep.stdout.decode().split()) == \
        ["1/bad.01.err", "2/bad.01.err"]
    assert "1/bad\tfailed\n" in (cmount.path / "1.def").read_text()
    assert (cmount.path / ".server/suites.def").read_bytes() == \
        (workflow.run_dir / "log/config/flow-processed.cylc").read_bytes()
    assert b"INFO - Workflow: wffs-test" in (cmount.path / ".server/log").read_bytes()


def test_att_shows_native_state_and_flags(cmount):
    att = (cmount.path / "1/held_one.att").read_text()
    for line in ("cylc_state waiting", "  held yes", "  queued", "  runahead no", "  retry no", "outputs",
                 "prerequisites", "xtriggers", "source scheduler"):
        assert line in att, att
    bad = (cmount.path / "1/bad.att").read_text()
    assert "submits 2" in bad and "  failed yes" in bad and "_cylc_retry_1_bad" in bad


def test_config_mount_puts_the_workflow_under_its_name(workflow, tmp_path):
    config = tmp_path / "servers.toml"
    config.write_text(f'[servers.model]\ncylc = "{workflow.name}"\n')
    with start_cylc_mount(workflow, tmp_path / "mnt", config=config) as m:
        assert sorted(os.listdir(m.path)) == [".events", "model"]
        assert (m.path / "model/1/bad.abo").read_text() == "aborted\n"
        assert (m.path / "model/1/FAM/a.com").exists()
        assert "state running" in (m.path / "model/.server/status").read_text()


def test_a_first_sync_says_the_scheduler_answered(workflow):
    """Ahead of its first answer the worker says the scheduler answered, so that a mount waits for a big
    workflow's first view instead of taking the scheduler as hung (see wffs.mount.first_view)."""
    requests = protocol.encode(("sync", ())) * 2  # then stdin closes: the worker answers both and exits
    done = subprocess.run([sys.executable, "-m", "wffs.backend.cylc.worker", workflow.name], input=requests,
                          capture_output=True, cwd=ROOT, env=workflow.env(marked=False), timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    frames = protocol.FrameBuffer()
    frames.feed(done.stdout)
    messages = []
    while True:
        try:
            messages.append(frames.pop())
        except LookupError:
            break
    assert messages[0] == (protocol.PROGRESS, "the scheduler answered; fetching the workflow")
    assert [m[0] for m in messages[1:]] == ["ok", "ok"]  # the full first view, then a later sync: no report
    assert messages[1][1]["full"] and messages[1][1]["records"]


def test_hold_and_release_show_within_3_s(workflow, cmount):
    workflow.cylc("hold", f"{workflow.name}//2/long")
    held = time.monotonic()
    assert wait_until(lambda: (cmount.path / "2/long.sus").exists(), SLACK, 0.05)
    assert time.monotonic() - held <= SLACK
    workflow.cylc("release", f"{workflow.name}//2/long")
    released = time.monotonic()
    assert wait_until(lambda: (cmount.path / "2/long.act").exists(), SLACK, 0.05)
    assert time.monotonic() - released <= SLACK
    events = (cmount.path / ".server/events").read_text()
    assert "\t/2/long\tact\tsus\n" in events and "\t/2/long\tsus\tact\n" in events, events


def test_a_trigger_makes_a_new_submit_and_the_old_one_an_earlier_submit(workflow, cmount):
    workflow.cylc("trigger", f"{workflow.name}//2/bad")
    triggered = time.monotonic()
    assert wait_until(lambda: status_files(cmount.path).get("2/bad") != "abo", SLACK, 0.05)
    assert time.monotonic() - triggered <= SLACK
    assert wait_until(lambda: workflow.states().get("2/bad") == "failed", 30, 0.5)
    disk = sorted(int(n) for n in os.listdir(workflow.job_dir("2", "bad").parent) if n.isdigit())
    assert len(disk) >= 3
    latest = disk[-1]
    want = {"bad.job", "bad.out", "bad.err"} | {f"bad.{n:02d}.{k}" for n in disk[:-1] for k in ("job", "out", "err")}

    def listed():
        return {f for f in os.listdir(cmount.path / "2") if f.startswith("bad.") and f.split(".")[-1] in
                ("job", "out", "err")}

    assert wait_until(lambda: listed() == want and (cmount.path / "2/bad.abo").exists(), SLACK), (listed(), want)
    assert (cmount.path / "2/bad.out").read_bytes() == (workflow.job_dir("2", "bad", latest) / "job.out").read_bytes()
    assert (cmount.path / "2/bad.02.out").read_bytes() == (workflow.job_dir("2", "bad", 2) / "job.out").read_bytes()


def test_a_stalled_scheduler_stalls_no_file_system_call(workflow, cmount):
    """SIGSTOP the scheduler: every call answers at once from the last snapshot, which .server/status calls
    stale, and job files are read from the run directory all the same; SIGCONT: back."""
    import signal

    pid = workflow.scheduler_pid()
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        status = cmount.path / ".server/status"
        assert wait_until(lambda: "reachable no" in status.read_text(), 15, 0.2), status.read_text()
        started = time.monotonic()
        listing = run(["ls", "-lR", str(cmount.path)], timeout=10)
        assert b"bad.abo" in listing.stdout and b"held_one.att" in listing.stdout
        assert (cmount.path / "1/bad.abo").read_text() == "aborted\n"
        assert "cylc_state failed" in (cmount.path / "1/bad.att").read_text()
        # job files are read from disk whatever the scheduler does; only what the worker makes (.def, the
        # scheduler's log) can fail, with EIO at once
        failed = [line for line in listing.stderr.decode().splitlines() if line]
        assert all(".def'" in line or "/.server/" in line for line in failed), failed
        outputs = run(["grep", "-r", "-c", "", str(cmount.path), "--include=*.out", "--include=*.err"], timeout=10)
        assert outputs.returncode == 0 and outputs.stderr == b"", outputs.stderr
        assert time.monotonic() - started < 3.0
        assert "stale yes" in status.read_text()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert wait_until(lambda: "reachable yes" in (cmount.path / ".server/status").read_text(), 15, 0.2)
    assert wait_until(lambda: run(["ls", "-lR", str(cmount.path)], timeout=10).returncode == 0, 10, 0.5)


def test_an_expired_task_has_a_code_of_its_own(workflow, cmount):
    assert (cmount.path / "1/never.que").exists()
    assert "prerequisite 1/bad:succeeded is not satisfied" in (cmount.path / "1/never.why").read_text()
    workflow.cylc("set", "--out=expired", f"{workflow.name}//1/never")
    expired = time.monotonic()
    assert wait_until(lambda: (cmount.path / "1/never.exp").exists(), SLACK, 0.05)
    assert time.monotonic() - expired <= SLACK
    assert (cmount.path / "1/never.exp").read_text() == "expired\n"
    assert "cylc_state expired" in (cmount.path / "1/never.att").read_text()
    assert scheduler_codes(workflow)["1/never"] == "exp"


# ---- an ecFlow task that mirrors a Cylc task (issue 14's mirror across backends) -------------------------
def test_ecflow_task_mirrors_a_cylc_task(workflow, cmount, tmp_path):
    import ecflow

    from .test_mirror import shell_echo, write_real_suite

    local = EcflowServer(tmp_path / "local")
    local.start()
    try:
        def build(suite):
            family = suite.add_family("f")
            family.add_task("Task")
            family.add_task("Dependent").add_trigger("Task == complete")

        scripts = {"f/Task": 'echo "Task ran locally: it should not have"\nexit 1\n',
                   "f/Dependent": 'echo "Dependent ran"\n'}
        write_real_suite(local, "s", scripts, build)
        del ecflow
        # the ecFlow mount finds the workflow as cylc does: in ~/cylc-run of its HOME
        with Mount.start(local.port, tmp_path / "mnt", "--timeout", "5", env=workflow.env(marked=False)) as m:
            line = f"mirror --name A --remote_cylc {workflow.name} --remote_path /1/held_one --polling 1"
            assert shell_echo(m.path / "s/f/Task.mirror", line).returncode == 0
            local.client().begin_suite("s")
            assert wait_until(lambda: "remote_state queued" in (m.path / "s/f/Task.mirror").read_text(), 1 + SLACK)
            assert state_of(local, "/s/f/Task") == "queued"
            assert state_of(local, "/s/f/Dependent") == "queued"
            workflow.cylc("release", f"{workflow.name}//1/held_one")
            assert wait_until(lambda: status_files(cmount.path).get("1/held_one") == "com", 30, 0.2)
            done = time.monotonic()
            assert wait_until(lambda: state_of(local, "/s/f/Task") == "complete", 1 + SLACK, 0.05)
            assert time.monotonic() - done <= 1 + SLACK
            assert wait_until(lambda: state_of(local, "/s/f/Dependent") == "complete", 30)
            text = (m.path / "s/f/Task.mirror").read_text()
            assert "status ok" in text and f"remote cylc://{workflow.name} /1/held_one" in text
            assert "remote_state complete" in text
            assert "/s/f/Task\tok\tcylc://" in (m.path / ".server/mirrors").read_text()
    finally:
        local.stop()


def test_mirror_lines_with_cylc_errors_are_einval(cmount):
    # a Cylc task cannot itself be mirrored
    result = run(["bash", "-c", 'echo "mirror --name A --remote_path /s/t" > "$1"', "bash",
                  str(cmount.path / "1/bad.mirror")])
    assert result.returncode != 0


def test_stopped_workflow_is_shown_from_the_database(workflow, cmount):
    workflow.stop()
    assert wait_until(lambda: "state stopped" in (cmount.path / ".server/status").read_text(), 15, 0.2)
    seen = status_files(cmount.path)
    for task in ("1/prep", "1/a", "1/b", "1/done", "1/bad", "1/held_one", "2/bad", "2/a", "2/held_one"):
        assert task in seen, (task, seen)
    assert seen["1/bad"] == "abo" and seen["1/held_one"] == "com"
    assert (cmount.path / "1/bad.01.out").read_bytes() == (workflow.job_dir("1", "bad", 1) / "job.out").read_bytes()
