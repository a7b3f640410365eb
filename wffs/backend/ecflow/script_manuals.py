"""What each script on disk says of its manual, kept between mounts while the script is unchanged.

Every task's `.man` is listed with its size, and the size comes from the script: a first sync read every
task's script, the larger part of a mount's time on a cold page cache (more over NFS).  The scripts
rarely change, so what script.parse found in each is kept in a small file under ~/.cache/wffs and
trusted while the script's inode, size, mtime and ctime are the ones it was read at: a mount then stats
the scripts (which it does anyway) and reads only the changed ones.  A script written less than
RACY_SECONDS before it was read is not kept: a second write within the same clock tick would leave all
four unchanged (git's "racy" index entries).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Optional

from wffs.backend import user_cache
from wffs.backend.ecflow import script as ecf_script

log = logging.getLogger(__name__)

RACY_SECONDS = 2.0
#: Entries the file keeps at most (scripts of every server this user mounts; those of the latest mount win).
MAX_ENTRIES = 100_000
VERSION = 1


def default_file() -> str:
    return os.path.join(user_cache.directory(), "script-manuals.json")


def stat_stamp(st: os.stat_result) -> list:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class ScriptManuals:
    """{script path: (stamp, manual length, include arguments) or (stamp, None)}, loaded from `file`."""

    def __init__(self, file: Optional[str]):
        self.file = file
        self.entries: dict[str, list] = self._load() if file else {}
        self.seen: set[str] = set()  # scripts this mount asked about
        self.dirty = False
        self.reads = 0  # scripts read rather than known from the file (the tests count them)

    def manual(self, path: str, st: os.stat_result) -> Optional[tuple[int, tuple[bytes, ...]]]:
        """(length of the script's own manual, its %include arguments), or None when only the server can
        tell (see script.parse); OSError if the script cannot be read."""
        self.seen.add(path)
        held = self.entries.get(path)
        if held is not None and held[0] == stat_stamp(st):
            return None if held[1] is None else (held[1], tuple(a.encode("utf-8", "surrogateescape")
                                                                for a in held[2]))
        with open(path, "rb") as f:
            parsed = ecf_script.parse(f.read())
        self.reads += 1
        if max(st.st_mtime, st.st_ctime) < time.time() - RACY_SECONDS:
            self.entries[path] = [stat_stamp(st), None] if parsed is None else [
                stat_stamp(st), len(parsed[0]), [a.decode("utf-8", "surrogateescape") for a in parsed[1]]]
            self.dirty = True
        return None if parsed is None else (len(parsed[0]), parsed[1])

    def save(self) -> None:
        """Write the entries (merged with what other mounts wrote meanwhile) if any are new; never fails."""
        if not self.file or not self.dirty:
            return
        others = {path: e for path, e in self._load().items() if path not in self.seen}
        ours = [(path, self.entries[path]) for path in self.seen if path in self.entries]
        merged = dict((list(others.items()) + ours)[-MAX_ENTRIES:])
        try:
            os.makedirs(os.path.dirname(self.file), exist_ok=True)
            remove_orphans(os.path.dirname(self.file))
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.file), prefix=".script-manuals.")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump({"version": VERSION, "scripts": merged}, f, separators=(",", ":"))
                os.replace(tmp, self.file)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as e:
            log.debug("script manuals not kept in %s: %s", self.file, e)
            return
        self.entries = merged
        self.dirty = False

    def _load(self) -> dict:
        try:
            with open(self.file) as f:
                data = json.load(f)
            if data.get("version") == VERSION and isinstance(data.get("scripts"), dict):
                return {path: entry for path, entry in data["scripts"].items() if valid(entry)}
        except (OSError, ValueError, AttributeError) as e:
            if not isinstance(e, FileNotFoundError):
                log.debug("script manuals in %s not used: %s", self.file, e)
        return {}


#: A temporary file older than this was left by a worker killed while saving.
ORPHAN_SECONDS = 3600


def remove_orphans(directory: str) -> None:
    now = time.time()
    for name in os.listdir(directory):
        if name.startswith(".script-manuals."):
            path = os.path.join(directory, name)
            try:
                if os.stat(path).st_mtime < now - ORPHAN_SECONDS:
                    os.unlink(path)
            except OSError:
                pass  # another mount removed it


def valid(entry) -> bool:
    """An entry as `manual` writes it (a hand-edited or damaged file must not crash a mount)."""
    return (isinstance(entry, list) and len(entry) in (2, 3) and isinstance(entry[0], list)
            and len(entry[0]) == 4 and all(isinstance(x, int) for x in entry[0])
            and (entry[1] is None and len(entry) == 2
                 or isinstance(entry[1], int) and len(entry) == 3 and isinstance(entry[2], list)
                 and all(isinstance(a, str) for a in entry[2])))
