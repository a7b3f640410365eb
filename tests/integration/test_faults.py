"""Faults while the mount is in use (issue 13): the server killed, paused, restarted with another
definition, the network stalled, wffs itself killed, one of several servers stalled.

Each test runs shell tools on the mount in loops, each run with a deadline, across the fault, and checks
that nothing hangs past the documented bound (a call that needs the server fails with EIO after at most
twice --timeout; metadata never waits), that the mount survives and recovers, and records how many runs
failed and how long recovery took (tests/integration/reliability.py, docs/reliability.rst).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from wffs import mount_table

from .mounting import ROOT, Mount, run, wait_until
from .proxy import StallingProxy
from .reliability import CommandLoop, record

import gen_suite  # noqa: E402  (scripts/, put on sys.path by conftest)

TIMEOUT = 2.0  # --timeout of the mounts here
BOUND = 2 * TIMEOUT  # the documented worst case of one file-system call that needs the server
DEADLINE = BOUND + 6.0  # a whole shell command (many calls, the first of which may wait BOUND)
OUTAGE = 5.0
RECOVERY_LIMIT = 20.0

FIND = "set -o pipefail; find {m} | wc -l"
TAR = "set -o pipefail; tar cf - -C {m} --exclude=./.server . | wc -c"
CAT = "cat {m}/s0/f0/*.out {m}/s1/f1/*.ecf > /dev/null"


def generated(server, suites=2, families=4, tasks=25):
    """A generated suite (mixed states, scripts on disk, outputs for some tasks), checkpointed so that a
    restarted server comes back with it."""
    result = gen_suite.generate(server, server.home, suites, families, tasks)
    assert server.cli("--check_pt").returncode == 0
    return result


def loops(mnt) -> CommandLoop:
    return CommandLoop([c.format(m=mnt) for c in (FIND, TAR, CAT)], DEADLINE)


def nodes_in(mnt) -> int:
    """How many nodes the mount shows: one status file each (other files come and go with states)."""
    done = run(["find", str(mnt), "-regextype", "egrep", "-regex", r".*\.(que|sub|act|com|abo|sus|unk)"],
               timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    return len(done.stdout.splitlines())


def suspend_and_watch(server, mnt, task: str = "/s0/f0/t0") -> float:
    """Seconds until a task suspended on the server shows suspended in the mount."""
    started = time.monotonic()
    target = mnt / (task.lstrip("/") + ".sus")
    done = server.cli("--suspend", task, timeout=10)
    assert done.returncode == 0, done.stderr
    wait_until(target.exists, RECOVERY_LIMIT, 0.05)
    return time.monotonic() - started


def check_common(loop: CommandLoop, mount: Mount, fault_at: float, back_at: float, recovered: float) -> dict:
    assert not loop.hung(), [(o.command, o.error) for o in loop.hung()]  # nothing past its deadline
    assert mount.proc.poll() is None, mount.log_text()[-2000:]  # the mount survived
    assert not loop.failed(until=fault_at), [(o.command, o.error) for o in loop.failed(until=fault_at)]
    finds = [o for o in loop.outcomes if o.command.startswith("set -o pipefail; find")]
    assert finds and all(o.rc == 0 for o in finds), [o.error for o in finds if o.rc]  # metadata never fails
    assert recovered < RECOVERY_LIMIT
    settled = back_at + recovered + 2 * TIMEOUT
    assert not loop.failed(since=settled), [(o.command, o.error) for o in loop.failed(since=settled)]
    return {**loop.summary(), "failed_during_fault": len(loop.failed(fault_at, back_at + recovered)),
            "longest_find_s": round(max(o.seconds for o in finds), 2), "recovery_s": round(recovered, 2)}


@pytest.fixture
def busy(scratch_server, tmp_path):
    generated(scratch_server)
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", str(TIMEOUT)) as mount:
        yield scratch_server, mount


def across_a_fault(server, mount, start_fault, while_down, end_fault) -> dict:
    """find/tar/cat loops across a fault: start it, check `while_down` after OUTAGE seconds, end it; then
    the time until a change on the server shows, and the checks every fault shares.  Returns the figures."""
    before = nodes_in(mount.path)
    loop = loops(mount.path).start()
    try:
        time.sleep(2)
        fault_at = time.monotonic()
        start_fault()
        try:
            time.sleep(OUTAGE)
            while_down()
        finally:
            end_fault()
        back_at = time.monotonic()
        recovered = suspend_and_watch(server, mount.path)
        time.sleep(2 * TIMEOUT + 3)
    finally:
        loop.stop()
    figures = check_common(loop, mount, fault_at, back_at, recovered)
    assert nodes_in(mount.path) == before
    return figures


def test_server_killed_during_find_and_tar(busy):
    server, mount = busy

    def while_down():
        assert b"reachable no" in run(["cat", str(mount.path / ".server/status")], timeout=BOUND + 1).stdout

    figures = across_a_fault(server, mount, lambda: os.kill(server.pid, signal.SIGKILL), while_down, server.start)
    record("server killed (SIGKILL) during find/tar/cat loops, back after 5 s", **figures)


def test_server_paused_during_find_and_tar(busy):
    server, mount = busy

    def while_down():
        started = time.monotonic()
        status = run(["cat", str(mount.path / ".server/status")], timeout=BOUND + 1)
        assert time.monotonic() - started < 1.0 and status.returncode == 0  # answered from memory
        assert wait_until(lambda: b"reachable no" in (mount.path / ".server/status").read_bytes(), BOUND + 1)

    figures = across_a_fault(server, mount, server.pause, while_down, server.resume)
    record("server paused (SIGSTOP) for 5 s during find/tar/cat loops", **figures)


def test_network_stalled_longer_than_the_timeout(scratch_server, tmp_path):
    """A TCP proxy between wffs and the server stops forwarding for 5 s (2.5x --timeout)."""
    generated(scratch_server)
    with StallingProxy(scratch_server.port) as proxy, \
            Mount.start(proxy.port, tmp_path / "mnt", "--timeout", str(TIMEOUT)) as mount:
        waited = []

        def while_down():
            started = time.monotonic()
            done = run(["cat", str(mount.path / ".server/zombies")], timeout=BOUND + 5)  # not cached
            waited.append(time.monotonic() - started)
            assert done.returncode != 0 and b"Input/output error" in done.stderr
            assert waited[0] <= BOUND + 0.5, waited
            status = (mount.path / ".server/status").read_text()
            assert "reachable no" in status and "no answer in 2 s" in status, status

        figures = across_a_fault(scratch_server, mount, proxy.stall, while_down, proxy.resume)
        assert b"reachable yes" in (mount.path / ".server/status").read_bytes()
        record("network stalled 5 s (TCP proxy, --timeout 2) during find/tar/cat loops",
               eio_after_s=round(waited[0], 2), **figures)


def test_a_slow_server_is_waited_for_at_mount(scratch_server, tmp_path):
    """A server that answers at once but sends its definition late (a big server: 50,000 tasks take 8 s to
    sync) is slow, not hung: the mount waits for its first view instead of answering with an empty tree."""
    generated(scratch_server)
    late = 3 * TIMEOUT  # longer than a hung server is waited for (--timeout + 1 s)
    with StallingProxy(scratch_server.port) as proxy:
        proxy.hold_new(after=1, seconds=late)  # the worker's first request answered, the next ones late
        started = time.monotonic()
        with Mount.start(proxy.port, tmp_path / "mnt", "--timeout", str(TIMEOUT)) as mount:
            took = time.monotonic() - started
            assert {"s0", "s1"} <= set(os.listdir(mount.path)), mount.log_text()[-2000:]
            assert nodes_in(mount.path) == 2 + 2 * 4 * 26  # the whole tree at once
            assert took >= late
            assert "answered; waiting for its first view" in mount.log_text()


def test_a_hung_server_holds_a_mount_only_briefly(scratch_server, tmp_path):
    """A server that answers nothing at mount: the mount answers after --timeout + 1 s with what it knows
    (nothing yet), and shows the tree once the server answers."""
    generated(scratch_server)
    with StallingProxy(scratch_server.port) as proxy:
        proxy.stall()
        started = time.monotonic()
        with Mount.start(proxy.port, tmp_path / "mnt", "--timeout", str(TIMEOUT)) as mount:
            took = time.monotonic() - started
            assert took < TIMEOUT + 1 + 3, took  # the wait, plus starting Python and the worker
            assert not {"s0", "s1"} & set(os.listdir(mount.path))
            proxy.resume()
            assert wait_until(lambda: {"s0", "s1"} <= set(os.listdir(mount.path)), RECOVERY_LIMIT)


def test_a_read_waiting_behind_a_hung_sync_fails_within_the_bound(scratch_server, tmp_path):
    """The server hangs; a `cat` arrives while the refresher's sync waits on it (before anything has failed,
    so the read is sent).  Its directory's files are asked in one batch, which a slow server may take
    30 s to answer: the batch waited behind the sync, then got a fresh worker (the sync's was killed)
    with no definition, and waited the whole 30 s on the hung server (a CI run's `cat` outlasted 10 s).
    Now a batch gets the 30 s only once its worker has read a file, and calls that waited behind one
    that got no answer fail with it."""
    generated(scratch_server, 1, 2, 10)
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", str(TIMEOUT)) as mount:
        scratch_server.pause()
        try:
            time.sleep(1.0)  # the refresher (--refresh 0.5) is waiting on the server now
            for family in ("f0", "f1"):
                started = time.monotonic()
                done = run(["cat", str(mount.path / f"s0/{family}/t3.ecf")], timeout=DEADLINE)
                took = time.monotonic() - started
                # read from disk by a worker that was free, or EIO: within the bound either way
                assert done.returncode == 0 or b"Input/output error" in done.stderr, done.stderr
                assert took < BOUND, (family, took)
        finally:
            scratch_server.resume()
        assert wait_until(lambda: run(["cat", str(mount.path / "s0/f1/t3.ecf")]).returncode == 0, RECOVERY_LIMIT)


def test_definition_changed_under_a_shell_in_a_removed_directory(busy, tmp_path):
    """The server restarted with other suites (one kept, one renamed, one removed, one new) while a
    shell sits in a directory that goes away."""
    import ecflow

    server, mount = busy
    shell = subprocess.Popen(["bash"], cwd=mount.path / "s1/f0", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        server.stop()
        for checkpoint in server.home.glob("*.ecf.check*"):  # the checkpoint and its backup: forget s0, s1
            checkpoint.unlink()
        server.start()
        defs = ecflow.Defs()
        for name in ("s0", "renamed", "new"):
            defs.add_suite(name).add_family("f0").add_task("t0")
        server.client().load(defs)
        changed_at = time.monotonic()
        def suites():
            return {n for n in os.listdir(mount.path) if (mount.path / n).is_dir()}
        assert wait_until(lambda: suites() == {".server", "new", "renamed", "s0"}, RECOVERY_LIMIT), suites()
        shown_after = time.monotonic() - changed_at
        out, _ = shell.communicate(
            f"ls; echo ls-rc=$?; pwd; cd ..; echo cd-rc=$?; cd {mount.path}/new/f0 && ls; echo new-rc=$?\n",
            timeout=DEADLINE)
    finally:
        if shell.poll() is None:
            shell.kill()
    assert "No such file or directory" in out and "ls-rc=2" in out, out
    assert f"{mount.path}/s1/f0" in out  # the shell's own idea of where it is
    assert "t0.unk" in out and "new-rc=0" in out, out
    assert shell.returncode == 0
    assert not (mount.path / "s1").exists() and (mount.path / "s0/f0/t0.unk").exists()
    assert run(["find", str(mount.path)], timeout=DEADLINE).returncode == 0
    record("server restarted with another definition under a shell in a removed directory",
           new_tree_shown_after_s=round(shown_after, 2), shell_ls_in_removed_dir="ENOENT",
           mount_alive=mount.proc.poll() is None)


def test_wffs_killed_during_find_then_mounted_again(scratch_server, tmp_path):
    generated(scratch_server)
    mnt = tmp_path / "mnt"
    first = Mount.start(scratch_server.port, mnt, "--timeout", str(TIMEOUT))
    second_log = tmp_path / "second.log"
    try:
        before = nodes_in(mnt)
        loop = CommandLoop([FIND.format(m=mnt), TAR.format(m=mnt)], DEADLINE).start()
        try:
            time.sleep(2)
            fault_at = time.monotonic()
            first.signal(signal.SIGKILL)
            first.proc.wait(10)
            time.sleep(2)
            assert mount_table.is_dead(str(mnt))
            back_at = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "wffs.cli", "mount", "localhost", str(scratch_server.port),
                                   str(mnt), "--timeout", str(TIMEOUT), "--log", str(second_log)],
                                  cwd=ROOT, capture_output=True, timeout=60)
            assert done.returncode == 0, done.stderr
            remounted = time.monotonic() - back_at
            time.sleep(3)
        finally:
            loop.stop()
        assert not loop.hung(), [(o.command, o.error) for o in loop.hung()]
        dead = loop.failed(fault_at, back_at + remounted)
        assert dead and all("Transport endpoint is not connected" in o.error or o.rc for o in dead)
        assert not loop.failed(since=back_at + remounted), loop.failed(since=back_at + remounted)
        assert nodes_in(mnt) == before
        record("wffs killed (SIGKILL) during find/tar loops, mounted again over the dead mount",
               **loop.summary(), failed_while_dead=len(dead), remount_s=round(remounted, 2))
    finally:
        subprocess.run([sys.executable, "-m", "wffs.cli", "umount", str(mnt)], capture_output=True, timeout=30)
        first.stop()
        if mount_table.is_mounted(str(mnt)):
            mount_table.unmount(str(mnt), lazy=True)


def test_one_of_several_servers_stalled_while_the_others_are_read(tmp_path):
    from testbed.devserver import EcflowServer

    servers = [EcflowServer(tmp_path / f"home{i}") for i in range(3)]
    try:
        for s in servers:
            s.start()
            generated(s, 1, 2, 10)
        config = tmp_path / "servers.toml"
        config.write_text("".join(f"[servers.srv{i}]\nhost = \"localhost\"\nport = {s.port}\n\n"
                                  for i, s in enumerate(servers)))
        mnt = tmp_path / "mnt"
        mount = Mount.start_target(["--config", str(config)], mnt, "--timeout", str(TIMEOUT))
        try:
            others = [f"{mnt}/srv1", f"{mnt}/srv2"]
            loop = CommandLoop([f"set -o pipefail; find {others[0]} {others[1]} | wc -l",
                                f"set -o pipefail; tar cf - -C {mnt} --exclude=.server srv1 srv2 | wc -c",
                                f"cat {others[0]}/s0/f0/*.ecf {others[1]}/s0/f1/*.ecf > /dev/null"],
                               DEADLINE).start()
            try:
                time.sleep(2)
                fault_at = time.monotonic()
                servers[0].pause()
                try:
                    run(["cat", str(mnt / "srv0/s0/f0/t3.ecf")], timeout=DEADLINE)  # may wait on the hung one
                    time.sleep(OUTAGE)
                finally:
                    servers[0].resume()
                back_at = time.monotonic()
                time.sleep(2)
            finally:
                loop.stop()
            assert not loop.hung() and not loop.failed(), [(o.command, o.error) for o in loop.failed()]
            during = [o.seconds for o in loop.outcomes if fault_at <= o.started < back_at]
            before = [o.seconds for o in loop.outcomes if o.started < fault_at]
            assert during and max(during) < BOUND, during
            assert mount.proc.poll() is None
            record("one of three servers paused 5 s while the other two are read (find/tar/cat loops)",
                   **loop.summary(), runs_during_stall=len(during),
                   longest_during_stall_s=round(max(during), 2), longest_before_s=round(max(before), 2))
        finally:
            mount.stop()
    finally:
        for s in servers:
            s.stop()
