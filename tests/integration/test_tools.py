"""wffs-backup and wffs-grep on real mounts (issue 15)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wffs.tools import backup as wb

from .mounting import Mount, run, wait_until

import gen_suite  # noqa: E402  (scripts/, put on sys.path by conftest)

BIN = Path(sys.executable).parent


def wffs_backup(*args, timeout=120, **kw) -> subprocess.CompletedProcess:
    return run([str(BIN / "wffs-backup"), *map(str, args)], timeout=timeout, **kw)


def wffs_grep(*args, timeout=60) -> subprocess.CompletedProcess:
    return run([str(BIN / "wffs-grep"), *map(str, args)], timeout=timeout)


def files_below(top: Path, skip=()) -> dict:
    """rel path -> bytes of every file below top, but those whose first component is in skip."""
    found = {}
    for directory, dirs, names in os.walk(top):
        rel_dir = os.path.relpath(directory, top)
        if rel_dir.split(os.sep)[0] in skip:
            continue
        for name in names:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel.split(os.sep)[0] not in skip:
                found[rel] = (Path(directory) / name).read_bytes()
    return found


@pytest.fixture
def generated(scratch_server, tmp_path):
    result = gen_suite.generate(scratch_server, scratch_server.home, 2, 4, 25)
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", "2") as mount:
        yield scratch_server, mount, result


def test_a_backup_of_the_demo_suite_equals_a_tar_of_the_mount(demo_mount, tmp_path):
    done = wffs_backup(demo_mount.path, tmp_path / "backups")
    assert done.returncode == 0 and done.stdout == b"" and done.stderr == b"", done  # quiet for cron
    [made] = wb.complete_backups(tmp_path / "backups")
    assert (tmp_path / "backups/latest").resolve() == made
    extracted = tmp_path / "tar"
    extracted.mkdir()
    tar = run(["bash", "-c", f"set -o pipefail; tar cf - -C {demo_mount.path} --exclude=./.server . "
                             f"| tar xf - -C {extracted}"], timeout=60)
    assert tar.returncode == 0, tar.stderr
    from_tar = files_below(extracted)
    in_backup = files_below(made, skip=(".server", wb.MANIFEST))
    assert sorted(in_backup) == sorted(from_tar)
    assert in_backup == from_tar  # byte for byte
    assert {"status", "log", "stats", "zombies", "suites.def", "mirrors"} <= set(os.listdir(made / ".server"))
    assert "events" not in os.listdir(made / ".server")  # the mount's own session log
    manifest = (made / wb.MANIFEST).read_text().splitlines()
    assert manifest[0] == "path\tstate\tsize\tsha256"
    rows = {line.split("\t")[0]: line.split("\t") for line in manifest[1:]}
    assert rows["demo/fail/crash.out"][1] == "abo" and rows["demo/ok/t1.ecf"][1] == "com"
    assert int(rows["demo/fail/crash.out"][2]) == len(from_tar["demo/fail/crash.out"])
    assert wffs_backup("--verify", made).returncode == 0


def test_a_second_backup_stores_only_what_changed(generated, tmp_path):
    server, mount, _ = generated
    dest = tmp_path / "backups"
    assert wffs_backup(mount.path, dest).returncode == 0
    server.cli("--suspend", "/s0/f0/t0")
    assert wait_until(lambda: (mount.path / "s0/f0/t0.sus").exists(), 10)
    second = wffs_backup(mount.path, dest, "-v")
    assert second.returncode == 0 and b"stored anew" in second.stdout, second
    first, last = wb.complete_backups(dest)
    old, new = files_below(first), files_below(last)
    changed = {rel for rel in new if old.get(rel) != new[rel]}
    assert "s0/f0/t0.sus" in changed and "s0/f0/t0.att" in changed
    stored_anew = {rel for rel in new
                   if not (first / rel).exists() or (first / rel).stat().st_ino != (last / rel).stat().st_ino}
    # what did not change is a hard link to the first backup; .server files may have a new mtime only
    assert stored_anew - changed <= {rel for rel in new if rel.startswith(".server/")}, stored_anew - changed
    assert changed - {wb.MANIFEST} <= stored_anew
    assert len(stored_anew) < len(new) // 20, len(stored_anew)
    assert all((last / rel).stat().st_nlink == 2 for rel in new if rel not in stored_anew)


def test_verify_catches_a_corrupted_or_missing_file(generated, tmp_path):
    _, mount, _ = generated
    dest = tmp_path / "backups"
    assert wffs_backup(mount.path, dest).returncode == 0
    [made] = wb.complete_backups(dest)
    ok = wffs_backup("--verify", dest, "-v")  # DEST: its latest backup
    assert ok.returncode == 0 and b"files verified" in ok.stdout
    victim = made / "s1/f2/t3.ecf"
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[5] ^= 0x20  # one bit, same size
    victim.write_bytes(bytes(data))
    (made / "s0/f1/t1.att").unlink()
    bad = wffs_backup("--verify", made)
    assert bad.returncode == 1
    assert b"s1/f2/t3.ecf: content differs" in bad.stderr and b"s0/f1/t1.att: missing" in bad.stderr


def test_wffs_grep_lists_exactly_the_aborted_tasks_whose_output_says_error(generated):
    _, mount, result = generated
    expected = sorted(p.path for p in result.plans if p.state == "aborted" and p.ran and p.error)
    assert expected  # the generated suite has some
    listed = wffs_grep("ERROR", mount.path, "--state", "abo", "--list")
    assert listed.returncode == 0 and listed.stderr == b""
    assert listed.stdout.decode().split() == expected
    lines = wffs_grep("ERROR", mount.path, "--state", "aborted")  # the full name works too
    node = expected[0]
    out = (mount.path / (node.lstrip("/") + ".out")).read_bytes()
    grep_n = run(["grep", "-n", "ERROR"], input=out).stdout  # what `grep -n` says of the same file
    mine = b"".join(line + b"\n" for line in lines.stdout.splitlines() if line.startswith(node.encode() + b":"))
    assert mine == b"".join(node.encode() + b":" + line + b"\n" for line in grep_n.splitlines())
    none = wffs_grep("no such text anywhere", mount.path, "--state", "abo")
    assert none.returncode == 1 and none.stdout == b""
    scripts = wffs_grep("generated task", mount.path, "--kind", "ecf", "--suite", "s1", "--list")
    assert scripts.stdout.decode().split() == sorted(p.path for p in result.plans if p.path.startswith("/s1/"))
    wrong = wffs_grep("x", mount.path, "--state", "nonsense")
    assert wrong.returncode == 2 and b"not a state" in wrong.stderr


def test_a_backup_interrupted_by_sigint_leaves_no_backup(scratch_server, tmp_path):
    gen_suite.generate(scratch_server, scratch_server.home, 6, 10, 40)  # big enough to interrupt
    dest = tmp_path / "backups"
    with Mount.start(scratch_server.port, tmp_path / "mnt") as mount:
        proc = subprocess.Popen([str(BIN / "wffs-backup"), str(mount.path), str(dest)], stderr=subprocess.PIPE)
        try:
            assert wait_until(lambda: any(p.name.startswith(wb.IN_PROGRESS) and any(p.rglob("*.att"))
                                          for p in dest.glob(".*")), 60, 0.02)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130 and b"SIGINT: stopped; no backup was made" in err
        assert os.listdir(dest) == []  # neither a backup nor a half-written one
        done = wffs_backup(mount.path, dest)  # and the next one works
        assert done.returncode == 0 and len(wb.complete_backups(dest)) == 1


def test_a_file_that_cannot_be_read_fails_the_backup_visibly(generated, tmp_path):
    server, mount, _ = generated
    dest = tmp_path / "backups"
    server.pause()  # the server files (log, stats, zombies, suites.def) cannot be read: EIO
    try:
        done = wffs_backup(mount.path, dest, timeout=60)
    finally:
        server.resume()
    assert done.returncode == 1
    assert b"could not be read" in done.stderr and b".server/log" in done.stderr
    assert wb.complete_backups(dest) == []
    [kept] = [p for p in dest.iterdir() if p.name.endswith(".incomplete")]
    assert ".server/log" in (kept / wb.FAILED).read_text()
    assert (kept / "s0/f0/t0.att").exists()  # what could be read is there
    assert not (dest / "latest").exists()


def test_keep_the_last_n_backups(generated, tmp_path):
    _, mount, _ = generated
    dest = tmp_path / "backups"
    for _ in range(3):
        assert wffs_backup(mount.path, dest, "--keep", "2", "--kind", "status", "--kind", "att").returncode == 0
        time.sleep(1.05)  # one stamp a second
    kept = wb.complete_backups(dest)
    assert len(kept) == 2 and (dest / "latest").resolve() == kept[-1]
    assert {re.sub(r".*\.", "", p.name) for p in kept[-1].rglob("*") if p.is_file() and
            ".server" not in p.parts and p.name != wb.MANIFEST} <= {"que", "sub", "act", "com", "abo", "sus",
                                                                  "unk", "att"}
