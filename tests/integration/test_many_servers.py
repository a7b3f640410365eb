"""Issue 12: several servers in one mount, per-server files, `why`, `.def` and event logs you can tail -f."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from testbed.devserver import EcflowServer, free_port

from .mounting import ROOT, run, wait_until
from .test_mount_live import load_held_suite, load_scratch_suite

FRESH_WITHIN = 3.0


class ConfigMount:
    """`wffs mount --config FILE MNT --foreground` as a subprocess, always unmounted."""

    def __init__(self, config, path, *extra):
        from .mounting import Mount

        self.mount = Mount.start_target(["--config", str(config)], path, "--timeout", "2", *extra)
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.mount.stop()


@pytest.fixture
def three(tmp_path):
    """Two live servers with a scratch suite each, and the port of a third that is down."""
    servers = [EcflowServer(tmp_path / name) for name in ("one", "two")]
    try:
        for server in servers:
            server.start()
            load_scratch_suite(server)
        down = free_port()
        config = tmp_path / "servers.toml"
        config.write_text(
            f'[servers.one]\nhost = "localhost"\nport = {servers[0].port}\n\n'
            f'[servers.two]\nhost = "localhost"\nport = {servers[1].port}\n\n'
            f'[servers.gone]\nhost = "localhost"\nport = {down}\n')
        yield servers, config
    finally:
        for server in servers:
            server.stop()


def test_three_servers_one_down(three, tmp_path):
    (one, two), config = three
    with ConfigMount(config, tmp_path / "mnt") as m:
        assert sorted(os.listdir(m.path)) == [".events", "gone", "one", "two"]
        assert "s" in os.listdir(m.path / "one") and "s" in os.listdir(m.path / "two")
        assert b"reachable no" in (m.path / "gone/.server/status").read_bytes()
        assert os.listdir(m.path / "gone") == [".server"]
        tail = subprocess.Popen(["tail", "-n", "+1", "-f", str(m.path / ".events")], stdout=subprocess.PIPE)
        try:
            started = time.monotonic()
            one.cli("--force=complete", "/s/f/a")
            two.cli("--force=aborted", "/s/f/b")
            events = m.path / ".events"

            def seen():
                text = events.read_text()
                return "\tone\t/s/f/a\tque\tcom\n" in text and "\ttwo\t/s/f/b\tque\tabo\n" in text

            assert wait_until(seen, FRESH_WITHIN, 0.05), events.read_text()
            assert time.monotonic() - started < FRESH_WITHIN + 0.5
            assert (m.path / "one/s/f/a.com").exists() and (m.path / "two/s/f/b.abo").exists()
            assert "\t/s/f/a\tque\tcom\n" in (m.path / "one/.server/events").read_text()
            assert "/s/f/b" not in (m.path / "one/.server/events").read_text()
            one.cli("--force=complete", "/s/f/c")
            deadline = time.monotonic() + FRESH_WITHIN + 2
            got = b""
            os.set_blocking(tail.stdout.fileno(), False)
            while b"\tone\t/s/f/c\tque\tcom\n" not in got and time.monotonic() < deadline:
                time.sleep(0.1)
                got += tail.stdout.read() or b""
            assert b"\tone\t/s/f/c\tque\tcom\n" in got  # tail -f follows the log as it grows
            for line in got.decode().splitlines():
                stamp, server, path, old, new = line.split("\t")
                assert stamp.endswith("Z") and "T" in stamp and server in ("one", "two")
        finally:
            tail.kill()
            tail.wait()
        # grep -r never hangs on a growing log or a dead server: it ends, and the only files it cannot
        # read are those only the dead server could give (EIO, documented)
        grep = run(["grep", "-r", "--", "nothing-matches-this", str(m.path)], timeout=30)
        assert grep.returncode in (1, 2)
        errors = grep.stderr.decode().splitlines()
        assert all("/gone/.server/" in e and "Input/output error" in e for e in errors), errors


def test_a_paused_server_stalls_nothing_else(three, tmp_path):
    (one, two), config = three
    with ConfigMount(config, tmp_path / "mnt") as m:
        one.pause()
        try:
            time.sleep(1)
            started = time.monotonic()
            two.cli("--force=complete", "/s/f/a")
            assert wait_until(lambda: (m.path / "two/s/f/a.com").exists(), FRESH_WITHIN, 0.05)
            assert time.monotonic() - started < FRESH_WITHIN
            ls = run(["ls", "-R", str(m.path / "two")], timeout=5)
            assert ls.returncode == 0
            status = m.path / "one/.server/status"  # the hung one says why (its calls time out at 2 s)
            assert wait_until(lambda: b"reachable no" in status.read_bytes(), 10), status.read_bytes()
            assert b"no answer in" in status.read_bytes() or b"busy" in status.read_bytes()
        finally:
            one.resume()


def test_why_and_def(three, tmp_path):
    (one, _two), config = three
    load_held_suite(one, "w")
    with ConfigMount(config, tmp_path / "mnt") as m:
        f = m.path / "one/w/f"
        assert wait_until(lambda: "b.why" in os.listdir(f), FRESH_WITHIN)
        why = (f / "b.why").read_text()
        assert "a(suspended) == complete" in why, why
        assert (f / "b.why").stat().st_size == len(why.encode())
        assert "a.why" not in os.listdir(f)  # suspended: not waiting on anything of its own
        assert "b.def" not in os.listdir(f)  # a task's definition is in its .att
        family_def = (m.path / "one/w/f.def").read_text()
        assert "family f" in family_def and "trigger a == complete" in family_def
        assert "suite w" in (m.path / "one/w.def").read_text()
        one.cli("--resume", "/w/f/a")  # b's own state does not change, its reason does
        assert wait_until(lambda: "a(queued) == complete" in (f / "b.why").read_text(), FRESH_WITHIN, 0.05)
        assert (f / "b.why").stat().st_size == len((f / "b.why").read_bytes())


def test_suites_def_reloads_into_a_fresh_server(three, tmp_path):
    (one, _two), config = three
    with ConfigMount(config, tmp_path / "mnt") as m:
        text = (m.path / "one/.server/suites.def").read_bytes()
    copy = tmp_path / "copy.def"
    copy.write_bytes(text)
    fresh = EcflowServer(tmp_path / "fresh")
    fresh.start()
    try:
        done = fresh.cli(f"--load={copy}")
        assert done.returncode == 0, done.stderr
        assert fresh.cli("--get").stdout == one.cli("--get").stdout
    finally:
        fresh.stop()


@pytest.mark.parametrize("text,line,words", [
    ('[servers.a]\nhost = "x"\nport = 1\n\n[servers.b]\nhost = "y"\nprot = 3\n', 7, "unknown key 'prot'"),
    ('[servers.a]\nhost = "x"\nport = "3141"\n', 3, "port must be a int"),
    ('[servers.a]\nhost = "x"\n', 1, "needs port"),
    ('[servers.a]\nhost = "x"\nport = 99999\n', 3, "not from 1 to 65535"),
    ('[servers.a]\nhost = "x"\nport = 1\n[servers.a.b\n', 4, "line 4"),
])
def test_a_bad_config_names_the_line(tmp_path, text, line, words):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    (tmp_path / "mnt").mkdir()
    done = subprocess.run([sys.executable, "-m", "wffs.cli", "mount", "--config", str(config),
                           str(tmp_path / "mnt")], cwd=ROOT, capture_output=True, timeout=30)
    assert done.returncode != 0
    err = done.stderr.decode()
    assert f"line {line}" in err and words in err and str(config) in err, err
