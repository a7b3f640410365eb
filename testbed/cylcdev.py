"""A real Cylc 8 workflow on this machine, for tests and demos: its own HOME, started and stopped cleanly.

What makes local jobs work: `~/.cylc/flow/global.cylc` with the `cylc path` of the
localhost platform (this interpreter's bin directory, where pip put `cylc`) and hardwired host
self-identification.  The workflow, its scheduler and its jobs all run with a temporary HOME, so nothing
of the user's own ~/cylc-run or ~/.cylc is read or written.

Every process the scheduler starts (itself and every job) carries the environment variable MARKER with
this HOME as value: `stop()` asks the scheduler to stop (`cylc stop --now --now`) with a deadline, then
kills whatever still carries the marker (a long job survives its scheduler).

`cylc` is run as a command (never imported here), so this module imports without cylc-flow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Optional

from testbed import devserver
from testbed.devserver import wait_for

MARKER = "WFFS_CYLCDEV_HOME"

GLOBAL_CYLC = """\
[scheduler]
    [[host self-identification]]
        method = hardwired
        host = localhost
[platforms]
    [[localhost]]
        cylc path = {bin}
"""

#: The tiny workflow of the tests: a family, a failing task (with one retry: two submits), a long task,
#: a task the tests hold and one that waits for the failing task to succeed (`never`: the tests expire
#: it), over two integer cycles.  Cycle 1's prep, FAM and done finish and drop out of the scheduler's
#: window; they are then known from the database only.
SMALL_FLOW = """\
[scheduler]
    allow implicit tasks = False
    [[events]]
        stall timeout = PT1H
[scheduling]
    cycling mode = integer
    initial cycle point = 1
    final cycle point = 2
    runahead limit = P1
    [[graph]]
        P1 = \"\"\"
            prep => FAM
            FAM:succeed-all => done
            bad
            long
            held_one
            bad => never
        \"\"\"
[runtime]
    [[root]]
        script = echo "hello from $CYLC_TASK_ID"; echo "to stderr from $CYLC_TASK_ID" >&2
        [[[environment]]]
            {marker} = {home}
    [[prep, done, held_one, never]]
    [[FAM]]
    [[a, b]]
        inherit = FAM
    [[bad]]
        script = echo "bad try $CYLC_TASK_SUBMIT_NUMBER"; echo "oops $CYLC_TASK_SUBMIT_NUMBER" >&2; exit 1
        execution retry delays = PT1S
    [[long]]
        script = sleep 600
"""


def cylc_bin() -> str:
    """The directory of the `cylc` command that goes with this interpreter (the venv's bin)."""
    here = Path(sys.executable).parent
    if (here / "cylc").exists():
        return str(here)
    found = shutil.which("cylc")
    if not found:
        raise RuntimeError("cylc is not installed: pip install 'wffs[cylc]' (cylc-flow)")
    return str(Path(found).parent)


class CylcWorkflow:
    """One workflow installed and run under `home` (a fresh directory: it becomes HOME)."""

    def __init__(self, home: Path, name: str = "wffs-test", flow: str = SMALL_FLOW):
        self.home = Path(home).resolve()
        self.name = name
        self.flow = flow
        self.started = False

    # ---- where things are ----------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.home / "cylc-run" / self.name

    @property
    def contact_file(self) -> Path:
        return self.run_dir / ".service" / "contact"

    @property
    def db_path(self) -> Path:
        return self.run_dir / "log" / "db"

    def job_dir(self, cycle: str, task: str, submit: Optional[int] = None) -> Path:
        base = self.run_dir / "log" / "job" / cycle / task
        return base / ("NN" if submit is None else f"{submit:02d}")

    def env(self, marked: bool = True) -> dict:
        """The environment of every cylc command and of the scheduler (marked: stop() kills what carries
        the marker), or with marked=False of a client such as a mount that reads this run."""
        env = dict(os.environ)
        env["HOME"] = str(self.home)
        env.pop(MARKER, None)
        if marked:
            env[MARKER] = str(self.home)
        env["PATH"] = cylc_bin() + os.pathsep + env.get("PATH", "")
        env.pop("CYLC_CONF_PATH", None)
        env.pop("CYLC_SITE_CONF_PATH", None)
        return env

    def cylc(self, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([os.path.join(cylc_bin(), "cylc"), *args], env=self.env(), cwd=self.home,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"cylc {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    # ---- life cycle ----------------------------------------------------------------------------
    def install(self) -> None:
        conf = self.home / ".cylc" / "flow"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "global.cylc").write_text(GLOBAL_CYLC.format(bin=cylc_bin()))
        src = self.home / "src" / self.name
        src.mkdir(parents=True, exist_ok=True)
        (src / "flow.cylc").write_text(textwrap.dedent(self.flow).format(marker=MARKER, home=self.home))
        self.cylc("install", "--no-run-name", f"--workflow-name={self.name}", str(src))

    def start(self, hold: tuple = (), timeout: float = 30) -> "CylcWorkflow":
        """Install and play; tasks in `hold` (e.g. '1/held_one') are held before anything runs."""
        self.install()
        self.started = True
        try:
            self.cylc("play", "--pause", self.name, timeout=timeout)
            wait_for(self.contact_file.exists, timeout, 0.2)
            for task in hold:
                self.cylc("hold", f"{self.name}//{task}")
            self.cylc("play", self.name, timeout=timeout)  # resumes the paused scheduler
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 20) -> None:
        """Stop the scheduler now (jobs are left alone by it), then kill every leftover process."""
        if not self.started:
            return
        try:
            if self.contact_file.exists():
                self.cylc("stop", "--now", "--now", self.name, timeout=timeout, check=False)
                try:
                    wait_for(lambda: not self.contact_file.exists(), timeout, 0.2)
                except TimeoutError:
                    pass
        except subprocess.TimeoutExpired:
            pass
        finally:
            devserver.kill_jobs(self.home, marker=MARKER)
            # a killed scheduler leaves its contact file: the next play would think it runs
            if self.contact_file.exists() and not devserver.marked_pids(self.home, MARKER):
                self.contact_file.unlink(missing_ok=True)
            self.started = False

    def __enter__(self) -> "CylcWorkflow":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def scheduler_pid(self) -> Optional[int]:
        """The scheduler's process id, from its contact file (None when it is not running)."""
        try:
            text = self.contact_file.read_text()
        except OSError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "CYLC_WORKFLOW_PID" and value.strip().isdigit():
                return int(value.strip())
        return None

    # ---- what the scheduler says ---------------------------------------------------------------
    def states(self) -> dict:
        """{'CYCLE/TASK': 'state'} plus ' (held)' etc. flags as `cylc dump -t` prints them."""
        out = self.cylc("dump", "-t", self.name, timeout=20).stdout
        states = {}
        for line in out.splitlines():
            task, sep, rest = line.partition(":")
            if sep:
                states[task.strip()] = rest.strip()
        return states

    def graphql(self, query: str, timeout: float = 20) -> dict:
        """A GraphQL query through `cylc client` (the same runtime API the backend uses), parsed."""
        import json

        done = subprocess.run([os.path.join(cylc_bin(), "cylc"), "client", self.name, "graphql"],
                              input=json.dumps({"request_string": query, "variables": {}}),
                              env=self.env(), cwd=self.home, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"cylc client graphql failed:\n{done.stderr}")
        return json.loads(done.stdout)
