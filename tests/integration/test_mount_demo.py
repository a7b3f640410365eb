"""Acceptance of the read-only mount on the demo suite (real server, real jobs, real mount).

Issue 9, points 1, 2 (find), 3, 4, 5 and 8.  These tests only read, so they share one server and mount.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from pathlib import Path

import pytest

from wffs import layout

from . import conftest
from .mounting import file_from_server, run

demo_suite = conftest.demo_suite
NODE_LINE = re.compile(r"^\s*(suite|family|task|alias) (\S+) #(.*)$")


def cli_states(server) -> dict:
    """Every node's displayed state code as `ecflow_client --get_state` prints it."""
    out = server.cli("--get_state").stdout.decode()
    states, stack = {}, []
    for line in out.splitlines():
        m = NODE_LINE.match(line)
        if not m:
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        stack[depth:] = [m.group(2)]
        fields = dict(f.split(":", 1) for f in m.group(3).split() if ":" in f)
        code = "sus" if fields.get("suspended") == "1" else layout.STATE_CODES[fields["state"]]
        states["/" + "/".join(stack)] = code
    return states


def status_files(mnt: Path) -> dict:
    """node path -> extension of every status file in the mount."""
    found = {}
    for dirpath, _dirs, files in os.walk(mnt):
        rel = Path(dirpath).relative_to(mnt)
        if rel.parts[:1] == (layout.SERVER_DIR,):
            continue
        for name in files:
            stem, ext = layout.split_extension(name)
            if ext in layout.CODE_STATES:
                path = "/" + "/".join(rel.parts + (stem,))
                assert path not in found, f"two status files for {path}"
                found[path] = ext
    return found


def test_every_status_file_matches_get_state(demo_server, demo_mount):
    expected = cli_states(demo_server)
    assert len(expected) >= len(demo_suite.EXPECTED)
    assert status_files(demo_mount.path) == expected


def test_find_lists_exactly_the_aborted_nodes(demo_server, demo_mount):
    aborted = sorted(p for p, code in cli_states(demo_server).items() if code == "abo")
    assert "/demo/fail/crash" in aborted
    out = run(["find", str(demo_mount.path), "-name", "*.abo"]).stdout.decode().split()
    found = sorted("/" + str(Path(p).relative_to(demo_mount.path))[: -len(".abo")] for p in out)
    assert found == aborted


@pytest.mark.parametrize("path", ["/demo/ok/t1", "/demo/ok/t2", "/demo/fail/crash", "/demo/out/t.v2"])
@pytest.mark.parametrize("ext,kind", [("ecf", "script"), ("job", "job"), ("man", "manual")])
def test_task_files_equal_what_the_server_returns(demo_server, demo_mount, path, ext, kind):
    local = demo_mount.path / f"{path.lstrip('/')}.{ext}"
    assert local.read_bytes() == file_from_server(demo_server, path, kind)
    assert local.stat().st_size == len(local.read_bytes())


def test_manual_has_content(demo_mount):
    assert any((demo_mount.path / "demo").rglob("*.man"))
    assert any(p.stat().st_size > 0 for p in (demo_mount.path / "demo").rglob("*.man"))


@pytest.mark.parametrize("path", ["/demo/out/huge", "/demo/out/binary", "/demo/fail/crash", "/demo/ok/t2"])
def test_job_output_equals_the_file_on_disk(demo_server, demo_mount, path):
    on_disk = demo_suite.job_output(demo_server.home, path).read_bytes()
    mounted = demo_mount.path / f"{path.lstrip('/')}.out"
    assert mounted.stat().st_size == len(on_disk)
    assert mounted.read_bytes() == on_disk


def test_big_and_binary_outputs_are_whole(demo_server, demo_mount):
    huge = (demo_mount.path / "demo/out/huge.out").read_bytes()
    assert huge.count(b"\n") > 20000
    binary = (demo_mount.path / "demo/out/binary.out").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        binary.decode("utf-8")


def test_a_task_that_never_ran_has_no_job_or_output(demo_mount):
    names = os.listdir(demo_mount.path / "demo/deps")
    assert "never.que" in names and "never.att" in names
    assert "never.job" not in names and "never.out" not in names


def test_att_has_what_the_server_knows(demo_mount):
    att = (demo_mount.path / "demo/ok/t2.att").read_text()
    for needle in ("state complete", "meter progress", "event done", "ECF_JOB =", "inherited from /demo",
                   "since "):
        assert needle in att, needle
    assert "inlimit cpu" in (demo_mount.path / "demo/ok.att").read_text()
    assert "limit cpu 2" in (demo_mount.path / "demo.att").read_text()
    assert "trigger ../ok/t1 == complete" in (demo_mount.path / "demo/deps/after_ok.att").read_text()
    assert re.search(r"repeat I \d", (demo_mount.path / "demo/loop.att").read_text())


def test_job_passwords_appear_in_no_file(demo_server, demo_mount):
    """ECF_PASS lets whoever knows it act as the job: the .att says it is hidden.  (A job file carries
    its own password, as ecflow_client --file job shows it: .job files are served as they are.)"""
    passwords = set(re.findall(r"passwd:(\S+)", demo_server.cli("--get_state").stdout.decode()))
    assert passwords
    atts = b"".join(p.read_bytes() for p in demo_mount.path.rglob("*.att"))
    everything = b"".join(p.read_bytes() for p in demo_mount.path.rglob("*")
                          if p.is_file() and p.suffix != ".job")
    assert b"ECF_PASS = (hidden)" in atts
    for password in passwords:
        assert password.encode() not in everything


def test_server_files(demo_server, demo_mount):
    server_dir = demo_mount.path / layout.SERVER_DIR
    assert sorted(os.listdir(server_dir)) == sorted(layout.SERVER_FILES)
    for name in layout.SERVER_FILES:
        data = (server_dir / name).read_bytes()
        assert data or name in ("events", "mirrors"), name  # no state change seen yet, no mirror
        assert (server_dir / name).stat().st_size == len(data) or name == "events"
    assert b"reachable yes" in (server_dir / "status").read_bytes()
    assert b"suite demo" in (server_dir / "suites.def").read_bytes()
    assert b"Server statistics" in (server_dir / "stats").read_bytes()


def test_tar_copy_is_byte_exact(demo_mount, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    tar = subprocess.Popen(["tar", "cf", "-", "--exclude", "./.server", "."], cwd=demo_mount.path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    untar = run(["tar", "xf", "-", "-C", str(copy)], stdin=tar.stdout, timeout=120)
    tar.stdout.close()
    assert tar.wait(120) == 0, tar.stderr.read()
    assert tar.stderr.read() == b""
    assert untar.returncode == 0, untar.stderr
    assert_same_tree(demo_mount.path, copy)


def test_rsync_copy_is_byte_exact(demo_mount, tmp_path):
    copy = tmp_path / "copy"
    done = run(["rsync", "-a", "--exclude", "/.server", f"{demo_mount.path}/", f"{copy}/"], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert_same_tree(demo_mount.path, copy)


def assert_same_tree(mnt: Path, copy: Path):
    files = [p for p in mnt.rglob("*") if p.is_file() and layout.SERVER_DIR not in p.parts]
    assert len(files) > 50
    for p in files:
        twin = copy / p.relative_to(mnt)
        assert twin.read_bytes() == p.read_bytes(), p


def test_grep_finds_the_failed_jobs_output(demo_mount):
    done = run(["grep", "-rl", demo_suite.ABORT_LINE, str(demo_mount.path / "demo")])
    hits = done.stdout.decode().split()
    assert str(demo_mount.path / "demo/fail/crash.out") in hits


@pytest.mark.parametrize("action", [
    lambda m: open(m / "demo/ok/t1.att", "w"),
    lambda m: open(m / "demo/ok/t1.att", "a"),
    lambda m: open(m / "demo/ok/new.txt", "w"),
    lambda m: os.mkdir(m / "demo/newdir"),
    lambda m: os.unlink(m / "demo/ok/t1.att"),
    lambda m: os.rename(m / "demo/ok/t1.att", m / "demo/ok/t9.att"),
    lambda m: os.truncate(m / "demo/ok/t1.ecf", 0),
    lambda m: os.chmod(m / "demo/ok/t1.ecf", 0o777),
    lambda m: os.rmdir(m / "demo/ok"),
    lambda m: os.symlink("x", m / "demo/ok/link"),
], ids=["write", "append", "create", "mkdir", "unlink", "rename", "truncate", "chmod", "rmdir", "symlink"])
def test_writes_are_refused_with_erofs(demo_server, demo_mount, action):
    before = demo_server.cli("--get").stdout
    with pytest.raises(OSError) as raised:
        action(demo_mount.path)
    assert raised.value.errno == errno.EROFS
    assert demo_server.cli("--get").stdout == before


def test_files_over_the_cap_are_served_as_head_and_marker(demo_server, tmp_path):
    from .mounting import Mount

    on_disk = demo_suite.job_output(demo_server.home, "/demo/out/huge").read_bytes()
    cap = 100_000
    assert len(on_disk) > cap
    with Mount.start(demo_server.port, tmp_path / "capped", "--max-file-size", "100K") as capped:
        out = capped.path / "demo/out/huge.out"
        data = out.read_bytes()
        assert out.stat().st_size == len(data)
        assert data[:102400] == on_disk[:102400]
        marker = data[102400:]
        assert marker.startswith(b"\n# >>>>>>>> wffs: file truncated to its first 102400 of "
                                 + str(len(on_disk)).encode() + b" bytes")
        small = capped.path / "demo/fail/crash.out"
        assert small.read_bytes() == demo_suite.job_output(demo_server.home, "/demo/fail/crash").read_bytes()
