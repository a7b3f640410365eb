"""SSL (hardening: "server connections honour SSL when configured"): a real SSL ecflow_server, real mounts.

`wffs mount --ssl` (and `ssl = true` in a config file) shows an SSL server's suite; a mount whose SSL
setting does not match the server's, or that lacks the certificate, still comes up and says why in
.server/status instead of hanging.  Every look at a mount goes through a shell command with a deadline.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from testbed.devserver import EcflowServer, client_cli, make_certificates

from .mounting import ROOT, Mount, run, wait_until

EXT = {"unknown": "unk", "queued": "que", "submitted": "sub", "active": "act", "complete": "com",
       "aborted": "abo"}
#: what .server/status must say within this many seconds of the mount coming up
SAYS_WITHIN = 15.0


def load_suite(server: EcflowServer) -> None:
    """/s with tasks in several states; never submitted (ECF_DUMMY_TASK), states forced over ecflow_client."""
    import ecflow

    defs = ecflow.Defs()
    suite = defs.add_suite("s")
    suite.add_variable("ECF_DUMMY_TASK", "")
    family = suite.add_family("f")
    for name in ("a", "b", "c"):
        family.add_task(name)
    suite.add_family("g").add_task("d")
    client = server.client()
    client.load(defs)
    client.begin_suite("s")
    for args in (["--force=complete", "/s/f/a"], ["--force=aborted", "/s/f/b"], ["--suspend", "/s/g/d"]):
        done = server.cli(*args)
        assert done.returncode == 0, done.stderr


def server_states(server: EcflowServer) -> dict:
    """{node path: status extension} from `ecflow_client --ssl --get_state` (suspended wins, as in wffs)."""
    done = server.cli("--get_state")
    assert done.returncode == 0, done.stderr
    states, stack = {}, []
    for line in done.stdout.decode().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] in ("endsuite", "endfamily"):
            stack.pop()
        elif words[0] in ("suite", "family", "task"):
            if words[0] == "suite":
                stack = []
            path = "/" + "/".join(stack + [words[1]])
            state = re.search(r"\bstate:(\w+)", line).group(1)
            states[path] = "sus" if re.search(r"\bsuspended:1\b", line) else EXT[state]
            if words[0] != "task":
                stack.append(words[1])
    return states


def listing(path) -> list:
    done = run(["ls", "-A", str(path)], timeout=10)
    assert done.returncode == 0, done.stderr
    return sorted(done.stdout.decode().split())


def status_of(mount_root) -> str:
    done = run(["cat", str(mount_root / ".server/status")], timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def shown_states(mount_root, paths) -> dict:
    """{node path: the extension of its status file in the mount} (None: no single status file)."""
    shown = {}
    for path in paths:
        parent, name = path.rsplit("/", 1)
        done = run(["ls", "-A", str(mount_root / parent.lstrip("/"))], timeout=10)  # may not be there yet
        files = [f for f in done.stdout.decode().split()
                 if f.startswith(name + ".") and f[len(name) + 1:] in set(EXT.values()) | {"sus"}]
        shown[path] = files[0][len(name) + 1:] if len(files) == 1 else None
    return shown


def assert_unreachable(mount_root, *, because) -> str:
    """.server/status says `reachable no` and a last_error that names the reason; nothing else is listed."""
    assert wait_until(lambda: "reachable no" in status_of(mount_root), SAYS_WITHIN), status_of(mount_root)
    status = status_of(mount_root)
    found = re.search(r"^last_error \S+ (.+)$", status, re.M)
    assert found, status
    error = found.group(1)
    assert error.isprintable() and re.search(because, error, re.I), error
    assert listing(mount_root) == [".server"]
    return error


def loaded_server(home, ssl: bool = False):
    server = EcflowServer(home, ssl=ssl)
    try:
        server.start()
        load_suite(server)
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssl_server(tmp_path):
    """An SSL-only server with /s loaded; its certificate is in HOME=server.home."""
    yield from loaded_server(tmp_path / "ssl", ssl=True)


@pytest.fixture
def plain_server(tmp_path):
    yield from loaded_server(tmp_path / "plain")


def test_the_ssl_server_speaks_only_ssl(ssl_server):
    assert (ssl_server.ssl_dir / "server.crt").is_file()
    assert ssl_server.cli("--ping").returncode == 0
    plain = client_cli(ssl_server.port, "--ping", timeout=30)  # ecflow_client without --ssl
    assert plain.returncode != 0, plain.stdout


def test_ssl_server_mounted_with_ssl_shows_its_suite(ssl_server, tmp_path):
    expected = server_states(ssl_server)
    assert expected == {"/s": "abo", "/s/f": "abo", "/s/f/a": "com", "/s/f/b": "abo", "/s/f/c": "que",
                        "/s/g": "que", "/s/g/d": "sus"}
    with Mount.start(ssl_server.port, tmp_path / "mnt", "--ssl", "--timeout", "2",
                     env=ssl_server.client_env()) as mount:
        assert wait_until(lambda: shown_states(mount.path, expected) == expected, SAYS_WITHIN), \
            shown_states(mount.path, expected)
        assert "reachable yes" in status_of(mount.path)
        ssl_server.cli("--force=complete", "/s/f/c")  # and it follows the server
        expected = server_states(ssl_server)
        assert expected["/s/f/c"] == "com"
        assert wait_until(lambda: shown_states(mount.path, expected) == expected, SAYS_WITHIN), \
            shown_states(mount.path, expected)


def test_ssl_server_mounted_without_ssl_says_why(ssl_server, tmp_path):
    started = time.monotonic()
    with Mount.start(ssl_server.port, tmp_path / "mnt", "--timeout", "2", env=ssl_server.client_env()) as mount:
        error = assert_unreachable(mount.path, because=r"mixing ssl and non-ssl")
        assert error.startswith(f"localhost:{ssl_server.port}: "), error
    assert time.monotonic() - started < 40


def test_plain_server_mounted_with_ssl_says_why(plain_server, tmp_path):
    home = tmp_path / "client-home"  # a certificate, so that it is the server that says no
    make_certificates(home / ".ecflowrc/ssl")
    env = {**plain_server.client_env(), "HOME": str(home)}
    started = time.monotonic()
    with Mount.start(plain_server.port, tmp_path / "mnt", "--ssl", "--timeout", "2", env=env) as mount:
        assert_unreachable(mount.path, because=r"handshake.*possibly non-ssl server")
    assert time.monotonic() - started < 40


def test_ssl_mount_without_the_certificate_says_which_file(ssl_server, tmp_path):
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {**ssl_server.client_env(), "HOME": str(home)}
    with Mount.start(ssl_server.port, tmp_path / "mnt", "--ssl", "--timeout", "2", env=env) as mount:
        assert_unreachable(mount.path, because=r"certificate file\(CRT\) server\.crt .*\$HOME/\.ecflowrc/ssl")


def test_config_file_ssl_true(ssl_server, tmp_path):
    """The same SSL server twice in one config: with ssl = true it shows /s, without it says why."""
    config = tmp_path / "servers.toml"
    config.write_text(f'[servers.secure]\nhost = "localhost"\nport = {ssl_server.port}\nssl = true\n\n'
                      f'[servers.plain]\nhost = "localhost"\nport = {ssl_server.port}\n')
    path = tmp_path / "mnt"
    with Mount.start_target(["--config", str(config)], path, "--timeout", "2", env=ssl_server.client_env()):
        expected = server_states(ssl_server)
        assert wait_until(lambda: shown_states(path / "secure", expected) == expected, SAYS_WITHIN), \
            shown_states(path / "secure", expected)
        assert "reachable yes" in status_of(path / "secure")
        assert_unreachable(path / "plain", because=r"mixing ssl and non-ssl")


def test_ssl_with_a_config_file_is_a_usage_error(tmp_path):
    config = tmp_path / "servers.toml"
    config.write_text('[servers.x]\nhost = "localhost"\nport = 3141\n')
    done = subprocess.run([sys.executable, "-m", "wffs.cli", "mount", "--config", str(config), "--ssl",
                           str(tmp_path)], cwd=ROOT, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and b"ssl = true" in done.stderr, done.stderr
