"""Access (issue 13): private by default, read-only for others under allow_other, credentials nowhere.

Another user is played by `setpriv` as nobody (uid 65534).  Control-file writes by other users under
allow_other, mirror credentials and SSL have tests of their own (test_mirror.py, test_ssl.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from testbed.devserver import EcflowServer, free_port

from .mounting import Mount, run, wait_until
from .test_mount_live import load_scratch_suite

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def readable_files(top: Path):
    """Contents of every file that can be read (the unreachable server's .server/log cannot: EIO)."""
    for directory, _, files in os.walk(top):
        for name in files:
            try:
                yield (Path(directory) / name).read_bytes()
            except OSError:
                pass


@pytest.fixture
def shared_dir():
    """A directory other users can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="wffs-access-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], timeout=30)


def test_the_mount_is_private_to_its_owner_by_default(scratch_server, shared_dir):
    load_scratch_suite(scratch_server)
    with Mount.start(scratch_server.port, shared_dir / "mnt") as mount:
        assert "a.que" in os.listdir(mount.path / "s/f")  # the owner
        for argv in (["ls", str(mount.path)], ["cat", str(mount.path / "s/f/a.att")],
                     ["stat", str(mount.path / "s")], ["find", str(mount.path)]):
            done = run(NOBODY + argv)
            assert done.returncode != 0 and b"Permission denied" in done.stderr, (argv, done)


def test_allow_other_lets_other_users_read_but_change_nothing(scratch_server, shared_dir):
    load_scratch_suite(scratch_server)
    before = scratch_server.cli("--get").stdout
    with Mount.start(scratch_server.port, shared_dir / "mnt", "-o", "allow_other") as mount:
        listing = run(NOBODY + ["ls", "-lR", str(mount.path)])
        assert listing.returncode == 0 and b"a.que" in listing.stdout
        att = run(NOBODY + ["cat", str(mount.path / "s/f/a.att")])
        assert att.returncode == 0 and att.stdout == (mount.path / "s/f/a.att").read_bytes()
        refused = {
            "write": f"echo x > {mount.path}/s/f/a.att",
            "create": f"touch {mount.path}/s/f/new",
            "mkdir": f"mkdir {mount.path}/s/g",
            "remove": f"rm -f {mount.path}/s/f/a.que",
            "mirror": f"echo 'mirror --name A --remote_path /s/f/b --remote_port 1' > {mount.path}/s/f/a.mirror",
        }
        for what, command in refused.items():
            done = run(NOBODY + ["sh", "-c", command])
            assert done.returncode != 0, what
            expected = b"Permission denied" if what == "mirror" else b"Read-only file system"
            assert expected in done.stderr, (what, done.stderr)
    assert scratch_server.cli("--get").stdout == before


def test_the_servers_password_appears_in_no_file_process_list_or_log(tmp_path):
    """A server that checks passwords (ecFlow 5.9's custom password file), mounted through a config file
    with `user` and `auth`: the tree shows, the password is nowhere but in the auth file."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    secret = "Zq-very-s3cret-9"
    (home / f"{socket.gethostname()}.{port}.ecf.custom_passwd").write_text(
        f"4.5.0\nops {socket.gethostname()} {port} {secret}\n")
    server = EcflowServer(home, port)
    server.start()
    try:
        load_scratch_suite(server)
        auth = tmp_path / "ops.json"
        auth.write_text(json.dumps({"username": "ops", "password": secret}))
        auth.chmod(0o600)
        wrong = tmp_path / "wrong.json"
        wrong.write_text(json.dumps({"username": "ops", "password": "not-" + secret}))
        config = tmp_path / "servers.toml"
        config.write_text(f'[servers.good]\nhost = "localhost"\nport = {port}\nuser = "ops"\nauth = "{auth}"\n\n'
                          f'[servers.bad]\nhost = "localhost"\nport = {port}\nuser = "ops"\nauth = "{wrong}"\n')
        mnt = tmp_path / "mnt"
        mount = Mount.start_target(["--config", str(config)], mnt, "--debug")
        log = mount.log
        try:
            assert wait_until(lambda: (mnt / "good/s/f/a.que").exists(), 10)
            bad_status = mnt / "bad/.server/status"
            assert wait_until(lambda: b"authentication failed" in bad_status.read_bytes(), 10), \
                bad_status.read_text()
            everything = b"".join(readable_files(mnt))
            ps = run(["ps", "-eo", "args"]).stdout
            private = [p for p in Path("/tmp").glob("wffs-worker-*/*") if p.is_file()]
            for text in (everything, ps, log.read_bytes()):
                assert secret.encode() not in text
            assert not any(secret.encode() in p.read_bytes() and oct(p.stat().st_mode & 0o077) != "0o0"
                           for p in private)  # a worker's own copy is private to its user
        finally:
            mount.stop()
    finally:
        server.stop()
