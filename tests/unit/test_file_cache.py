"""wffs.file_cache: a remote server's files on disk, private, bounded, never in the way."""

from __future__ import annotations

import os
import stat
import time

from wffs.file_cache import FileCache, path_for


def test_kept_between_instances_and_private(tmp_path):
    path = path_for(str(tmp_path / "cache"), "host:3141")
    FileCache(path).put_many({"a": b"\0one", "b": b"two"})
    assert not os.path.exists(path + "x")
    again = FileCache(path)
    assert again.get_many(["a", "b", "c"]) == {"a": b"\0one", "b": b"two"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_nothing_made_until_used(tmp_path):
    path = path_for(str(tmp_path), "h:1")
    FileCache(path).get_many([])
    assert not os.path.exists(path)


def test_entries_older_than_asked_are_not_given(tmp_path):
    cache = FileCache(str(tmp_path / "c.sqlite"))
    cache.put_many({"old": b"x"})
    time.sleep(0.05)
    cut = time.time()
    cache.put_many({"new": b"y"})
    assert cache.get_many(["old", "new"], stored_after=cut) == {"new": b"y"}


def test_bounded_oldest_first(tmp_path):
    cache = FileCache(str(tmp_path / "c.sqlite"), max_bytes=10_000)
    for i in range(30):
        cache.put_many({f"k{i:02d}": bytes(1000)})
    kept = cache.get_many([f"k{i:02d}" for i in range(30)])
    assert sum(len(k) + len(v) for k, v in kept.items()) <= 10_000
    assert "k29" in kept and "k00" not in kept


def test_a_cache_that_cannot_be_made_is_no_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = FileCache(str(blocker / "sub" / "c.sqlite"))
    cache.put_many({"a": b"x"})
    assert cache.get_many(["a"]) == {}
