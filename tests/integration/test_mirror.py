"""Issue 10: a write to <task>.mirror makes a local task follow a task on another server.

Two real servers on loopback ("local" and "remote"), real jobs, a real mount of the local one.
"""

from __future__ import annotations

import errno
import json
import os
import time

import pytest

from testbed.devserver import EcflowServer, state_of

from . import conftest
from .mounting import Mount, run, wait_until

demo_suite = conftest.demo_suite
POLLING = 1
SLACK = 3.0  # the bound: a remote change shows locally within polling + 3 s


def write_real_suite(server, suite_name: str, scripts: dict, build):
    """Load a suite whose tasks really run: scripts {"family/task": body}, build(suite) adds nodes."""
    import ecflow

    demo_suite.write_includes(server.home)
    for rel, body in scripts.items():
        path = server.home / suite_name / f"{rel}.ecf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(demo_suite.script(body))
    defs = ecflow.Defs()
    suite = defs.add_suite(suite_name)
    demo_suite.suite_variables(suite, server.home, server.port)
    build(suite)
    client = server.client()
    client.load(defs)
    return client


@pytest.fixture
def remote(tmp_path):
    """A remote server with /s1/f1/t1, a real task that waits for a go file, then completes."""
    server = EcflowServer(tmp_path / "remote")
    server.start()
    go = tmp_path / "go"
    body = (f'while [ ! -e {go} ]; do sleep 0.2; done\n'
            'ecflow_client --label=info "remote says hello"\n'
            'ecflow_client --meter=progress 7\n')

    def build(suite):
        task = suite.add_family("f1").add_task("t1")
        task.add_label("info", "")
        task.add_meter("progress", 0, 10)

    try:
        write_real_suite(server, "s1", {"f1/t1": body}, build).begin_suite("s1")
        server.go = go
        yield server
    finally:
        server.stop()


def howto_suite(remote_port: int):
    """ecFlow's how-to "mirror a remote task", less the native mirror attribute (ecFlow 5.13+, written
    to Task.mirror instead): suite variables ECF_MIRROR_REMOTE_*, Task, and Dependent triggered by it."""

    def build(suite):
        suite.add_variable("ECF_MIRROR_REMOTE_HOST", "localhost")
        suite.add_variable("ECF_MIRROR_REMOTE_PORT", str(remote_port))
        suite.add_variable("ECF_MIRROR_REMOTE_POLLING", str(POLLING))
        family = suite.add_family("f")
        task = family.add_task("Task")
        task.add_label("info", "")
        task.add_meter("progress", 0, 10)
        family.add_task("Dependent").add_trigger("Task == complete")

    return build


HOWTO_MIRROR_LINE = "mirror --name A --remote_path /s1/f1/t1 --remote_host %ECF_MIRROR_REMOTE_HOST% " \
                    "--remote_port %ECF_MIRROR_REMOTE_PORT% --polling %ECF_MIRROR_REMOTE_POLLING%"


@pytest.fixture
def local(tmp_path, remote):
    """The local server with the how-to suite, begun (Task would run a real job if not mirrored)."""
    server = EcflowServer(tmp_path / "local")
    server.start()
    scripts = {"f/Task": 'echo "Task ran locally: it should not have"\nexit 1\n',
               "f/Dependent": 'echo "Dependent ran"\n'}
    try:
        server.client_ = write_real_suite(server, "s", scripts, howto_suite(remote.port))
        yield server
    finally:
        server.stop()


@pytest.fixture
def mount(local, tmp_path):
    with Mount.start(local.port, tmp_path / "mnt", "--timeout", "3") as m:
        yield m


def mirror_file(mount):
    return mount.path / "s/f/Task.mirror"


def write_line(path, line: str) -> int:
    """Write LINE and a newline as `echo LINE > path` does (open, write, close); the errno or 0."""
    try:
        with open(path, "w") as f:
            f.write(line + "\n")
    except OSError as e:
        return e.errno
    return 0


def shell_echo(path, line: str):
    return run(["bash", "-c", 'echo "$1" > "$2"', "bash", line, str(path)])


def defs_text(server) -> bytes:
    return server.cli("--get").stdout


def test_howto_example_task_follows_and_dependent_runs(local, remote, mount):
    assert shell_echo(mirror_file(mount), HOWTO_MIRROR_LINE).returncode == 0
    local.client().begin_suite("s")
    assert "Task.mirror" in os.listdir(mount.path / "s/f")
    text = mirror_file(mount).read_text()
    assert text.splitlines()[0] == HOWTO_MIRROR_LINE
    assert wait_until(lambda: state_of(remote, "/s1/f1/t1") == "active", 30)
    assert wait_until(lambda: "remote_state active" in mirror_file(mount).read_text(), POLLING + SLACK)
    assert state_of(local, "/s/f/Task") == "active"
    assert state_of(local, "/s/f/Dependent") == "queued"
    remote.go.touch()
    assert wait_until(lambda: state_of(remote, "/s1/f1/t1") == "complete", 30)
    completed = time.monotonic()
    assert wait_until(lambda: state_of(local, "/s/f/Task") == "complete", POLLING + SLACK, 0.05)
    assert time.monotonic() - completed <= POLLING + SLACK
    assert wait_until(lambda: state_of(local, "/s/f/Dependent") == "complete", 30)
    assert b"Dependent ran" in demo_suite.job_output(local.home, "/s/f/Dependent").read_bytes()
    assert not demo_suite.job_output(local.home, "/s/f/Task").exists()  # never submitted locally
    att = mount.path / "s/f/Task.att"
    assert wait_until(lambda: "label info 'remote says hello'" in att.read_text(), POLLING + SLACK), \
        (att.read_text(), os.listdir(mount.path / "s/f"), (mount.path / ".server/status").read_text())
    assert "meter progress 7" in att.read_text()
    status = mirror_file(mount).read_text()
    assert "status ok" in status and "remote_state complete" in status
    assert "/s/f/Task\tok\t" in (mount.path / ".server/mirrors").read_text()


# ---- the other acceptance points, against a remote task that tests drive by hand ---------------------
@pytest.fixture
def dummy_remote(tmp_path):
    """A remote /s1/f1/t1 that is never submitted: tests set its state with ecflow_client."""
    yield from serve_dummy_remote(EcflowServer(tmp_path / "remote"))


def serve_dummy_remote(server):
    """Start server with /s1/f1/t1 (never submitted; a label and a meter), yield it, stop it."""
    import ecflow

    server.start()
    defs = ecflow.Defs()
    suite = defs.add_suite("s1")
    suite.add_variable("ECF_DUMMY_TASK", "")
    task = suite.add_family("f1").add_task("t1")
    task.add_label("info", "")
    task.add_meter("progress", 0, 10)
    try:
        client = server.client()
        client.load(defs)
        client.begin_suite("s1")
        yield server
    finally:
        server.stop()


@pytest.fixture
def mirrored(tmp_path, dummy_remote):
    """Local how-to suite, Task mirrored (written through the mount), suite begun; yields (local, mount)."""
    local = EcflowServer(tmp_path / "local")
    local.start()
    scripts = {"f/Task": 'echo "Task ran locally"\n', "f/Dependent": 'echo "Dependent ran"\n'}
    try:
        write_real_suite(local, "s", scripts, howto_suite(dummy_remote.port))
        with Mount.start(local.port, tmp_path / "mnt", "--timeout", "3") as mount:
            assert write_line(mirror_file(mount), HOWTO_MIRROR_LINE) == 0
            local.client().begin_suite("s")
            yield local, mount
    finally:
        local.stop()


def local_state(mount) -> str:
    names = [n for n in os.listdir(mount.path / "s/f") if n.startswith("Task.")]
    return next(n.split(".")[1] for n in names if n.split(".")[1] in ("unk", "que", "sub", "act", "com",
                                                                      "abo", "sus"))


def test_aborted_and_requeued_remote_show_locally(mirrored, dummy_remote):
    local, mount = mirrored
    dummy_remote.cli("--force=aborted", "/s1/f1/t1")
    assert wait_until(lambda: local_state(mount) == "abo", POLLING + SLACK, 0.05)
    dummy_remote.cli("--requeue=force", "/s1/f1/t1")  # (a requeue also resets meters and events)
    assert wait_until(lambda: local_state(mount) == "que", POLLING + SLACK, 0.05)
    dummy_remote.cli("--alter=change", "label", "info", "retrying", "/s1/f1/t1")
    dummy_remote.cli("--alter=change", "meter", "progress", "3", "/s1/f1/t1")
    att = mount.path / "s/f/Task.att"
    assert wait_until(lambda: "label info 'retrying'" in att.read_text(), POLLING + SLACK)
    assert "meter progress 3" in att.read_text()
    assert state_of(local, "/s/f/Dependent") == "queued"


def test_remote_down_keeps_state_then_resumes(mirrored, dummy_remote):
    local, mount = mirrored
    dummy_remote.cli("--force=active", "/s1/f1/t1")
    assert wait_until(lambda: local_state(mount) == "act", POLLING + SLACK, 0.05)
    dummy_remote.stop()
    assert wait_until(lambda: "status error" in mirror_file(mount).read_text(), POLLING + SLACK + 5)
    status = mirror_file(mount).read_text()
    assert "last_error -" not in status
    assert local_state(mount) == "act"
    assert "\terror\t" in (mount.path / ".server/mirrors").read_text()
    dummy_remote.restart()
    dummy_remote.cli("--force=complete", "/s1/f1/t1")
    # backoff doubles from the polling interval: allow a few intervals
    assert wait_until(lambda: local_state(mount) == "com", 4 * POLLING + SLACK + 5, 0.1)
    assert wait_until(lambda: "status ok" in mirror_file(mount).read_text(), POLLING + SLACK)
    assert wait_until(lambda: state_of(local, "/s/f/Dependent") == "complete", 30)


def test_mirror_resumes_after_wffs_restarts(mirrored, dummy_remote, tmp_path):
    local, mount = mirrored
    mount.stop()
    stored = local.cli("--get=/s/f/Task").stdout.decode()
    assert "WFFS_MIRROR" in stored and "ECF_DUMMY_TASK" in stored
    dummy_remote.cli("--force=complete", "/s1/f1/t1")
    with Mount.start(local.port, tmp_path / "mnt2") as again:
        assert "Task.mirror" in os.listdir(again.path / "s/f")
        assert wait_until(lambda: local_state(again) == "com", POLLING + SLACK + 2, 0.05)
        assert mirror_file(again).read_text().splitlines()[0] == HOWTO_MIRROR_LINE


def test_off_and_rm_clear_the_mirror(mirrored, dummy_remote):
    local, mount = mirrored
    # `printf off` has no newline: applied when the file is closed (released)
    assert run(["bash", "-c", f"printf off > {mirror_file(mount)}"]).returncode == 0
    assert wait_until(lambda: "Task.mirror" not in os.listdir(mount.path / "s/f"), 3)
    stored = local.cli("--get=/s/f/Task").stdout.decode()
    assert "WFFS_MIRROR" not in stored and "ECF_DUMMY_TASK" not in stored
    # unmirrored, the task runs normally again: its own job runs and completes
    local.cli("--requeue=force", "/s/f/Task")
    assert wait_until(lambda: state_of(local, "/s/f/Task") == "complete", 30)
    assert b"Task ran locally" in demo_suite.job_output(local.home, "/s/f/Task").read_bytes()
    # mirrored again, then removed with rm
    assert write_line(mirror_file(mount), HOWTO_MIRROR_LINE) == 0
    assert "Task.mirror" in os.listdir(mount.path / "s/f")
    assert run(["rm", str(mirror_file(mount))]).returncode == 0
    assert "Task.mirror" not in os.listdir(mount.path / "s/f")
    assert "WFFS_MIRROR" not in local.cli("--get=/s/f/Task").stdout.decode()
    dummy_remote.cli("--force=aborted", "/s1/f1/t1")
    time.sleep(POLLING + 1)
    assert state_of(local, "/s/f/Task") == "complete"  # no longer follows


def test_wrong_targets(mirrored):
    local, mount = mirrored
    before = defs_text(local)
    assert write_line(mount.path / "s/f/Nope.mirror", HOWTO_MIRROR_LINE) == errno.ENOENT
    assert write_line(mount.path / "s/f.mirror", HOWTO_MIRROR_LINE) == errno.EINVAL
    assert write_line(mount.path / "s.mirror", HOWTO_MIRROR_LINE) == errno.EINVAL
    assert write_line(mount.path / "s/f/Dependent.att", "x") == errno.EROFS
    assert defs_text(local) == before
    assert "Nope.mirror" not in os.listdir(mount.path / "s/f")


VALID = ["--name", "A", "--remote_path", "/s1/f1/t1", "--remote_port", "%ECF_MIRROR_REMOTE_PORT%",
         "--polling", "1"]
CORRUPTIONS = [
    lambda w: w + ["--bogus"],  # unknown option
    lambda w: w + ["--remote_port", "1"],  # an option twice
    lambda w: [x if x != "%ECF_MIRROR_REMOTE_PORT%" else "70000" for x in w],  # bad port
    lambda w: [x if x != "%ECF_MIRROR_REMOTE_PORT%" else "http" for x in w],
    lambda w: [x if x != "1" else "-5" for x in w],  # bad polling
    lambda w: [x if x != "1" else "soon" for x in w],
    lambda w: [x if x != "/s1/f1/t1" else "s1/f1/t1" for x in w],  # relative remote path
    lambda w: [x if x != "/s1/f1/t1" else "/s1//t1" for x in w],
    lambda w: [x if x != "A" else "-A" for x in w],  # bad name
    lambda w: w[2:],  # no --name
    lambda w: w[:2] + w[4:],  # no --remote_path
    lambda w: w[:-1],  # --polling without a value
    lambda w: w + ["--remote_host", "%NOT_DEFINED_ANYWHERE%"],  # unresolvable variable
    lambda w: ["mirrors"] + w,  # a misspelt keyword
    lambda w: w + ["'unterminated"],
]


def malformed_lines():
    from hypothesis import strategies as st

    corrupted = st.tuples(st.sampled_from(CORRUPTIONS), st.booleans()).map(
        lambda c: " ".join((["mirror"] if c[1] else []) + c[0](list(VALID))))
    garbage = st.text(min_size=1, max_size=60).filter(
        lambda t: t.strip().lower() not in ("", "off") and "--name" not in t and "\x00" not in t)
    return st.one_of(corrupted, garbage)


def test_malformed_lines_are_einval_and_change_nothing(mirrored):
    from hypothesis import HealthCheck, given, settings

    local, mount = mirrored
    target = mount.path / "s/f/Dependent.mirror"  # an unmirrored task: a rejected write leaves no file
    before = defs_text(local)
    stored_line = mirror_file(mount).read_text().splitlines()[0]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(malformed_lines())
    def check(line):
        assert write_line(target, line) == errno.EINVAL
        assert write_line(mirror_file(mount), line) == errno.EINVAL  # nor does it touch a mirror

    check()
    assert defs_text(local) == before
    names = os.listdir(mount.path / "s/f")
    assert "Dependent.mirror" not in names and "Task.mirror" in names
    assert mirror_file(mount).read_text().splitlines()[0] == stored_line
    assert mount.proc.poll() is None
    assert "# last rejected write:" in (mount.path / ".server/mirrors").read_text()
    assert "rejected" in mount.log_text()


def test_echo_to_a_mirror_file_fails_visibly(mirrored):
    local, mount = mirrored
    done = shell_echo(mount.path / "s/f/Dependent.mirror", "mirror --name A --remote_port 99999")
    assert done.returncode != 0
    assert b"Invalid argument" in done.stderr
    reason = (mount.path / ".server/mirrors").read_text().splitlines()[-1]
    assert "Dependent.mirror" in reason and "--remote_path is required" in reason


def test_read_only_mount_refuses_mirror_writes(mirrored, tmp_path):
    local, _mount = mirrored
    with Mount.start(local.port, tmp_path / "ro", "--read-only") as ro:
        assert write_line(ro.path / "s/f/Dependent.mirror", HOWTO_MIRROR_LINE) == errno.EROFS
        assert run(["rm", str(ro.path / "s/f/Task.mirror")]).returncode != 0
        assert "Task.mirror" in os.listdir(ro.path / "s/f")


@pytest.fixture
def guarded_remote(tmp_path):
    """A remote that checks the password of user `ops` (ecFlow 5.9's custom password file)."""
    import socket

    from testbed.devserver import free_port

    home = tmp_path / "guarded"
    home.mkdir()
    port = free_port()
    (home / f"{socket.gethostname()}.{port}.ecf.custom_passwd").write_text(
        f"4.5.0\nops {socket.gethostname()} {port} s3cr3t-Pa55\n")
    yield from serve_dummy_remote(EcflowServer(home, port))


def test_remote_with_a_password(tmp_path, guarded_remote):
    import ecflow

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"username": "ops", "password": "s3cr3t-Pa55"}))
    bad.write_text(json.dumps({"username": "ops", "password": "wrong-Pa55"}))
    local = EcflowServer(tmp_path / "local")
    local.start()
    try:
        defs = ecflow.Defs()
        suite = defs.add_suite("s")
        suite.add_variable("ECF_DUMMY_TASK", "")
        family = suite.add_family("f")
        for name in ("Right", "Wrong", "Missing", "Ssl"):
            family.add_task(name)
        local.client().load(defs)
        local.client().begin_suite("s")
        with Mount.start(local.port, tmp_path / "mnt", "--timeout", "3") as mount:
            line = f"mirror --name A --remote_path /s1/f1/t1 --remote_port {guarded_remote.port} --polling 1"
            f = mount.path / "s/f"
            assert write_line(f / "Right.mirror", f"{line} --remote_auth {good}") == 0
            assert write_line(f / "Wrong.mirror", f"{line} --auth {bad}") == 0
            assert write_line(f / "Missing.mirror", f"{line} --remote_auth {tmp_path}/nowhere.json") == 0
            assert write_line(f / "Ssl.mirror", f"{line} --ssl --remote_auth {good}") == 0  # a plain server
            guarded_remote.cli("--force=complete", "/s1/f1/t1")
            assert wait_until(lambda: state_of(local, "/s/f/Right") == "complete", POLLING + SLACK + 2)
            assert wait_until(lambda: "status error" in (f / "Wrong.mirror").read_text(), POLLING + SLACK)
            assert "authentication failed" in (f / "Wrong.mirror").read_text()
            assert wait_until(lambda: "nowhere.json: No such file or directory" in (f / "Missing.mirror").read_text(),
                              POLLING + SLACK)
            assert wait_until(lambda: "status error" in (f / "Ssl.mirror").read_text(), POLLING + SLACK)
            assert "ssl" in (f / "Ssl.mirror").read_text().split("last_error")[1]
            assert state_of(local, "/s/f/Wrong") == "queued" and state_of(local, "/s/f/Ssl") == "queued"
            assert wait_until(lambda: "status ok" in (f / "Right.mirror").read_text(), POLLING + SLACK)
            everything = b"".join(p.read_bytes() for p in mount.path.rglob("*") if p.is_file())
            ps = run(["ps", "-eo", "args"]).stdout
            log = mount.log_text().encode()
            for secret in (b"s3cr3t-Pa55", b"wrong-Pa55"):
                assert secret not in everything and secret not in ps and secret not in log
            assert str(good).encode() in (f / "Right.mirror").read_bytes()  # the file, never its content
    finally:
        local.stop()


def test_only_the_owner_writes_control_files_under_allow_other(mirrored):
    """Other users read an allow_other mount but cannot write its control files (EACCES)."""
    import tempfile

    local, _mount = mirrored
    mnt = tempfile.mkdtemp(prefix="wffs-shared-", dir="/tmp")
    os.chmod(mnt, 0o755)
    try:
        from pathlib import Path

        with Mount.start(local.port, Path(mnt) / "mnt", "-o", "allow_other") as shared:
            os.chmod(shared.path.parent, 0o755)
            nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            read = run(nobody + ["cat", str(shared.path / "s/f/Task.mirror")])
            assert read.returncode == 0 and read.stdout.startswith(b"mirror --name A")
            before = defs_text(local)
            write = run(nobody + ["sh", "-c", f'echo off > {shared.path}/s/f/Task.mirror'])
            assert write.returncode != 0 and b"Permission denied" in write.stderr
            remove = run(nobody + ["rm", "-f", str(shared.path / "s/f/Task.mirror")])
            assert remove.returncode != 0
            other = run(nobody + ["sh", "-c", f'echo x > {shared.path}/s/f/Task.att'])
            assert b"Read-only file system" in other.stderr  # not a control file: EROFS for anyone
            assert defs_text(local) == before
            assert "Task.mirror" in os.listdir(shared.path / "s/f")
    finally:
        import shutil

        shutil.rmtree(mnt, ignore_errors=True)


def test_local_server_down_then_back(mirrored, dummy_remote):
    local, mount = mirrored
    dummy_remote.cli("--force=active", "/s1/f1/t1")
    assert wait_until(lambda: local_state(mount) == "act", POLLING + SLACK, 0.05)
    local.stop()
    dummy_remote.cli("--force=complete", "/s1/f1/t1")
    status = mount.path / "s/f/Task.mirror"
    assert wait_until(lambda: "status error" in status.read_text(), POLLING + SLACK + 5), status.read_text()
    assert mount.proc.poll() is None  # the mount is still up
    local.restart()
    assert wait_until(lambda: state_of(local, "/s/f/Task") == "complete", 4 * POLLING + SLACK + 10)
    assert wait_until(lambda: "status ok" in status.read_text(), POLLING + SLACK + 5)
