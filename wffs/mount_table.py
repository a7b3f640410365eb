"""The mount table: is something mounted here, is it alive, and unmounting it.

os.path.ismount() is False on a dead mount ("Transport endpoint is not connected"), so the mount table
in /proc/self/mounts is the authority.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time


def _unescape(field: str) -> str:
    """/proc/mounts escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mount_entry(mountpoint: str):
    """(fstype, source) of what is mounted at mountpoint, or None."""
    target = os.path.realpath(mountpoint) if os.path.exists(mountpoint) or not os.path.lexists(mountpoint) \
        else os.path.abspath(mountpoint)
    found = None
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and _unescape(parts[1]) in (target, os.path.abspath(mountpoint)):
                found = (parts[2], _unescape(parts[0]))
    return found


def is_mounted(mountpoint: str) -> bool:
    return mount_entry(mountpoint) is not None


def is_dead(mountpoint: str) -> bool:
    """Mounted, but its file system process is gone.  statvfs, because a stat may come from a cache."""
    if not is_mounted(mountpoint):
        return False
    try:
        os.statvfs(mountpoint)
    except OSError as e:
        return e.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    return False


def unmount(mountpoint: str, *, lazy: bool = False, timeout: float = 10.0) -> bool:
    """Unmount with fusermount3 (or umount as root); lazily if asked or if the plain one fails."""
    return try_unmount(mountpoint, lazy=lazy, timeout=timeout) is None


def try_unmount(mountpoint: str, *, lazy: bool = False, timeout: float = 10.0) -> str | None:
    """unmount(), returning None once nothing is mounted there, else the last tool's complaint."""
    tools = [t for t in ("fusermount3", "fusermount") if shutil.which(t)]
    attempts = []
    for tool in tools:
        attempts.append([tool, "-u", "-q"] + (["-z"] if lazy else []) + [mountpoint])
    if os.geteuid() == 0 and shutil.which("umount"):
        attempts.append(["umount"] + (["-l"] if lazy else []) + [mountpoint])
    for tool in tools:
        attempts.append([tool, "-u", "-q", "-z", mountpoint])
    said = "no fusermount3 to unmount with (Debian's fuse3 package)" if not attempts else "still mounted"
    for argv in attempts:
        if not is_mounted(mountpoint):
            return None
        try:
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
            complaint = done.stderr.decode(errors="replace").strip()
            said = complaint.splitlines()[-1] if complaint else said
        except subprocess.TimeoutExpired:
            said = f"{argv[0]} took over {timeout:g} s"
    return None if not is_mounted(mountpoint) else said


def wait_mounted(mountpoint: str, timeout: float, alive=lambda: True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_mounted(mountpoint) and not is_dead(mountpoint):
            return True
        if not alive():
            return False
        time.sleep(0.05)
    return False
