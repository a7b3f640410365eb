"""Files a remote server sent, kept on disk between mounts: a second mount asks only for what changed.

A server whose files this machine cannot see sends each file in a request of its own (a round trip or
two over the network).  What it sent is kept here, in one SQLite file per server under the user's cache
directory (private to the user), keyed by what the file depends on: the server, the node, its state and
the time of its last change (the job and output of a try are written once the try ends), and the kind.
The mount (vfs) decides what may be kept: never a file still being written; scripts and manuals, which
the server lets one edit without any change of state, only for a bounded age.  The whole file is kept
under a size bound, the oldest entries going first.  A cache that cannot be opened or written is no
cache: a mount never fails because of it.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from typing import Iterable, Optional

log = logging.getLogger(__name__)

#: Bytes a server's cache keeps at most by default (--disk-cache).
DEFAULT_BYTES = 256 << 20


def path_for(directory: str, server: str) -> str:
    return os.path.join(directory, "files", re.sub(r"[^A-Za-z0-9._-]+", "_", server) + ".sqlite")


class FileCache:
    """{key: bytes} on disk, each entry with the time it was stored; thread-safe (one connection, a lock)."""

    def __init__(self, path: str, max_bytes: int = DEFAULT_BYTES):
        self.path = path
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.db: Optional[sqlite3.Connection] = None
        self.opened = False  # opened when first used: a mount of a local server never makes the file

    def _open(self) -> None:
        self.opened = True
        path = self.path
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private before SQLite writes a byte
            os.close(fd)
            db = sqlite3.connect(path, check_same_thread=False, timeout=2)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # a cache: a crash may lose entries, never make one wrong
            db.execute("CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, data BLOB NOT NULL,"
                       " stored REAL NOT NULL)")
            db.commit()
            self.db = db
        except (OSError, sqlite3.Error) as e:
            log.warning("no file cache at %s: %s", path, e)

    def get_many(self, keys: Iterable[str], stored_after: float = 0.0) -> dict[str, bytes]:
        """The entries of these keys stored after `stored_after` (seconds since the epoch)."""
        keys = list(keys)
        if not keys:
            return {}
        found = {}
        try:
            with self.lock:
                if not self.opened:
                    self._open()
                if self.db is None:
                    return {}
                for start in range(0, len(keys), 500):
                    chunk = keys[start:start + 500]
                    rows = self.db.execute(
                        f"SELECT key, data FROM files WHERE stored > ? AND key IN ({','.join('?' * len(chunk))})",
                        [stored_after, *chunk])
                    found.update((key, bytes(data)) for key, data in rows)
        except sqlite3.Error as e:
            log.warning("file cache %s not read: %s", self.path, e)
        return found

    def put_many(self, entries: dict[str, bytes]) -> None:
        if not entries:
            return
        now = time.time()
        try:
            with self.lock:
                if not self.opened:
                    self._open()
                if self.db is None:
                    return
                self.db.executemany("INSERT OR REPLACE INTO files (key, data, stored) VALUES (?, ?, ?)",
                                    [(key, data, now) for key, data in entries.items()])
                self._bound()
                self.db.commit()
        except sqlite3.Error as e:
            log.warning("file cache %s not written: %s", self.path, e)

    def _bound(self) -> None:
        """Oldest entries out until the cache holds at most 90 % of max_bytes (a margin: not at every put)."""
        (total,) = self.db.execute("SELECT COALESCE(SUM(LENGTH(data) + LENGTH(key)), 0) FROM files").fetchone()
        if total <= self.max_bytes:
            return
        excess = total - int(self.max_bytes * 0.9)
        doomed, freed = [], 0
        for key, size in self.db.execute("SELECT key, LENGTH(data) + LENGTH(key) FROM files ORDER BY stored"):
            if freed >= excess:
                break
            doomed.append((key,))
            freed += size
        self.db.executemany("DELETE FROM files WHERE key = ?", doomed)

    def close(self) -> None:
        if self.db is not None:
            with self.lock:
                self.db.close()
                self.db = None
