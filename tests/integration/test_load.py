"""Load (issue 13): 8 concurrent readers for 60 s on the 10k-task suite while the server changes states.

Readers: two `find` loops, a `grep -r` loop and a `tar` loop (of two suites) (shell tools, each run with a deadline) and
four Python loops that stat and read every file of a random family.  Wrong answers counted (all must be
zero): a task without exactly one status file in a `find` listing, a read that returns another number of
bytes than the size `fstat` gives for the open file, a script that differs from the file on disk, a status
file whose content is not the state its name says, tar padding a file that shrank, an I/O error.
Reported: runs and operations per second, p50/p99 latency of stat and of read.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
from collections import Counter

import pytest

from wffs import layout

from .mounting import Mount
from .reliability import percentile, record

import gen_suite  # noqa: E402  (scripts/, put on sys.path by conftest)

SECONDS = 60.0
DEADLINE = 60.0  # one shell command (a `tar` of two suites takes ~3 s unloaded)
STATUS = re.compile(r"^(.*)\.(" + "|".join(layout.STATE_CODES.values()) + r")$")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from testbed.devserver import EcflowServer

    server = EcflowServer(tmp_path_factory.mktemp("load") / "home")
    server.start()
    try:
        result = gen_suite.generate(server, server.home, 10, 20, 50)
        yield server, result
    finally:
        server.stop()


class Readers:
    def __init__(self, mnt, home, tasks, seconds):
        self.mnt, self.home, self.tasks = mnt, home, tasks
        self.families = sorted({t.rpartition("/")[0] for t in tasks})
        self.until = time.monotonic() + seconds
        self.wrong: list[str] = []
        self.errors: list[str] = []
        self.runs = Counter()
        self.stat_s: list[float] = []
        self.read_s: list[float] = []
        self.lock = threading.Lock()

    def bad(self, text: str) -> None:
        with self.lock:
            self.wrong.append(text)

    # ---- shell tools -------------------------------------------------------------------------------
    def shell(self, name: str, argv: list, check) -> None:
        while time.monotonic() < self.until:
            try:
                done = subprocess.run(argv, capture_output=True, timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.bad(f"{name}: no answer in {DEADLINE:g} s")
                continue
            self.runs[name] += 1
            check(done)

    def check_find(self, done) -> None:
        if done.returncode != 0:
            self.bad(f"find rc {done.returncode}: {done.stderr[:200]!r}")
        seen = Counter()
        for line in done.stdout.decode(errors="replace").splitlines():
            m = STATUS.match(line)
            if m:
                seen["/" + os.path.relpath(m.group(1), self.mnt)] += 1
        missing = [t for t in self.tasks if seen[t] != 1]
        if missing:
            self.bad(f"find: {len(missing)} tasks without exactly one status file, e.g. {missing[:3]}")

    def check_grep(self, done) -> None:
        if done.returncode not in (0, 1) or done.stderr:
            self.bad(f"grep rc {done.returncode}: {done.stderr[:300]!r}")

    def check_tar(self, done) -> None:
        # a status file renamed by a state change while tar walks is "removed before we read it" (rc 1);
        # a file whose size was wrong would be padded ("shrank") or cut: that is a wrong answer
        lines = done.stderr.decode(errors="replace").splitlines()
        broken = [x for x in lines if "shrank" in x or "Input/output" in x or "Cannot" in x and "removed" not in x]
        if done.returncode not in (0, 1) or broken:
            self.bad(f"tar rc {done.returncode}: {broken[:3] or lines[:3]}")

    # ---- stat and read in Python -------------------------------------------------------------------
    def files(self, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < self.until:
            family = rng.choice(self.families)
            directory = self.mnt / family.lstrip("/")
            try:
                names = os.listdir(directory)
            except OSError as e:
                self.bad(f"listdir {directory}: {e}")
                continue
            self.runs["listdir"] += 1
            for name in names:
                path = directory / name
                if path.is_dir():
                    continue
                self.one_file(family, name, path)

    def one_file(self, family: str, name: str, path) -> None:
        started = time.monotonic()
        try:
            os.stat(path)
        except FileNotFoundError:
            return  # renamed by a state change since the listing: a right answer
        except OSError as e:
            self.bad(f"stat {path}: {e}")
            return
        self.stat_s.append(time.monotonic() - started)
        started = time.monotonic()
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            self.bad(f"read {path}: {e}")
            return
        self.read_s.append(time.monotonic() - started)
        stem, ext = layout.split_extension(name)
        if len(data) != size:
            self.bad(f"{path}: read {len(data)} bytes, fstat said {size}")
        if ext == "ecf":
            expected = (self.home / family.lstrip("/") / f"{stem}.ecf").read_bytes()
            if data != expected:
                self.bad(f"{path}: not the script on disk")
        elif ext in layout.CODE_STATES:
            text = data.decode()
            state = layout.CODE_STATES[ext]
            if not (text == state + "\n" or (ext == "sus" and text.startswith("suspended ("))):
                self.bad(f"{path}: says {text!r}")


def change_states(server, tasks, until: float, counter: Counter) -> None:
    """A state change on the server every ~0.1 s: complete, aborted, requeued, suspended and resumed."""
    client = server.client()
    rng = random.Random(7)
    while time.monotonic() < until:
        task = rng.choice(tasks)
        action = rng.choice(("complete", "aborted", "requeue", "suspend", "resume"))
        try:
            if action == "requeue":
                client.requeue(task, "force")
            elif action == "suspend":
                client.suspend(task)
            elif action == "resume":
                client.resume(task)
            else:
                client.force_state(task, getattr(__import__("ecflow").State, action))
            counter["changes"] += 1
        except RuntimeError:
            counter["refused"] += 1
        time.sleep(0.1)


def test_eight_readers_for_60_s_while_states_change(big, tmp_path):
    server, result = big
    tasks = [p.path for p in result.plans]
    with Mount.start(server.port, tmp_path / "mnt", "--timeout", "5", refresh=2.0) as mount:
        mnt = mount.path
        readers = Readers(mnt, server.home, tasks, SECONDS)
        changes = Counter()
        threads = [
            threading.Thread(target=readers.shell, args=("find", ["find", str(mnt)], readers.check_find)),
            threading.Thread(target=readers.shell, args=("find", ["find", str(mnt)], readers.check_find)),
            threading.Thread(target=readers.shell, args=("grep", ["grep", "-r", "ERROR", str(mnt),
                                                                  "--include=*.out"], readers.check_grep)),
            threading.Thread(target=readers.shell, args=("tar", ["bash", "-c", f"tar cf - -C {mnt} s0 s1 | wc -c"],
                                                         readers.check_tar)),  # 2,000 tasks: several runs
        ] + [threading.Thread(target=readers.files, args=(seed,)) for seed in range(4)]
        threads.append(threading.Thread(target=change_states, args=(server, tasks, readers.until, changes)))
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + DEADLINE + 30)
        elapsed = time.monotonic() - started
        assert not any(t.is_alive() for t in threads)
        assert mount.proc.poll() is None, mount.log_text()[-2000:]
    assert not readers.wrong, readers.wrong[:10]
    assert readers.runs["find"] >= 2 and readers.runs["tar"] >= 1 and changes["changes"] > 100
    assert len(readers.read_s) > 1000
    record("8 readers for 60 s on 10k tasks while states change (~10 changes/s)",
           wrong_answers=len(readers.wrong), crashes=0, state_changes=changes["changes"],
           find_runs=readers.runs["find"], grep_runs=readers.runs["grep"], tar_runs=readers.runs["tar"],
           listdirs=readers.runs["listdir"],
           stat_per_s=round(len(readers.stat_s) / elapsed), read_per_s=round(len(readers.read_s) / elapsed),
           stat_p50_ms=round(1000 * percentile(readers.stat_s, 0.5), 3),
           stat_p99_ms=round(1000 * percentile(readers.stat_s, 0.99), 3),
           read_p50_ms=round(1000 * percentile(readers.read_s, 0.5), 2),
           read_p99_ms=round(1000 * percentile(readers.read_s, 0.99), 2))
