"""The session README.rst shows first, pasted as it is into a shell: every command runs, on the demo
suite (its server's port in place of 3141), and prints what the README says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from wffs import mount_table

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def first_console_session() -> list[tuple[str, list[str]]]:
    """[(command, the lines the README shows after it)] of README.rst's first console block."""
    text = (ROOT / "README.rst").read_text()
    block = re.search(r"\.\. code-block:: console\n\n((?:   .*\n|\n)+)", text).group(1)
    session: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        line = line[3:]
        if line.startswith("$ "):
            session.append((line[2:], []))
        elif line.strip():
            session[-1][1].append(line)
    return session


def test_the_readme_session_runs_as_pasted(demo_server, tmp_path):
    home = tmp_path / "op"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}",
           "XDG_CACHE_HOME": str(home / ".cache")}
    session = first_console_session()
    assert [c.split()[0] for c, _ in session][:2] == ["mkdir", "wffs"] and session[-1][0].startswith("wffs umount")
    try:
        for command, shown in session:
            command = command.replace(" 3141 ", f" {demo_server.port} ")
            done = subprocess.run(["bash", "-c", command], env=env, cwd=home, capture_output=True, timeout=120)
            assert done.returncode == 0, (command, done.stderr.decode())
            printed = done.stdout.decode().replace(str(home), "/home/op").splitlines()
            for line in shown:  # what the README shows is what it prints (the README's own user is op)
                assert line in printed, (command, line, printed)
            if command.startswith("cat "):
                assert b"ERROR: disk quota exceeded" in done.stdout
            if command.startswith("grep "):
                assert b"crash.out:ERROR: disk quota exceeded" in done.stdout
    finally:
        if mount_table.is_mounted(str(home / "ecf")):
            mount_table.unmount(str(home / "ecf"), timeout=10) or mount_table.unmount(str(home / "ecf"), lazy=True)
    assert not mount_table.is_mounted(str(home / "ecf"))
