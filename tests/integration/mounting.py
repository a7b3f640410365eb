"""A real wffs mount as a subprocess, for integration tests: started with a deadline, always torn down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wffs import mount_table

ROOT = Path(__file__).resolve().parents[2]


class Mount:
    #: Every mount started in this run, in order: a failed test's report ends with the logs of its own
    #: (see conftest.py), so that a CI failure says what the mount did.
    started: list = []

    def __init__(self, path: Path, proc: subprocess.Popen, log: Path):
        self.path, self.proc, self.log = path, proc, log

    @classmethod
    def start(cls, port: int, path: Path, *extra: str, host: str = "localhost", refresh: float = 0.5,
              timeout: float = 60, env: dict | None = None, cli: tuple = ("-m", "wffs.cli")) -> "Mount":
        return cls.start_target([host, str(port)], path, *extra, refresh=refresh, timeout=timeout, env=env, cli=cli)

    @classmethod
    def start_target(cls, target: list, path: Path, *extra: str, refresh: float = 0.5, timeout: float = 60,
                     env: dict | None = None, cli: tuple = ("-m", "wffs.cli")) -> "Mount":
        """`wffs mount TARGET... PATH --foreground` (TARGET: HOST PORT, cylc://ID or --config FILE),
        returned once mounted; its log is PATH.log beside PATH.  `cli`: how python runs wffs's command line."""
        path.mkdir(parents=True, exist_ok=True)
        log = path.parent / f"{path.name}.log"
        argv = [sys.executable, *cli, "mount", *target, str(path), "--foreground",
                "--refresh", str(refresh), "--log", str(log), *extra]
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        mount = cls(path, proc, log)
        cls.started.append(mount)
        if not mount_table.wait_mounted(str(path), timeout, alive=lambda: proc.poll() is None):
            mount.stop()
            raise RuntimeError(f"wffs did not mount {path}:\n{mount.log_text()}")
        return mount

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def stop(self) -> None:
        """Unmount, then make sure the process is gone and nothing is left mounted (even a dead mount)."""
        if mount_table.is_mounted(str(self.path)):
            mount_table.unmount(str(self.path), timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if mount_table.is_mounted(str(self.path)):
            mount_table.unmount(str(self.path), lazy=True, timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run(argv, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    """A shell tool on the mount, with a deadline so that a hung mount fails the test instead of hanging."""
    return subprocess.run(argv, capture_output=True, timeout=timeout, **kw)


def file_from_server(server, path: str, kind: str) -> bytes:
    """What `ecflow_client --file` returns, less the newline the CLI appends."""
    done = server.cli(f"--file={path}", kind, "100000000")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(b"\n")
    return done.stdout[:-1]


def wait_until(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


__all__ = ["Mount", "run", "wait_until", "signal", "file_from_server"]
