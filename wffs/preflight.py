"""Why a mount would fail before it is up, each cause said in one line with its fix.

Root mounts by itself; a normal user mounts through libfuse 3's set-user-ID helper `fusermount3`
(Debian's `fuse3` package), which opens /dev/fuse with the user's own rights, so every check below
except the mount point's is about what that helper needs.  Without these checks the same causes end in
a traceback from deep inside pyfuse3 ("fuse_session_mount failed") and a line in a log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat

from wffs import mount_table

FUSE_DEVICE = "/dev/fuse"
FUSE_CONF = "/etc/fuse.conf"
#: where libfuse 3 looks for its helper besides PATH (Debian builds it with FUSERMOUNT_DIR=/bin)
HELPER_DIRS = ("/bin", "/usr/bin")
HELPER = "fusermount3"


class CannotMount(Exception):
    """A mount that cannot come up; the message is one line: the cause, then what to do."""


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def find_helper(path: str | None = None) -> str | None:
    """fusermount3 as libfuse 3 finds it: on PATH, else in the directory it was built with."""
    search = os.pathsep.join(filter(None, [path if path is not None else os.environ.get("PATH", ""),
                                           *HELPER_DIRS]))
    return shutil.which(HELPER, path=search)


def check_helper(uid: int, path: str | None = None) -> None:
    if uid == 0:
        return
    helper = find_helper(path)
    if helper is None:
        raise CannotMount(f"{HELPER} not found: a normal user mounts through it; install Debian's fuse3 "
                          "package (sudo apt-get install fuse3), or mount as root")
    st = os.stat(helper)
    if st.st_uid != 0 or not st.st_mode & stat.S_ISUID:
        raise CannotMount(f"{helper} is not set-user-ID root, so it cannot mount for you: reinstall it "
                          "(sudo apt-get install --reinstall fuse3), or mount as root")


def check_device(uid: int, device: str = FUSE_DEVICE) -> None:
    """The device is what decides, so it is opened (and closed again: that alone starts nothing)."""
    try:
        st = os.stat(device)
    except FileNotFoundError:
        raise CannotMount(f"{device} is missing: this system has no FUSE; root can load it (modprobe fuse), "
                          "and then root can mount") from None
    if not stat.S_ISCHR(st.st_mode):
        raise CannotMount(f"{device} is not the FUSE device (not a character device): ask root to fix it")
    try:
        os.close(os.open(device, os.O_RDWR))
    except PermissionError:
        mode = stat.filemode(st.st_mode)
        raise CannotMount(f"{device} is not usable by {user_name(uid)} ({mode} {user_name(st.st_uid)}): "
                          f"root can mount, or make it usable (chmod 0666 {device}, as Debian's udev "
                          "does)") from None
    except OSError as e:
        raise CannotMount(f"{device} cannot be opened ({e.strerror}): root can mount, or check the fuse "
                          "kernel module (modprobe fuse)") from None


def check_mountpoint(mountpoint: str, uid: int) -> None:
    """An empty directory the user owns (root: any empty directory), not mounted already."""
    if mount_table.is_mounted(mountpoint):
        raise CannotMount(f"{mountpoint} is already mounted: unmount it first (wffs umount {mountpoint})")
    try:
        st = os.stat(mountpoint)
    except FileNotFoundError:
        raise CannotMount(f"{mountpoint}: no such directory: make an empty one (mkdir {mountpoint})") from None
    except OSError as e:
        raise CannotMount(f"{mountpoint}: {e.strerror}: mount on an empty directory of your own") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CannotMount(f"{mountpoint} is not a directory: mount on an empty directory of your own")
    if uid != 0 and st.st_uid != uid:
        raise CannotMount(f"{mountpoint} belongs to {user_name(st.st_uid)}, not to {user_name(uid)}: "
                          "mount on an empty directory of your own")
    try:
        with os.scandir(mountpoint) as entries:
            if next(entries, None) is not None:
                raise CannotMount(f"{mountpoint} is not empty (a mount would hide what is in it): "
                                  "mount on an empty directory")
    except PermissionError:
        raise CannotMount(f"{mountpoint} cannot be read by {user_name(uid)}: mount on an empty directory "
                          "of your own") from None


def fuse_options(options) -> set:
    """-o a,b -o c as the set {a, b, c}."""
    return {o.strip() for opt in options for o in opt.split(",") if o.strip()}


def user_allow_other(conf: str = FUSE_CONF) -> bool:
    try:
        with open(conf) as f:
            return any(line.split("#", 1)[0].strip() == "user_allow_other" for line in f)
    except OSError:
        return False


def check_options(options, uid: int, conf: str = FUSE_CONF) -> None:
    if uid == 0:
        return
    wanted = fuse_options(options)
    for opt in ("allow_other", "allow_root"):
        if opt in wanted and not user_allow_other(conf):
            raise CannotMount(f"-o {opt} needs the line user_allow_other in {conf}: root can add it, "
                              f"or mount without -o {opt}")


def check(mountpoint: str, options=(), *, uid: int | None = None) -> None:
    """Every cause above, the machine's first (nothing can mount), then the mount point's, then options."""
    uid = os.geteuid() if uid is None else uid
    check_helper(uid)
    check_device(uid)
    check_mountpoint(mountpoint, uid)
    check_options(options, uid)
