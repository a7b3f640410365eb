"""Midnight Commander on a real mount (issue 15): scripts/mc/install, then Enter on a status file shows the
node's job output and F3 on .att shows it in mc's pager.  mc runs in tmux; keys are sent, screens read."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from .mounting import ROOT, wait_until

INSTALL = ROOT / "scripts" / "mc" / "install"


class Tmux:
    def __init__(self, home: Path, name: str = "a"):
        self.socket = f"wffs-test-{os.getpid()}-{name}"
        self.env = {**os.environ, "HOME": str(home), "TERM": "xterm"}

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, timeout=10, env=self.env)
        return done.stdout.decode(errors="replace")

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "mc")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "mc", key)
            time.sleep(0.2)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, env=self.env)


@pytest.fixture
def mc_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for _ in range(2):  # twice: the second run changes nothing
        done = subprocess.run(["sh", str(INSTALL)], capture_output=True, timeout=30, env={**os.environ, "HOME": str(home)})
        assert done.returncode == 0, done.stderr
    ext = (home / ".config/mc/mc.ext.ini").read_text()
    sections = [line for line in ext.splitlines() if line.startswith("[")]
    assert sections[:2] == ["[mc.ext.ini]", "[wffs status]"] and sections.count("[wffs status]") == 1
    assert (home / ".config/mc/menu").read_text().count("wffs: job output of this node") == 1
    return home


def test_enter_on_a_status_file_shows_the_output_and_f3_pages_att(demo_mount, mc_home):
    tmux = Tmux(mc_home)
    family = demo_mount.path / "demo/fail"
    try:
        tmux("new-session", "-d", "-s", "mc", "-x", "160", "-y", "45", f"cd {family} && mc")
        assert wait_until(lambda: "crash.abo" in tmux.screen(), 15), tmux.screen()
        tmux.keys("Down", "Enter")  # the first entry below '..' is crash.abo
        output = (family / "crash.out").read_text().splitlines()
        assert wait_until(lambda: output[1] in tmux.screen(), 10), tmux.screen()
        assert "crash.abo" in tmux.screen().splitlines()[0]  # the viewer, opened on the status file
        tmux.keys("q", "Down", "F3")  # crash.att
        assert wait_until(lambda: "path /demo/fail/crash" in tmux.screen(), 10), tmux.screen()
        screen = tmux.screen()
        assert "kind task" in screen and "state aborted" in screen and "3Quit" in screen  # mc's pager
        tmux.keys("q", "F2")
        assert wait_until(lambda: "wffs: job output of this node" in tmux.screen(), 10), tmux.screen()
        tmux.kill()
        # a node name with a dot: t.v2.com shows t.v2.out (only the last extension is the state)
        tmux = Tmux(mc_home, "b")
        tmux("new-session", "-d", "-s", "mc", "-x", "160", "-y", "45", f"cd {demo_mount.path}/demo/out && mc")
        assert wait_until(lambda: "t.v2.com" in tmux.screen(), 15), tmux.screen()
        tmux.keys("C-s")
        tmux("send-keys", "-t", "mc", "t.v2.com")
        tmux.keys("Enter")
        output = (demo_mount.path / "demo/out/t.v2.out").read_text().splitlines()[0]
        assert wait_until(lambda: output in tmux.screen(), 10), tmux.screen()
        assert "t.v2.com" in tmux.screen().splitlines()[0]
        tmux.keys("q", "F10")
    finally:
        tmux.kill()
