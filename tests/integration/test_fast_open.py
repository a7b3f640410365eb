"""Opens answered without Python (wffs/_fastopen.c, `wffs mount --fast-open`): once a file's content is in
the kernel's page cache, its opens never reach wffs's Python code, until the content changes on the server
or the kernel lets the pages go; what is read is always the server's content as wffs last saw it.  Without
the option (the default) every open reaches wffs."""

from __future__ import annotations

import os

import pytest

from .mounting import Mount, wait_until
from .test_kept_listings import COUNTING_CLI
from .test_mount_live import FRESH_WITHIN, load_scratch_suite

pytestmark = pytest.mark.integration


def counted_mount(server, tmp_path, *extra, env=None):
    """(mount, requests(what, where)) of a mount whose requests reaching wffs are recorded."""
    record = tmp_path / "requests"
    record.touch()

    def requests(what: str, where: str) -> int:
        return record.read_text().splitlines().count(f"{what} {where}")

    mount = Mount.start(server.port, tmp_path / "mnt", "--timeout", "2", *extra, cli=COUNTING_CLI + (str(record),),
                        env=env)
    return mount, requests


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_a_file_the_kernel_holds_is_opened_without_wffs_until_it_changes(scratch_server, tmp_path):
    client = load_scratch_suite(scratch_server)
    mount, requests = counted_mount(scratch_server, tmp_path, "--fast-open")
    with mount:
        att = mount.path / "s/f/a.att"
        first = read(att)
        assert first.startswith(b"path /s/f/a"), first
        for _ in range(4):
            assert read(att) == first
        assert requests("open", "s/f/a.att") == 1  # only the first: its content went to the page cache
        # the kernel lets the pages go: the next read, through a handle the library opened, asks wffs
        with open(att, "rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        assert read(att) == first
        assert requests("read", "s/f/a.att") >= 1 and requests("open", "s/f/a.att") == 1
        # ... and the open after that comes to wffs, which hands the content to the page cache again
        assert read(att) == first
        assert requests("open", "s/f/a.att") == 2
        assert read(att) == first and requests("open", "s/f/a.att") == 2
        # the content changes on the server (a label: no state change, the same name): never the old pages
        client.alter("/s/f/a", "change", "label", "info", "a much longer label than before")
        assert wait_until(lambda: b"a much longer label" in read(att), FRESH_WITHIN, 0.05), read(att)
        changed = read(att)
        assert changed != first and len(changed) == os.stat(att).st_size
        opened = requests("open", "s/f/a.att")
        assert 3 <= opened <= 4  # through wffs once or twice (the kernel may still hold the old size once)
        for _ in range(3):
            assert read(att) == changed
        assert requests("open", "s/f/a.att") == opened  # ... and without it again
        assert "--fast-open" not in mount.log_text()  # neither "not used" nor "every open is answered ..."


def test_by_default_every_open_reaches_wffs(scratch_server, tmp_path):
    load_scratch_suite(scratch_server)
    mount, requests = counted_mount(scratch_server, tmp_path)
    with mount:
        every_open_reaches_wffs(mount, requests)
        assert "--fast-open" not in mount.log_text()


def test_asked_for_without_the_library_every_open_reaches_wffs_and_the_log_says_why(scratch_server, tmp_path):
    """--fast-open where the library cannot be used (here WFFS_NO_NATIVE): the same answers, each open
    through wffs, and a line in the log."""
    load_scratch_suite(scratch_server)
    mount, requests = counted_mount(scratch_server, tmp_path, "--fast-open",
                                    env=dict(os.environ, WFFS_NO_NATIVE="1"))
    with mount:
        every_open_reaches_wffs(mount, requests)
        assert "--fast-open: not used: WFFS_NO_NATIVE is set" in mount.log_text()


def every_open_reaches_wffs(mount, requests) -> None:
    """A file read five times is opened through wffs five times, and reads the same each time."""
    att = mount.path / "s/f/a.att"
    first = read(att)
    for _ in range(4):
        assert read(att) == first
    assert requests("open", "s/f/a.att") == 5
