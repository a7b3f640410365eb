"""wffs.backend.ecflow.script_manuals: what scripts say of their manuals, kept between mounts while unchanged."""

from __future__ import annotations

import json
import os
import time

from wffs.backend.ecflow import script_manuals
from wffs.backend.ecflow.script_manuals import ScriptManuals

SCRIPT = b"%include <head.h>\n%manual\nwhat it does\n%end\necho\n"


def old_script(path, data: bytes = SCRIPT):
    """A script written a while ago (past RACY_SECONDS): ctime cannot be set back, so the clock is
    moved forward instead (see `later`)."""
    path.write_bytes(data)
    return path


def later(monkeypatch, seconds: float = 10.0) -> None:
    now = time.time() + seconds
    monkeypatch.setattr(script_manuals.time, "time", lambda: now)


def test_a_script_unchanged_since_a_mount_read_it_is_not_read_again(tmp_path, monkeypatch):
    script = old_script(tmp_path / "t.ecf")
    later(monkeypatch)
    kept = str(tmp_path / "cache" / "manuals.json")
    first = ScriptManuals(kept)
    assert first.manual(str(script), os.stat(script)) == (len(b"what it does\n"), (b"<head.h>",))
    assert first.reads == 1
    first.save()

    second = ScriptManuals(kept)  # the next mount
    assert second.manual(str(script), os.stat(script)) == (len(b"what it does\n"), (b"<head.h>",))
    assert second.reads == 0

    def no_reads(path, *args, **kwargs):
        assert path != str(script), "the script was read"
        return open(path, *args, **kwargs)

    monkeypatch.setattr(script_manuals, "open", no_reads, raising=False)  # (a chmod would change its ctime)
    assert ScriptManuals(kept).manual(str(script), os.stat(script)) == (len(b"what it does\n"), (b"<head.h>",))


def test_a_changed_script_is_read_again(tmp_path, monkeypatch):
    script = old_script(tmp_path / "t.ecf")
    later(monkeypatch)
    kept = str(tmp_path / "manuals.json")
    first = ScriptManuals(kept)
    first.manual(str(script), os.stat(script))
    first.save()
    monkeypatch.undo()
    body = b"%manual\nlonger manual text\n%end\n"
    edited = body + b"#" * (len(SCRIPT) - len(body) - 1) + b"\n"
    assert len(edited) == len(SCRIPT)
    before = os.stat(script)
    script.write_bytes(edited)  # the same size, and even the mtime set back: the ctime still tells
    os.utime(script, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = ScriptManuals(kept)
    later(monkeypatch)
    assert second.manual(str(script), os.stat(script)) == (len(b"longer manual text\n"), ())
    assert second.reads == 1


def test_scripts_only_the_server_can_read_are_kept_as_such(tmp_path, monkeypatch):
    script = old_script(tmp_path / "t.ecf", b"%manual\nfor %TASK%\n%end\n")
    later(monkeypatch)
    kept = str(tmp_path / "manuals.json")
    first = ScriptManuals(kept)
    assert first.manual(str(script), os.stat(script)) is None
    first.save()
    second = ScriptManuals(kept)
    assert second.manual(str(script), os.stat(script)) is None and second.reads == 0


def test_a_script_written_just_now_is_not_kept(tmp_path):
    # a second write within the same clock tick would leave inode, size, mtime and ctime as they are
    script = tmp_path / "t.ecf"
    script.write_bytes(SCRIPT)
    kept = str(tmp_path / "manuals.json")
    first = ScriptManuals(kept)
    first.manual(str(script), os.stat(script))
    first.manual(str(script), os.stat(script))
    assert first.reads == 2
    first.save()
    assert not os.path.exists(kept)


def test_mounts_of_other_servers_keep_their_scripts(tmp_path, monkeypatch):
    a, b = old_script(tmp_path / "a.ecf"), old_script(tmp_path / "b.ecf", b"echo\n")
    later(monkeypatch)
    kept = str(tmp_path / "manuals.json")
    one, two = ScriptManuals(kept), ScriptManuals(kept)  # two mounts at once
    one.manual(str(a), os.stat(a))
    two.manual(str(b), os.stat(b))
    one.save()
    two.save()
    three = ScriptManuals(kept)
    assert three.manual(str(a), os.stat(a)) == (len(b"what it does\n"), (b"<head.h>",))
    assert three.manual(str(b), os.stat(b)) == (0, ())
    assert three.reads == 0


def test_the_file_keeps_at_most_max_entries_those_of_the_latest_mount_first(tmp_path, monkeypatch):
    monkeypatch.setattr(script_manuals, "MAX_ENTRIES", 3)
    scripts = [old_script(tmp_path / f"t{i}.ecf") for i in range(5)]
    later(monkeypatch)
    kept = str(tmp_path / "manuals.json")
    for group in (scripts[:3], scripts[3:]):
        mount = ScriptManuals(kept)
        for s in group:
            mount.manual(str(s), os.stat(s))
        mount.save()
    held = json.loads(open(kept).read())["scripts"]
    assert len(held) == 3 and {str(s) for s in scripts[3:]} <= set(held)


def test_a_damaged_file_is_ignored_and_replaced(tmp_path, monkeypatch):
    script = old_script(tmp_path / "t.ecf")
    later(monkeypatch)
    kept = tmp_path / "manuals.json"
    for damage in (b"{not json", b'{"version": 1, "scripts": {"%s": [[1, 2], "x"]}}' % str(script).encode(),
                   b'{"version": 1, "scripts": []}', b"[]"):
        kept.write_bytes(damage)
        mount = ScriptManuals(str(kept))
        assert mount.manual(str(script), os.stat(script)) == (len(b"what it does\n"), (b"<head.h>",))
        assert mount.reads == 1
        mount.save()
        assert ScriptManuals(str(kept)).entries.keys() == {str(script)}


def test_a_cache_that_cannot_be_written_costs_nothing_but_the_reads(tmp_path, monkeypatch):
    script = old_script(tmp_path / "t.ecf")
    later(monkeypatch)
    (tmp_path / "file").write_bytes(b"")
    mount = ScriptManuals(str(tmp_path / "file" / "manuals.json"))  # below a file: cannot be made
    assert mount.manual(str(script), os.stat(script)) == (len(b"what it does\n"), (b"<head.h>",))
    mount.save()
    assert mount.dirty
    assert ScriptManuals(None).manual(str(script), os.stat(script)) is not None
