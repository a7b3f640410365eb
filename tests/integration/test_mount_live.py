"""Live state, faults and the mount's life cycle (issue 9, points 2, 6 and 7), each on a server of its own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from wffs import mount_table
from wffs.backend.ecflow import script_manuals

from .mounting import ROOT, Mount, run, wait_until

FRESH_WITHIN = 3.0


def load_scratch_suite(server, tasks=("a", "b", "c")):
    """A suite whose tasks are never submitted (ECF_DUMMY_TASK), so tests drive states by hand."""
    import ecflow

    defs = ecflow.Defs()
    suite = defs.add_suite("s")
    suite.add_variable("ECF_DUMMY_TASK", "")
    suite.add_variable("ECF_TRIES", "1")
    family = suite.add_family("f")
    for name in tasks:
        task = family.add_task(name)
        task.add_label("info", "none")
        task.add_meter("progress", 0, 100)
    client = server.client()
    client.load(defs)
    client.begin_suite("s")
    return client


def load_held_suite(server, name: str) -> None:
    """/NAME/f/a suspended, /NAME/f/b waiting for a, /NAME/g (and its c) waiting for f; never submitted."""
    import ecflow

    defs = ecflow.Defs()
    suite = defs.add_suite(name)
    suite.add_variable("ECF_DUMMY_TASK", "")
    family = suite.add_family("f")
    family.add_task("a").add_defstatus(ecflow.DState.suspended)
    family.add_task("b").add_trigger("a == complete")
    held = suite.add_family("g")
    held.add_trigger("f == complete")
    held.add_task("c")
    server.client().load(defs)
    server.client().begin_suite(name)


@pytest.fixture
def live(scratch_server, tmp_path):
    load_scratch_suite(scratch_server)
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", "2") as mount:
        yield scratch_server, mount


def listing(path):
    return sorted(os.listdir(path))


@pytest.mark.parametrize("command,ext", [
    (["--force=complete", "/s/f/a"], "com"),
    (["--force=aborted", "/s/f/a"], "abo"),
    (["--suspend", "/s/f/a"], "sus"),
])
def test_a_change_on_the_server_shows_within_3_s(live, command, ext):
    server, mount = live
    family = mount.path / "s/f"
    assert "a.que" in listing(family)
    started = time.monotonic()
    assert server.cli(*command).returncode == 0
    assert wait_until(lambda: f"a.{ext}" in listing(family), FRESH_WITHIN, 0.05), listing(family)
    assert time.monotonic() - started < FRESH_WITHIN
    assert "a.que" not in listing(family)
    assert not (family / "a.que").exists()
    assert (family / f"a.{ext}").read_text().startswith("suspended (queued)" if ext == "sus" else
                                                         {"com": "complete", "abo": "aborted"}[ext])


def test_att_follows_labels_and_meters_though_the_kernel_caches_it(live):
    server, mount = live
    att = mount.path / "s/f/a.att"
    assert "label info 'none'" in att.read_text()  # now in the kernel's page cache, for 60 s
    server.cli("--alter=change", "label", "info", "running fine", "/s/f/a")
    server.cli("--alter=change", "meter", "progress", "42", "/s/f/a")
    assert wait_until(lambda: "label info 'running fine'" in att.read_text(), FRESH_WITHIN, 0.05), att.read_text()
    assert "meter progress 42" in att.read_text()
    assert att.stat().st_size == len(att.read_bytes())


def test_requeue_and_the_family_state(live):
    server, mount = live
    family = mount.path / "s/f"
    for t in "abc":
        server.cli("--force=complete", f"/s/f/{t}")
    assert wait_until(lambda: (mount.path / "s/f.com").exists(), FRESH_WITHIN, 0.05)
    server.cli("--requeue=force", "/s/f/b")
    assert wait_until(lambda: "b.que" in listing(family), FRESH_WITHIN, 0.05)
    assert wait_until(lambda: not (mount.path / "s/f.com").exists(), FRESH_WITHIN, 0.05)


def test_suites_added_and_removed_show(live):
    import ecflow

    server, mount = live
    defs = ecflow.Defs()
    defs.add_suite("other").add_family("g").add_task("x")
    server.client().load(defs)
    assert wait_until(lambda: (mount.path / "other/g").is_dir(), FRESH_WITHIN, 0.05)
    assert "x.unk" in listing(mount.path / "other/g")
    server.cli("--delete=yes", "/other")
    assert wait_until(lambda: "other" not in listing(mount.path), FRESH_WITHIN, 0.05)


def test_server_stopped_then_restarted(live):
    server, mount = live
    server.stop()
    started = time.monotonic()
    ls = run(["ls", "-R", str(mount.path)], timeout=10)
    assert ls.returncode == 0 and b"a.que" in ls.stdout
    cat = run(["cat", str(mount.path / ".server/status")], timeout=10)
    assert time.monotonic() - started < 10
    assert wait_until(lambda: b"reachable no" in run(["cat", str(mount.path / ".server/status")]).stdout, 10)
    server.restart()
    server.cli("--force=complete", "/s/f/a")
    assert wait_until(lambda: (mount.path / "s/f/a.com").exists(), 15), listing(mount.path / "s/f")
    assert b"reachable yes" in (mount.path / ".server/status").read_bytes()
    del cat


def test_server_paused_then_resumed(live):
    server, mount = live
    (mount.path / "s/f/a.ecf").exists()  # warm
    server.pause()
    try:
        time.sleep(1.0)  # let a refresh hang on the paused server
        started = time.monotonic()
        ls = run(["ls", "-R", str(mount.path)], timeout=10)
        assert ls.returncode == 0 and b"a.que" in ls.stdout
        assert time.monotonic() - started < 2.0
        started = time.monotonic()
        run(["cat", str(mount.path / ".server/log")], timeout=20)  # needs the server: EIO in time
        assert time.monotonic() - started < 2 * 2 + 1  # the call timeout (2 s), once waiting, once calling
    finally:
        server.resume()
    server.cli("--force=complete", "/s/f/b")
    assert wait_until(lambda: (mount.path / "s/f/b.com").exists(), 15), listing(mount.path / "s/f")


def test_sigterm_unmounts(scratch_server, tmp_path):
    load_scratch_suite(scratch_server)
    mount = Mount.start(scratch_server.port, tmp_path / "mnt")
    try:
        mount.signal(signal.SIGTERM)
        assert mount.proc.wait(10) == 0
        assert not mount_table.is_mounted(str(mount.path))
    finally:
        mount.stop()


def test_mount_over_a_dead_mount(scratch_server, tmp_path):
    load_scratch_suite(scratch_server)
    mnt = tmp_path / "mnt"
    first = Mount.start(scratch_server.port, mnt)
    try:
        first.signal(signal.SIGKILL)
        first.proc.wait(10)
        assert mount_table.is_dead(str(mnt))
        done = subprocess.run([sys.executable, "-m", "wffs.cli", "mount", "localhost", str(scratch_server.port),
                               str(mnt), "--log", str(tmp_path / "second.log")],
                              cwd=ROOT, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "s" in os.listdir(mnt)
        done = subprocess.run([sys.executable, "-m", "wffs.cli", "umount", str(mnt)], capture_output=True,
                              timeout=30)
        assert done.returncode == 0, done.stderr
        assert wait_until(lambda: not mount_table.is_mounted(str(mnt)), 10)
    finally:
        first.stop()


def test_scripts_from_disk_and_from_elsewhere(scratch_server, tmp_path):
    """A script that is not UTF-8 comes byte for byte (from disk); one the server finds through
    ECF_FILES comes from the server; both equal `ecflow_client --file`, less its newline."""
    import ecflow

    home = scratch_server.home
    (home / "s/f").mkdir(parents=True)
    (home / "s/f/a.ecf").write_bytes(b"echo caf\xe9\n%manual\nno variables here\n%end\n")
    files = tmp_path / "files"
    files.mkdir()
    (files / "b.ecf").write_bytes(b"echo from ECF_FILES\n%manual\nfor %TASK%\n%end\n")
    defs = ecflow.Defs()
    suite = defs.add_suite("s")
    suite.add_variable("ECF_DUMMY_TASK", "")
    family = suite.add_family("f")
    family.add_task("a")
    family.add_task("b").add_variable("ECF_FILES", str(files))
    scratch_server.client().load(defs)
    with Mount.start(scratch_server.port, tmp_path / "mnt") as mount:
        for task, kind, ext in (("a", "script", "ecf"), ("a", "manual", "man"), ("b", "script", "ecf"),
                                ("b", "manual", "man")):
            server = scratch_server.cli(f"--file=/s/f/{task}", kind, "100000000").stdout[:-1]
            local = mount.path / f"s/f/{task}.{ext}"
            assert local.read_bytes() == server, (task, kind)
            assert local.stat().st_size == len(server)
        assert (mount.path / "s/f/a.ecf").read_bytes() == (home / "s/f/a.ecf").read_bytes()
        assert (mount.path / "s/f/b.man").read_bytes() == b"for b\n"


def test_manuals_kept_from_an_earlier_mount_follow_an_edited_script(scratch_server, tmp_path):
    """What a mount read of each script's manual is kept (ScriptManuals, under ~/.cache/wffs) for the next
    mount; a script edited in between, to the same size, shows its new manual there at its size."""
    import ecflow

    home = scratch_server.home
    (home / "s").mkdir()
    script = home / "s/a.ecf"
    script.write_bytes(b"%manual\nold words\n%end\necho\n")
    defs = ecflow.Defs()
    suite = defs.add_suite("s")
    suite.add_variable("ECF_DUMMY_TASK", "")
    suite.add_task("a")
    scratch_server.client().load(defs)
    time.sleep(script_manuals.RACY_SECONDS + 0.1)  # older than that: kept
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "home/.cache"))
    kept = tmp_path / "home/.cache/wffs/script-manuals.json"
    with Mount.start(scratch_server.port, tmp_path / "mnt", env=env) as mount:
        assert (mount.path / "s/a.man").read_bytes() == b"old words\n"
    assert str(script) in json.loads(kept.read_text())["scripts"]  # written when the mount closed its worker
    script.write_bytes(b"%manual\nnew words\n%end\necho\n")
    with Mount.start(scratch_server.port, tmp_path / "mnt", env=env) as mount:
        manual = mount.path / "s/a.man"
        assert manual.stat().st_size == len(b"new words\n")
        assert manual.read_bytes() == b"new words\n" == scratch_server.cli("--file=/s/a", "manual").stdout[:-1]


def test_why_says_what_ecflow_client_says(scratch_server, tmp_path):
    """wffs works out `why` from its synced definition (no full download per node); for the common
    reasons its words are ecFlow's own."""
    load_held_suite(scratch_server, "s")
    with Mount.start(scratch_server.port, tmp_path / "mnt") as mount:
        paths = ("/s/f/b", "/s/g/c", "/s/g")
        ours = {p: (mount.path / f"{p.lstrip('/')}.why").read_bytes() for p in paths}
        stats = scratch_server.cli("--stats").stdout.decode()
        assert not re.search(r"Get full definition\s+[1-9]", stats)  # no download per .why
        for path in paths:
            theirs = scratch_server.cli(f"--group=get; why={path}").stdout
            assert ours[path] == theirs, (path, ours[path], theirs)


def test_status_file_mtime_is_the_state_change(live):
    """LAYOUT: a status file's mtime (and ctime) is the node's last state change as the server records
    it (on the suite's clock, which ecFlow advances in steps), so tar and rsync see unchanged nodes as
    unchanged."""
    import calendar

    server, mount = live
    server.cli("--force=complete", "/s/f/a")
    assert wait_until(lambda: (mount.path / "s/f/a.com").exists(), FRESH_WITHIN, 0.05)
    client = server.client()
    client.sync_local()
    recorded = client.get_defs().find_abs_node("/s/f/a").get_state_change_time()
    expected = calendar.timegm(time.strptime(recorded, "%Y-%m-%dT%H:%M:%S"))
    first = (mount.path / "s/f/a.com").stat()
    assert first.st_mtime == expected and first.st_ctime == expected
    assert (mount.path / "s/f/a.att").stat().st_mtime == expected
    time.sleep(1.5)
    assert (mount.path / "s/f/a.com").stat().st_mtime == expected  # not the time of the stat


def test_server_files_made_here_change_their_time_only_when_their_content_changes(demo_mount):
    """`tar` takes a ctime that moved for a file changed while it was read: `.server/nodes`,
    `.server/mirrors` and `.server/status` keep theirs across refreshes that change nothing (the status
    file's last_sync line moves, at the same length), and a tar of them over several refreshes says
    nothing."""
    server_dir = demo_mount.path / ".server"
    before = {name: os.stat(server_dir / name).st_ctime for name in ("nodes", "mirrors", "status")}
    started = time.monotonic()
    while time.monotonic() - started < 3:  # six refreshes of the demo mount (--refresh 0.5)
        tar = run(["tar", "cf", "/dev/null", "-C", str(server_dir), "nodes", "mirrors", "status"], timeout=30)
        assert tar.returncode == 0 and tar.stderr == b"", tar.stderr
    after = {name: os.stat(server_dir / name).st_ctime for name in ("nodes", "mirrors", "status")}
    assert after == before
    status = (server_dir / "status").read_bytes()
    assert b"last_sync " in status and os.stat(server_dir / "status").st_size == len(status)
    assert wait_until(lambda: (server_dir / "status").read_bytes() != status, 3, 0.1)  # last_sync moves
