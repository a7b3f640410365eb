"""ECMWF's own ecflow_ui test suite, mounted before it runs: the mount follows the server through the run,
and afterwards every file equals what the server (or the disk, for outputs) says.

Cycle 12 is suspended before the begin (its forecast counts to 240 one second at a time, and without it
the suite never completes, so its day repeat does not start the whole run again); cycle 0 runs with real
jobs.  After an incremental sync the client's generated variables of such a run went stale (ECF_TRYNO 0
and ECF_JOB ...job0 beside try 1): that is what this test would catch.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import ecflow
import pytest

from wffs import layout
from testbed.devserver import EcflowServer

from . import ecflow_ui_suite
from .mounting import Mount, file_from_server

SUITE = ecflow_ui_suite.SUITE
RUN_LIMIT = 150  # seconds for cycle 0 (about 45 s of jobs on an idle machine)
LAG = 3.0  # how long the mount may lag behind the server or the disk


def server_states(server) -> dict:
    """{task path: (state, try)} from `ecflow_client --get_state`, as an operator would read it."""
    text = server.cli(f"--get_state=/{SUITE}").stdout.decode()
    found, stack = {}, []
    for line in text.splitlines():
        m = re.match(r"^( *)(suite|family|task|alias) (\S+)(.*)$", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        del stack[depth:]
        stack.append(m.group(3))
        if m.group(2) == "task":
            state = re.search(r"\bstate:(\w+)", m.group(4)).group(1)
            tried = re.search(r"\btry:(\d+)", m.group(4))
            found["/" + "/".join(stack)] = (state, int(tried.group(1)) if tried else 0)
    return found


def mount_state(mnt: Path, task: str):
    """The state a task's status file shows (its code), or None; and the sizes of its job and output."""
    parent, name = (mnt / task.lstrip("/")).parent, task.rsplit("/", 1)[1]
    codes = [e.name[len(name) + 1:] for e in parent.iterdir()
             if e.name.startswith(name + ".") and e.name[len(name) + 1:] in layout.STATE_CODES.values()]
    return codes[0] if len(codes) == 1 else tuple(codes)


def size(path: Path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def generated(att: bytes) -> dict:
    section = att.decode().split("# generated variables\n", 1)[1].split("\n\n", 1)[0]
    return dict(line.split(" = ", 1) for line in section.splitlines())


@pytest.fixture
def ui_server(tmp_path):
    server = EcflowServer(tmp_path / "home")
    server.start()
    try:
        definition = ecflow_ui_suite.install(server.home)
        assert server.cli(f"--load={definition}").returncode == 0
        assert server.cli(f"--suspend=/{SUITE}/12").returncode == 0
        yield server
    finally:
        server.stop()


def test_the_mount_follows_ecflow_ui_test_suite_through_its_run(ui_server, tmp_path):
    home = ui_server.home
    with Mount.start(ui_server.port, tmp_path / "mnt") as mount:
        mnt = mount.path
        status = (mnt / ".server" / "status").read_text()
        assert f"files local ({home}/" in status, status  # proven by the server's log, not by a path
        assert ui_server.cli(f"--begin={SUITE}").returncode == 0
        disagree_since, worst, what = {}, {}, {}  # task -> since when / longest / (server, mount) states
        on_disk, shown = {}, {}  # (task, kind) -> when the current try's file was first on disk / in the mount
        deadline = time.monotonic() + RUN_LIMIT
        while True:
            now = time.monotonic()
            states = server_states(ui_server)
            for task, (state, tried) in states.items():
                code = layout.STATE_CODES[state]
                seen = mount_state(mnt, task)
                if seen != code:
                    since = disagree_since.setdefault(task, now)
                    worst[task] = max(worst.get(task, 0.0), now - since)
                    what[task] = (state, seen)
                else:
                    disagree_since.pop(task, None)
                if tried:
                    base = home / task.lstrip("/")
                    for kind, disk in (("job", base.with_name(f"{base.name}.job{tried}")),
                                       ("out", base.with_name(f"{base.name}.{tried}"))):
                        if (task, kind, tried) not in on_disk and disk.exists():
                            on_disk[(task, kind, tried)] = now
                        mounted = mnt / f"{task.lstrip('/')}.{kind}"
                        # the job must be this try's (a stale job0 came with the tarball); an output grows
                        if (task, kind, tried) in on_disk and (task, kind, tried) not in shown and (
                                size(mounted) == size(disk) if kind == "job" else size(mounted) is not None):
                            shown[(task, kind, tried)] = now
            cycle0 = [s for t, s in states.items() if t.startswith(f"/{SUITE}/0/")]
            if all(s == ("complete", 1) for s in cycle0) and not disagree_since:
                break
            assert now < deadline, f"cycle 0 did not complete within {RUN_LIMIT} s: {states}"
            time.sleep(1.0)

        slow = {task: (lag, what[task]) for task, lag in worst.items() if lag > LAG}
        assert not slow, f"status files behind the server by more than {LAG} s: {slow}"
        assert len(on_disk) == 2 * len(cycle0)  # every task of cycle 0 wrote its job and output
        late = {k: shown.get(k, float("inf")) - t for k, t in on_disk.items() if shown.get(k, float("inf")) - t > LAG}
        assert not late, f"job or output files shown more than {LAG} s after they were on disk: {late}"

        fresh = ecflow.Client("localhost", str(ui_server.port))
        fresh.sync_local()  # a new client works its generated variables out from scratch, as the server does
        for task in states:
            local = mnt / task.lstrip("/")
            for ext, kind in (("ecf", "script"), ("man", "manual"), ("job", "job")):
                mounted = local.with_name(f"{local.name}.{ext}")
                asked = ui_server.cli(f"--file={task}", kind, "100000000")
                if asked.returncode != 0:  # the server has none (a task that never ran has no ECF_JOB)
                    assert not mounted.exists(), (task, ext, asked.stderr)
                    continue
                assert mounted.read_bytes() == file_from_server(ui_server, task, kind), (task, ext)
                assert mounted.stat().st_size == len(mounted.read_bytes())
            tried = states[task][1]
            out = local.with_name(f"{local.name}.out")
            if tried:
                assert out.read_bytes() == (home / f"{task.lstrip('/')}.{tried}").read_bytes(), task
            else:
                assert not out.exists(), task
            node = fresh.get_defs().find_abs_node(task)
            vl = ecflow.VariableList()
            node.get_generated_variables(vl)
            truth = {v.name(): v.value() for v in vl}
            att = generated(local.with_name(f"{local.name}.att").read_bytes())
            for name in ("ECF_TRYNO", "ECF_JOB", "ECF_JOBOUT"):
                assert att[name] == truth[name], (task, name, att[name], truth[name])
