"""The demo suite: a small real ecFlow suite whose jobs really run.

It settles within seconds into every state wffs has to show (complete,
aborted with a real error in its output, active, suspended, queued on a
trigger and on a date) and carries every kind of attribute (labels, meters,
events, limits, a repeat, time/date, late, manuals), plus outputs that are
large (> 20000 lines) or not valid UTF-8, and a task whose name has a dot.

Import it (tests, benchmarks) or let scripts/demo.py drive it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from testbed.devserver import states_of  # noqa: E402

SUITE = "demo"
ABORT_LINE = "ERROR: disk quota exceeded"
BIG_LINES = 25000

# path -> display state once the suite has settled (suspended shows as 'suspended')
EXPECTED: Dict[str, str] = {
    "/demo/ok/t1": "complete",
    "/demo/ok/t2": "complete",
    "/demo/ok/t3": "complete",
    "/demo/fail/crash": "aborted",
    "/demo/run/active": "active",
    "/demo/hold/paused": "suspended",
    "/demo/deps/after_ok": "complete",
    "/demo/deps/never": "queued",
    "/demo/deps/timed": "queued",
    "/demo/loop": "complete",
    "/demo/loop/step": "complete",
    "/demo/out/huge": "complete",
    "/demo/out/binary": "complete",
    "/demo/out/t.v2": "complete",
}

# ---------------------------------------------------------------- include files

HEAD_H = """\
#!/bin/bash
# head.h: tell the server the job started, and turn any failure into an abort.
set -eu
set -o pipefail

# what every child command (ecflow_client --init/--complete/...) needs
export ECF_PORT=%ECF_PORT%
# not %ECF_HOST%: the server fills that in with its host name, and the dev
# server is always on this machine
export ECF_HOST=localhost
export ECF_NAME=%ECF_NAME%
export ECF_PASS=%ECF_PASS%
export ECF_TRYNO=%ECF_TRYNO%
export ECF_RID=$$
# give up on a server that is gone after a minute, not the default 24 hours
export ECF_TIMEOUT=60
export PATH=/usr/bin:/bin:$PATH

ecflow_client --init=$$

# any exit that does not come from tail.h (error, exit 1, signal) aborts the task
wffs_abort() {
    status=$?
    set +e
    trap - EXIT
    echo "job failed with status $status"
    ecflow_client --abort="exit status $status"
    exit 0
}
trap wffs_abort EXIT
trap 'echo "killed by a signal"; exit 1' HUP INT QUIT TERM
"""

TAIL_H = """\
# tail.h: a normal end
wait
ecflow_client --complete
trap - EXIT
exit 0
"""

# ---------------------------------------------------------------- task scripts


def script(body: str, manual: str = "") -> str:
    """A task script: head, optional manual section, body, tail."""
    parts = ["%include <head.h>\n"]
    if manual:
        parts.append("%manual\n" + manual.rstrip("\n") + "\n%end\n")
    parts.append(body.rstrip("\n") + "\n")
    parts.append("%include <tail.h>\n")
    return "".join(parts)


# NB: '%' starts an ecFlow variable in a script; a literal one is written '%%'.
SCRIPTS: Dict[str, str] = {
    "ok/t1": script(
        'echo "t1: hello"\necflow_client --label=info "hello from t1"\n',
        manual="t1 sets the label 'info'.\nNothing can go wrong here; if it does, rerun it.",
    ),
    "ok/t2": script(
        "for i in $(seq 1 10); do\n"
        "    ecflow_client --meter=progress $i\n"
        "done\n"
        "ecflow_client --event=done\n"
    ),
    "ok/t3": script('echo "t3: nothing to do"\nuname -a\n'),
    "fail/crash": script(
        'echo "crash: writing results to /data/demo/out.grib"\n'
        f'echo "{ABORT_LINE} while writing /data/demo/out.grib"\n'
        "exit 1\n",
        manual="crash fails on purpose with a disk-quota error.\n"
        "Operators: free space, then requeue the task.",
    ),
    # Stays active until its stop file appears (then completes), its ECF_HOME
    # disappears, or its server is gone; EcflowServer.stop() kills it anyway.
    "run/active": script(
        "stop_file=%ECF_HOME%/%ECF_NAME%.stop\n"
        "n=0\n"
        'while [ -d %ECF_HOME% ] && [ ! -e "$stop_file" ]; do\n'
        "    sleep 1\n"
        "    n=$((n + 1))\n"
        "    if [ $n -ge 30 ]; then\n"
        "        n=0\n"
        "        rc=0; timeout 10 ecflow_client --ping >/dev/null 2>&1 || rc=$?\n"
        '        if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then\n'
        '            echo "server gone, leaving"; trap - EXIT; exit 0\n'
        "        fi\n"
        "    fi\n"
        "done\n"
        'echo "active: done"\n',
        manual="active runs until the file active.stop appears next to its job output.",
    ),
    "hold/paused": script('echo "paused: resumed and ran"\n'),
    "deps/after_ok": script('echo "after_ok: t1 is complete"\n'),
    "deps/never": script('echo "never: the trigger became true?"\n'),
    "deps/timed": script('echo "timed: it is 1.1.2099"\n'),
    "loop/step": script('echo "step: iteration %I%"\n'),
    "out/huge": script(f"seq 1 {BIG_LINES} | sed 's/^/line /'\n"),
    "out/binary": script("printf 'before\\n\\xff\\xfe bad bytes\\n after\\n'\n"),
    "out/t.v2": script('echo "t.v2: a task name with a dot"\n'),
}


def write_includes(ecf_home: Path) -> Path:
    """head.h and tail.h under ecf_home/include (the suite's ECF_INCLUDE)."""
    include = Path(ecf_home) / "include"
    include.mkdir(parents=True, exist_ok=True)
    (include / "head.h").write_text(HEAD_H)
    (include / "tail.h").write_text(TAIL_H)
    return include


def write_scripts(ecf_home: Path) -> None:
    """Every task's .ecf under ecf_home/demo/<family>/<task>.ecf."""
    for rel, text in SCRIPTS.items():
        path = Path(ecf_home) / SUITE / f"{rel}.ecf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# ---------------------------------------------------------------- definition


def suite_variables(suite: Any, ecf_home: Path, server_port: int) -> None:
    """Variables every real suite here needs (also used by gen_suite.py)."""
    home = Path(ecf_home)
    suite.add_variable("ECF_HOME", str(home))
    suite.add_variable("ECF_INCLUDE", str(home / "include"))
    suite.add_variable("ECF_TRIES", "1")  # an abort stays aborted
    suite.add_variable("ECF_PORT", str(server_port))


def build_demo_suite(ecf_home: Path, server_port: int, files_dir: Optional[Path] = None):
    """Write includes and scripts under ecf_home (seen here at files_dir, if the server's files are
    elsewhere than here); return the Defs of /demo."""
    import ecflow

    write_includes(files_dir or ecf_home)
    write_scripts(files_dir or ecf_home)
    defs = ecflow.Defs()
    suite = defs.add_suite(SUITE)
    suite_variables(suite, ecf_home, server_port)
    suite.add_limit("cpu", 2)

    ok = suite.add_family("ok")
    ok.add_inlimit("cpu")
    t1 = ok.add_task("t1")
    t1.add_label("info", "")
    t2 = ok.add_task("t2")
    t2.add_meter("progress", 0, 10)
    t2.add_event("done")
    ok.add_task("t3")

    suite.add_family("fail").add_task("crash")

    active = suite.add_family("run").add_task("active")
    late = ecflow.Late()
    late.complete(0, 1, True)  # flagged late if still running a minute after submission
    active.add_late(late)

    suite.add_family("hold").add_task("paused").add_defstatus(ecflow.DState.suspended)

    deps = suite.add_family("deps")
    deps.add_task("after_ok").add_trigger("../ok/t1 == complete")
    deps.add_task("never").add_trigger("../fail/crash == complete")  # crash aborts
    timed = deps.add_task("timed")
    timed.add_date(1, 1, 2099)
    timed.add_time(12, 0)

    loop = suite.add_family("loop")
    loop.add_repeat(ecflow.RepeatInteger("I", 1, 3))
    loop.add_task("step")

    out = suite.add_family("out")
    out.add_task("huge")
    out.add_task("binary")
    out.add_task("t.v2")
    return defs


# ---------------------------------------------------------------- driving it


def load_demo(server: Any, begin: bool = True):
    """Load /demo into a running EcflowServer (replacing any old one) and begin it."""
    defs = build_demo_suite(server.home, server.port, server.files_dir)
    client = server.client()
    client.load(defs, True)
    if begin:
        client.begin_suite(SUITE)
    return defs


def wait_until_settled(server: Any, timeout: float = 60) -> Dict[str, str]:
    """Wait until every node in EXPECTED is in its end state; return the states."""
    deadline = time.monotonic() + timeout
    while True:
        states = states_of(server, list(EXPECTED))
        if states == EXPECTED:
            return states
        if time.monotonic() >= deadline:
            wrong = {p: f"{s} (want {EXPECTED[p]})" for p, s in states.items() if s != EXPECTED[p]}
            raise TimeoutError(f"demo suite not settled after {timeout} s: {wrong}")
        time.sleep(0.2)


def job_output(ecf_home: Path, path: str, try_no: int = 1) -> Path:
    """Where the job output of task `path` lands: ECF_HOME/<path>.<try>."""
    return Path(ecf_home) / f"{path.lstrip('/')}.{try_no}"
