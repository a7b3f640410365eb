"""wffs as a normal user (user `nobody`, with a HOME of its own): mount through fusermount3, read, back up
and unmount without root; and every way a mount fails before it is up said in one line, exit 1.

The tests run as root and drop to the user with setpriv.  For their duration they make /dev/fuse usable
by everyone (Debian's udev does so on real machines; this VM makes it 0600), and let the user search (not
read) the directories above this checkout that it could not enter (mktemp -d makes a clone's parent
0700), so that it can start the checkout's Python.  Both are restored afterwards.  Where a case needs
the machine to lack something (fusermount3, /dev/fuse, the line in /etc/fuse.conf), the command runs in
a mount namespace of its own in which a bind mount hides it; nothing outside that namespace changes.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from wffs import mount_table

from .mounting import ROOT, file_from_server, run, wait_until

USER = pwd.getpwnam("nobody")
BIN = Path(sys.executable).parent
DEVICE = "/dev/fuse"


class NormalUser:
    """Runs commands as `nobody`, HOME `home`, optionally in a namespace where some files are hidden."""

    def __init__(self, home: Path):
        self.home = home

    def env(self) -> dict:
        return {"HOME": str(self.home), "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "USER": USER.pw_name}

    def argv(self, argv: list, namespace_setup: str = "") -> list:
        drop = ["setpriv", f"--reuid={USER.pw_uid}", f"--regid={USER.pw_gid}", "--clear-groups", "--"]
        if not namespace_setup:
            return drop + list(argv)
        script = f"{namespace_setup} && exec {shlex.join(drop + list(argv))}"
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]

    def run(self, argv: list, *, namespace_setup: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
        return run(self.argv(argv, namespace_setup), timeout=timeout, env=self.env(), cwd=self.home)

    def wffs(self, *args: str, namespace_setup: str = "", timeout: float = 90) -> subprocess.CompletedProcess:
        return self.run([str(BIN / "wffs"), *args], namespace_setup=namespace_setup, timeout=timeout)

    def mkdir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir()
        os.chown(path, USER.pw_uid, USER.pw_gid)
        return path


def unreachable_ancestors(path: Path) -> list:
    """The directories above path that others may not search, with their modes."""
    found = []
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            found.append((parent, stat.S_IMODE(mode)))
    return found


@pytest.fixture
def user():
    device_mode = stat.S_IMODE(os.stat(DEVICE).st_mode)
    opened = unreachable_ancestors(ROOT)
    home = Path(tempfile.mkdtemp(prefix="wffs-user-"))
    os.chown(home, USER.pw_uid, USER.pw_gid)
    try:
        for path, mode in opened:
            os.chmod(path, mode | stat.S_IXOTH)
        os.chmod(DEVICE, 0o666)
        yield NormalUser(home)
    finally:
        os.chmod(DEVICE, device_mode)
        for path, mode in reversed(opened):
            os.chmod(path, mode)
        for line in open("/proc/self/mounts").read().splitlines():
            point = mount_table._unescape(line.split()[1])
            if point.startswith(str(home) + "/"):
                mount_table.unmount(point, lazy=True, timeout=5)
        subprocess.run(["pkill", "-KILL", "-u", str(USER.pw_uid), "-f", str(home)], timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def one_line_failure(done: subprocess.CompletedProcess) -> str:
    """exit 1, nothing on stdout, one line on stderr and no traceback: that line."""
    err = done.stderr.decode()
    assert done.returncode == 1, (done.returncode, err)
    assert done.stdout == b"" and "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("Error: "), err
    return err[len("Error: "):].rstrip("\n")


def test_mount_read_back_up_and_unmount_as_a_normal_user(user, demo_server):
    mnt = user.mkdir("ecf")
    done = user.wffs("mount", "localhost", str(demo_server.port), str(mnt))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    try:
        assert mount_table.is_mounted(str(mnt))
        entry = [line for line in open("/proc/self/mounts") if f" {mnt} " in line][0]
        assert f"user_id={USER.pw_uid}" in entry  # mounted by the user, through fusermount3

        found = user.run(["find", str(mnt)])
        assert found.returncode == 0 and found.stderr == b""
        names = found.stdout.decode().splitlines()
        assert f"{mnt}/demo/fail/crash.abo" in names and f"{mnt}/demo/ok/t1.ecf" in names

        script = user.run(["cat", f"{mnt}/demo/ok/t1.ecf"])
        assert script.returncode == 0
        assert script.stdout == file_from_server(demo_server, "/demo/ok/t1", "script")
        assert b"ERROR: disk quota exceeded" in user.run(["cat", f"{mnt}/demo/fail/crash.out"]).stdout

        tar = user.run(["bash", "-o", "pipefail", "-c", f"tar cf - -C {mnt} . | wc -c"], timeout=120)
        assert tar.returncode == 0 and tar.stderr == b"", tar.stderr.decode()
        assert int(tar.stdout) > 10_000

        backup = user.run([str(BIN / "wffs-backup"), str(mnt), str(user.home / "backups")], timeout=120)
        assert backup.returncode == 0, backup.stderr.decode()
        copied = list((user.home / "backups").rglob("t1.ecf"))
        assert copied and all(p.stat().st_uid == USER.pw_uid for p in copied)
        assert copied[0].read_bytes() == script.stdout

        assert (user.home / ".cache" / "wffs").stat().st_uid == USER.pw_uid  # its log, in its own HOME
        assert stat.S_IMODE((user.home / ".cache" / "wffs").stat().st_mode) == 0o700

    finally:
        gone = user.wffs("umount", str(mnt))
    assert gone.returncode == 0 and gone.stderr == b"", gone.stderr.decode()
    assert not mount_table.is_mounted(str(mnt))
    assert wait_until(lambda: subprocess.run(["pgrep", "-u", str(USER.pw_uid), "-f", str(mnt)],
                                             capture_output=True).returncode == 1, timeout=10)


def test_a_mount_point_already_mounted(user, demo_server):
    mnt = user.mkdir("ecf")
    assert user.wffs("mount", "localhost", str(demo_server.port), str(mnt)).returncode == 0
    try:
        said = one_line_failure(user.wffs("mount", "localhost", str(demo_server.port), str(mnt)))
        assert said == f"{mnt} is already mounted: unmount it first (wffs umount {mnt})"
    finally:
        assert user.wffs("umount", str(mnt)).returncode == 0


def test_an_unreachable_server_mounts_and_says_so(user):
    from testbed.devserver import free_port

    mnt = user.mkdir("ecf")
    port = free_port()
    done = user.wffs("mount", "--timeout", "1", "localhost", str(port), str(mnt))
    assert done.returncode == 0, done.stderr.decode()
    try:
        status = user.run(["cat", f"{mnt}/.server/status"]).stdout.decode()
        assert "reachable no" in status, status
    finally:
        assert user.wffs("umount", str(mnt)).returncode == 0
    assert not mount_table.is_mounted(str(mnt))


def test_no_fusermount3(user, tmp_path):
    blank = tmp_path / "blank"
    blank.write_text("")
    helper = shutil.which("fusermount3")
    said = one_line_failure(user.wffs("mount", "localhost", "3141", str(user.mkdir("ecf")),
                                      namespace_setup=f"mount --bind {blank} {helper}"))
    assert said == ("fusermount3 not found: a normal user mounts through it; install Debian's fuse3 package "
                    "(sudo apt-get install fuse3), or mount as root")


def test_fuse_device_not_usable(user):
    os.chmod(DEVICE, 0o600)  # the fixture restores the machine's mode
    said = one_line_failure(user.wffs("mount", "localhost", "3141", str(user.mkdir("ecf"))))
    assert said.startswith("/dev/fuse is not usable by nobody (crw------- root): root can mount")


def test_fuse_device_missing(user):
    said = one_line_failure(user.wffs(
        "mount", "localhost", "3141", str(user.mkdir("ecf")),
        namespace_setup="mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3"))
    assert said.startswith("/dev/fuse is missing: ") and "root can" in said


@pytest.mark.parametrize("case", ["missing", "file", "not empty", "root's"])
def test_mountpoint_that_is_not_an_empty_directory_of_ones_own(user, case):
    path = user.home / "ecf"
    if case == "file":
        path.write_text("")
    elif case == "not empty":
        user.mkdir("ecf")
        (path / "kept").write_text("")
    elif case == "root's":
        path.mkdir()
    said = one_line_failure(user.wffs("mount", "localhost", "3141", str(path)))
    expected = {"missing": f"{path}: no such directory: make an empty one (mkdir {path})",
                "file": f"{path} is not a directory: mount on an empty directory of your own",
                "not empty": f"{path} is not empty (a mount would hide what is in it): mount on an empty directory",
                "root's": f"{path} belongs to root, not to nobody: mount on an empty directory of your own"}[case]
    assert said == expected
    assert not mount_table.is_mounted(str(path))


def test_allow_other_without_user_allow_other(user, tmp_path):
    conf = tmp_path / "fuse.conf"
    conf.write_text("# user_allow_other\n")
    said = one_line_failure(user.wffs("mount", "-o", "allow_other", "localhost", "3141", str(user.mkdir("ecf")),
                                      namespace_setup=f"mount --bind {conf} /etc/fuse.conf"))
    assert said == ("-o allow_other needs the line user_allow_other in /etc/fuse.conf: root can add it, "
                    "or mount without -o allow_other")


def test_a_refusal_only_fusermount3_knows_is_one_line_too(user, tmp_path, demo_server):
    """A cause no check foresees (here fusermount3's mount_max): the line fusermount3 wrote, and where the
    log is; nothing stays mounted or running."""
    conf = tmp_path / "fuse.conf"
    conf.write_text("mount_max = 0\n")
    mnt = user.mkdir("ecf")
    said = one_line_failure(user.wffs("mount", "localhost", str(demo_server.port), str(mnt),
                                      namespace_setup=f"mount --bind {conf} /etc/fuse.conf"))
    log = user.home / ".cache" / "wffs" / (str(mnt).strip("/").replace("/", "_") + ".log")
    assert said.startswith("mount did not come up: fusermount3: too many FUSE filesystems mounted"), said
    assert said.endswith(f"(the log: {log})")
    assert not mount_table.is_mounted(str(mnt))
    assert subprocess.run(["pgrep", "-u", str(USER.pw_uid), "-f", str(mnt)], capture_output=True).returncode == 1
