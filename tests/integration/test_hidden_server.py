"""A server whose files this machine cannot see (it runs in a mount namespace of its own, where its
ECF_HOME is bound from a directory that is empty out here): every file comes from the server, exact (NUL
bytes and all: the file request spoken on the wire), or, through the binding, fails with EIO and a logged
reason; files planted here at its ECF_HOME path are never served, not even beside a copy of its log; and
a second mount reads what did not change from the disk cache, not from the server.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from testbed.devserver import EcflowServer, client_cli, states_of

from . import conftest
from .mounting import Mount, file_from_server, run, wait_until

demo_suite = conftest.demo_suite

#: outputs the binding cannot carry: a NUL in the middle, and one at the start of a line
NUL_TASKS = {"/odd/nul": r"printf 'before\n\000 after the nul\nlast\n'",
             "/odd/nul_start": r"printf 'x\n\000y\nend\n'"}
#: and outputs it can: not UTF-8
OTHER_TASKS = {"/odd/latin": r"printf 'caf\351 cr\350me\n'"}
PLANTED = b"PLANTED: not the server's"


def load_odd(server) -> list[str]:
    import ecflow

    defs = ecflow.Defs()
    suite = defs.add_suite("odd")
    demo_suite.suite_variables(suite, server.home, server.port)
    tasks = {**NUL_TASKS, **OTHER_TASKS}
    for path, body in tasks.items():
        suite.add_task(path.rsplit("/", 1)[1])
        script = server.files_dir / f"{path.lstrip('/')}.ecf"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(demo_suite.script(body))
    client = server.client()
    client.load(defs)
    client.begin_suite("odd")
    return list(tasks)


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    base = tmp_path_factory.mktemp("hidden")
    server = EcflowServer(base / "home", files_at=base / "real")
    server.start()
    try:
        demo_suite.load_demo(server)
        odd = load_odd(server)
        demo_suite.wait_until_settled(server)
        assert wait_until(lambda: set(states_of(server, odd).values()) == {"complete"}, timeout=30)
        yield server
    finally:
        server.stop()


def task_tries(server) -> dict:
    client = server.client()
    client.sync_local()
    return {t.get_abs_node_path(): t.get_int_try_no() for t in client.get_defs().get_all_tasks()}


def check_every_file(server, mnt: Path, cut: tuple = ()) -> dict:
    """Every file of the mount: readable with its size, or EIO for the outputs of the tasks `cut` (those
    that cannot be carried).  Returns {relative path: bytes}."""
    contents, failed = {}, set()
    for dirpath, _dirs, files in os.walk(mnt):
        for name in files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(mnt))
            try:
                data = path.read_bytes()
                assert path.stat().st_size == len(data), rel
                contents[rel] = data
            except OSError as e:
                assert e.errno == errno.EIO, (rel, e)
                failed.add(rel)
    assert failed == {f"{t.lstrip('/')}.out" for t in cut}, failed
    tries = task_tries(server)
    for task, tried in tries.items():
        rel = task.lstrip("/")
        for ext, kind in (("ecf", "script"), ("job", "job"), ("man", "manual")):
            if f"{rel}.{ext}" in contents:
                assert contents[f"{rel}.{ext}"] == file_from_server(server, task, kind), (task, ext)
        if tried and task not in cut:
            assert contents[f"{rel}.out"] == (server.files_dir / f"{rel}.{tried}").read_bytes(), task
        assert f"{rel}.ecf" in contents, task
    assert len(contents["demo/out/huge.out"].splitlines()) >= demo_suite.BIG_LINES
    assert b"caf\xe9 cr\xe8me" in contents["odd/latin.out"]
    for task in set(NUL_TASKS) - set(cut):
        assert b"\0" in contents[f"{task.lstrip('/')}.out"], task
    return contents


def test_files_of_a_server_this_machine_cannot_see(hidden, tmp_path):
    assert not (hidden.home / "demo").exists() and (hidden.files_dir / "demo").is_dir()
    with Mount.start(hidden.port, tmp_path / "mnt") as mount:
        status = (mount.path / ".server" / "status").read_text()
        assert "files server (its log " in status and "cannot be read here" in status, status
        check_every_file(hidden, mount.path)
        assert "EIO" not in mount.log_text()


def test_through_the_binding_a_nul_is_eio_with_a_reason(hidden, tmp_path):
    """Where the request cannot be spoken on the wire (WFFS_NO_WIRE here; an SSL server, a password), the
    binding's answer is checked: a file it cuts at a NUL is EIO, never served cut."""
    with Mount.start(hidden.port, tmp_path / "mnt", env={**os.environ, "WFFS_NO_WIRE": "1"}) as mount:
        check_every_file(hidden, mount.path, cut=tuple(NUL_TASKS))
        assert wait_until(lambda: "EIO rather than wrong bytes: " in mount.log_text(), timeout=5)
        assert "holds a NUL byte" in mount.log_text()


def test_files_planted_at_its_ecf_home_are_never_served(hidden, tmp_path):
    """Every file the server has, planted here with other bytes at the same path; and its log copied here
    as it was a moment ago (a stale copy)."""
    planted = []
    for task in task_tries(hidden):
        base = hidden.home / task.lstrip("/")
        base.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".ecf", ".job1", ".1", ".man"):
            path = base.with_name(base.name + suffix)
            path.write_bytes(PLANTED + b"\n")
            planted.append(path)
    real_log = next(hidden.files_dir.glob("*.ecf.log"))
    shutil.copy(real_log, hidden.home / real_log.name)
    time.sleep(1.1)  # the server's next log lines carry a later second
    try:
        with Mount.start(hidden.port, tmp_path / "mnt") as mount:
            status = (mount.path / ".server" / "status").read_text()
            assert f"files server ({hidden.home / real_log.name} here is not the server's log" in status, status
            contents = check_every_file(hidden, mount.path)
            assert not [rel for rel, data in contents.items() if PLANTED in data]
            tar = run(["bash", "-c", f"tar cf - -C {mount.path} demo | wc -c"], timeout=60)
            assert tar.returncode == 0 and tar.stderr == b"", tar.stderr
    finally:
        for path in planted:
            path.unlink()


def file_requests(server) -> dict:
    """The server's own count of file requests by kind (ecflow_client --stats: `File ECF  6`, ...)."""
    stats = client_cli(server.port, "--stats").stdout.decode()
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s*File (\w+)\s+(\d+)\s*$", stats, re.M)}


def test_a_second_mount_reads_scripts_and_manuals_from_the_disk_cache(hidden, tmp_path):
    """What the first mount read is kept on disk (in the user's cache): the second mount asks the server
    for no script and no manual (read within --script-age); outputs of tasks that ended a moment ago
    may still be written, so those are read again.  The bytes are the same."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with Mount.start(hidden.port, tmp_path / "a", env=env) as mount:
        first = check_every_file(hidden, mount.path)
    before = file_requests(hidden)
    with Mount.start(hidden.port, tmp_path / "b", env=env) as mount:
        second = {str(p.relative_to(mount.path)): p.read_bytes() for p in mount.path.rglob("*")
                  if p.is_file() and p.suffix in (".ecf", ".man") and p.stat().st_size >= 0}
    after = file_requests(hidden)  # (before check_every_file, which asks ecflow_client --file itself)
    assert second == {rel: data for rel, data in first.items() if rel.endswith((".ecf", ".man"))}
    assert len(second) > 20
    assert after.get("ECF", 0) == before.get("ECF", 0) and after.get("manual", 0) == before.get("manual", 0), \
        (before, after)
    assert before.get("ECF", 0) > 0  # the first mount did ask
    kept = list((tmp_path / "cache" / "wffs" / "files").iterdir())  # the database, with SQLite's -wal, -shm
    assert [p.name for p in kept if p.suffix == ".sqlite"] == [f"localhost_{hidden.port}.sqlite"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept), kept
