"""The kernel keeps listings (wffs/kept_listings.py, wffs/_dircache.c): a listing read again is not asked of
wffs, and a listing that changed on the server is never served from the kernel's copy."""

from __future__ import annotations

import os
import time

import pytest

from .mounting import Mount, run, wait_until
from .test_mount_live import FRESH_WITHIN, load_scratch_suite

COUNTING_CLI = ("-m", "tests.integration.counting_cli")


@pytest.fixture(params=["notices", "no-notices"])
def counted(scratch_server, tmp_path, request):
    """A mount whose directory requests are recorded; yields (server, mount, requests(what, where)).
    no-notices: the kernel is not told of removed names (see counting_cli), only opendir's check is left."""
    load_scratch_suite(scratch_server)
    record = tmp_path / "requests"
    record.touch()

    def requests(what: str, where: str) -> int:
        return record.read_text().splitlines().count(f"{what} {where}")

    quiet = ("--no-entry-notices",) if request.param == "no-notices" else ()
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", "2",
                     cli=COUNTING_CLI + (str(record),) + quiet) as mount:
        yield scratch_server, mount, requests


def test_a_listing_read_again_comes_from_the_kernel(counted):
    server, mount, requests = counted
    family = mount.path / "s/f"
    first = sorted(os.listdir(family))
    assert "a.que" in first
    assert requests("readdir", "s/f") == 1  # the first listing came from wffs
    for _ in range(3):
        assert sorted(os.listdir(family)) == first
    assert requests("opendir", "s/f") == 4  # every opendir still reaches wffs, which checks the names...
    assert requests("readdir", "s/f") == 1  # ...and the kernel lists them itself
    # a find lists the others from wffs, which makes the kernel drop the attributes of `s` and `.server`
    # (their access times): the next find reads the top from wffs once more, to renew them in one go
    whole = run(["find", str(mount.path)]).stdout
    assert run(["find", str(mount.path)]).stdout == whole
    listed = sum(requests("readdir", where) for where in ("", "s", "s/f", ".server"))
    for _ in range(2):
        assert run(["find", str(mount.path)]).stdout == whole
    assert sum(requests("readdir", where) for where in ("", "s", "s/f", ".server")) == listed
    # a file read from the page cache (its content came with its open, see the test below): kept
    att = family / "a.att"
    assert att.read_text().startswith("path /s/f/a")
    assert sorted(os.listdir(family)) == first
    assert requests("readdir", "s/f") == 1
    # a file read from wffs (the kernel let its pages go; the read drops its access time in the kernel):
    # its directory once more from wffs, which renews the attributes of every entry in one go
    with open(att, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    assert att.read_text().startswith("path /s/f/a")
    assert requests("read", "s/f/a.att") >= 1
    for _ in range(3):
        assert sorted(os.listdir(family)) == first
    assert requests("readdir", "s/f") == 2


def test_a_changed_listing_is_read_from_wffs_at_once(counted):
    server, mount, requests = counted
    family = mount.path / "s/f"
    for _ in range(2):  # the second ones from the kernel's copies
        assert "a.que" in os.listdir(family)
        assert "s" in os.listdir(mount.path)
    assert requests("readdir", "s/f") == requests("readdir", "") == 1
    started = time.monotonic()
    assert server.cli("--force=complete", "/s/f/a").returncode == 0
    assert wait_until(lambda: "a.com" in os.listdir(family), FRESH_WITHIN, 0.05), os.listdir(family)
    assert time.monotonic() - started < FRESH_WITHIN
    listing = sorted(os.listdir(family))
    assert "a.que" not in listing
    for _ in range(3):  # the kernel keeps the new listing again
        assert sorted(os.listdir(family)) == listing
    # read from wffs: the first listing, the one that saw the change (its handle made the kernel drop the
    # old copy) and at most one more (the handle that filled the kernel's new copy, if not that one)
    assert 2 <= requests("readdir", "s/f") <= 3
    settled = requests("readdir", "s/f")
    assert sorted(os.listdir(family)) == listing
    assert requests("readdir", "s/f") == settled
    # the mount's top did not change: its copy stayed with the kernel through the change
    assert "s" in os.listdir(mount.path)
    assert requests("readdir", "") == 1


def test_an_empty_directory_that_gets_a_task_shows_it(counted):
    """The kernel drops its copy of a listing by dropping the directory's pages; the copy of an empty
    listing has none, so it outlived every handle opened to drop it: a family that got its first task was
    listed empty for as long as the kernel kept the directory."""
    server, mount, requests = counted
    client = server.client()
    client.replace("/s", suite_with_family_e())
    empty = mount.path / "s/e"
    assert wait_until(empty.is_dir, FRESH_WITHIN, 0.05)
    for _ in range(3):
        assert os.listdir(empty) == []
    client.replace("/s", suite_with_family_e(("n",)))
    assert wait_until(lambda: "n.que" in os.listdir(empty), FRESH_WITHIN, 0.05), os.listdir(empty)
    listing = sorted(os.listdir(empty))
    for _ in range(2):  # ... and kept by the kernel once it is not empty
        assert sorted(os.listdir(empty)) == listing
    settled = requests("readdir", "s/e")
    assert sorted(os.listdir(empty)) == listing
    assert requests("readdir", "s/e") == settled


def suite_with_family_e(tasks=()):
    """/s as load_scratch_suite makes it, with a family e holding `tasks`."""
    import ecflow

    defs = ecflow.Defs()
    suite = defs.add_suite("s")
    suite.add_variable("ECF_DUMMY_TASK", "")
    for family, names in (("f", ("a", "b", "c")), ("e", tasks)):
        added = suite.add_family(family)
        for name in names:
            added.add_task(name)
    return defs


def test_the_mount_says_when_listings_are_not_kept(scratch_server, tmp_path):
    """Without the library (here: pyfuse3 imported first), wffs works, and its log says what is off."""
    load_scratch_suite(scratch_server)
    cli = ("-c", "import sys, pyfuse3; from wffs import cli; sys.argv[0] = 'wffs'; cli.main()")
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", "2", cli=cli) as mount:
        changes_are_seen(scratch_server, mount)
        assert "listings are not kept by the kernel" in mount.log_text()
        assert "pyfuse3 was imported before wffs.fuse_binding" in mount.log_text()


def test_a_broken_library_is_not_used_and_the_mount_says_why(scratch_server, tmp_path):
    """Libraries that do not load (here: garbage where they are looked for), with --fast-open asked for:
    the mount comes up, serves, and its log says why each is off."""
    load_scratch_suite(scratch_server)
    broken = tmp_path / "native"
    broken.mkdir()
    for name in ("_dircache", "_fastopen"):
        (broken / f"{name}.so").write_bytes(b"not a library")
    env = {**os.environ, "WFFS_NATIVE_DIR": str(broken)}
    with Mount.start(scratch_server.port, tmp_path / "mnt", "--timeout", "2", "--fast-open", env=env) as mount:
        changes_are_seen(scratch_server, mount)
        assert "listings are not kept by the kernel (each is asked of wffs again): _dircache.so cannot be " \
               "loaded: " in mount.log_text()
        assert "--fast-open: not used: _fastopen.so cannot be loaded: " in mount.log_text()


def changes_are_seen(server, mount) -> None:
    family = mount.path / "s/f"
    assert "a.que" in os.listdir(family)
    assert server_cli_ok(server, "--force=complete", "/s/f/a")
    assert wait_until(lambda: "a.com" in os.listdir(family), FRESH_WITHIN, 0.05)
    assert (family / "a.att").read_bytes().startswith(b"path /s/f/a")


def server_cli_ok(server, *args) -> bool:
    return server.cli(*args).returncode == 0


def test_a_file_read_comes_with_its_open_so_a_second_run_needs_no_getattr(counted):
    """wffs hands a file's content to the page cache when it is opened: its reads come from there, and
    the kernel keeps the file's attributes whole (a read answered by wffs makes it drop the access time,
    so the next fstat, as grep and tar make, is one more request)."""
    server, mount, requests = counted
    att = mount.path / "s/f/a.att"
    os.listdir(att.parent)
    text = att.read_bytes()
    assert text.startswith(b"path /s/f/a") and len(text) == att.stat().st_size
    assert requests("read", "s/f/a.att") == 0  # the content came with the open
    seen = requests("getattr", "s/f/a.att")
    for _ in range(2):
        with open(att, "rb") as f:
            assert os.fstat(f.fileno()).st_size == len(f.read()) == len(text)
    assert requests("getattr", "s/f/a.att") == seen
    # the kernel lets the pages go: the next read is answered by wffs, and drops the access time...
    with open(att, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    with open(att, "rb") as f:
        assert f.read() == text
    assert requests("read", "s/f/a.att") >= 1
    seen = requests("getattr", "s/f/a.att")
    with open(att, "rb") as f:
        os.fstat(f.fileno())
    assert requests("getattr", "s/f/a.att") == seen + 1  # (what a store spares)
    # ... and the content goes with the open again
    read = requests("read", "s/f/a.att")
    for _ in range(2):
        assert att.read_bytes() == text
    assert requests("read", "s/f/a.att") == read
