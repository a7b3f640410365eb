"""A real ecflow_server (testbed.devserver) running the demo suite's real jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

pytest.importorskip("ecflow")

import demo_suite  # noqa: E402
from testbed.devserver import EcflowServer, free_port, marked_pids, state_of  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def _cmdlines() -> list[tuple[int, str]]:
    """(pid, command line) of every live process."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat", "rb") as f:
                zombie = f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if cmd and not zombie:
            found.append((int(entry), cmd))
    return found


def _leftovers(server: EcflowServer) -> list[tuple[int, str]]:
    """Processes of this server or its jobs that are still alive."""
    port = f"--port {server.port}"
    home = str(server.home)
    return [(pid, cmd) for pid, cmd in _cmdlines()
            if pid != os.getpid() and (("ecflow_server" in cmd and port in cmd) or home in cmd)]


@pytest.fixture
def server(tmp_path):
    srv = EcflowServer(tmp_path / "home")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.stop()  # idempotent
        assert _leftovers(srv) == []
        assert marked_pids(srv.home) == []


def _cli_state(server: EcflowServer, path: str) -> str:
    """The state as `ecflow_client --get_state` prints it for the node itself."""
    done = server.cli(f"--get_state={path}")
    assert done.returncode == 0, done.stderr
    first = done.stdout.decode().split("\n# enddef")[0]
    name = path.rsplit("/", 1)[1]
    line = next(ln for ln in first.splitlines() if re.match(rf"\s*(task|family|suite) {re.escape(name)} ", ln))
    state = re.search(r"state:(\w+)", line).group(1)
    return "suspended" if "suspended:1" in line else state


def test_free_port_is_in_the_range_ecflow_accepts():
    for _ in range(20):
        assert 20000 <= free_port() <= 49151


def test_demo_suite_settles_with_real_jobs(server):
    demo_suite.load_demo(server)
    states = demo_suite.wait_until_settled(server, timeout=45)
    assert states == demo_suite.EXPECTED

    for path, expected in demo_suite.EXPECTED.items():
        assert _cli_state(server, path) == expected, path

    home = server.home
    crash = demo_suite.job_output(home, "/demo/fail/crash").read_bytes()
    assert demo_suite.ABORT_LINE.encode() in crash
    assert (home / "demo/fail/crash.job1").is_file()
    huge = demo_suite.job_output(home, "/demo/out/huge").read_bytes()
    assert huge.count(b"\n") >= demo_suite.BIG_LINES
    binary = demo_suite.job_output(home, "/demo/out/binary").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        binary.decode("utf-8")
    assert demo_suite.job_output(home, "/demo/out/t.v2").is_file()

    manual = server.cli("--file=/demo/ok/t1", "manual")
    assert b"sets the label" in manual.stdout
    assert b"hello from t1" in server.cli("--get_state=/demo/ok/t1").stdout


def test_pause_resume_and_restart_from_checkpoint(server):
    demo_suite.load_demo(server)
    demo_suite.wait_until_settled(server, timeout=45)

    server.pause()
    with pytest.raises(subprocess.TimeoutExpired):
        server.cli("--ping", timeout=2)
    server.resume()
    assert server.cli("--ping").returncode == 0

    old_pid = server.pid
    server.restart()
    assert server.pid != old_pid
    assert server.checkpoint_path().is_file()
    assert state_of(server, "/demo/fail/crash") == "aborted"
    assert state_of(server, "/demo/hold/paused") == "suspended"
    # stop() killed the active task's job; the recovered server still shows it active
    assert state_of(server, "/demo/run/active") == "active"
    assert [cmd for _, cmd in _leftovers(server) if "active.job" in cmd] == []
