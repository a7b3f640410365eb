"""Append-only logs of the state changes a mount has seen (docs/layout.rst, "Event logs").

One line per change, tab-separated, so that awk, `column -t` and `tail -f` work:
TIME<TAB>[SERVER<TAB>]PATH<TAB>OLD<TAB>NEW, TIME in ISO 8601 UTC, states as status-file extensions.
A log only grows: a reader at any offset sees the same bytes later readers see there.
"""

from __future__ import annotations

import time
from typing import Optional

from wffs import layout
from wffs.backend.timefmt import iso_utc, iso_utc_or


def iso(when: float) -> str:
    """A time as a status file shows it, or 'never' where it has none."""
    return iso_utc_or(when, "never")


class EventLog:
    def __init__(self):
        self._data = bytearray()
        self.changed_at = 0.0  # when the last line was added (the file's mtime)

    def add(self, path: str, old: str, new: str, server: Optional[str] = None, when: Optional[float] = None):
        when = time.time() if when is None else when
        fields = [iso_utc(when)] + ([server] if server is not None else []) + [path, old, new]
        self._data += ("\t".join(fields) + "\n").encode("utf-8", "surrogateescape")
        self.changed_at = when

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self._data[offset:offset + size])

    def __len__(self) -> int:
        return len(self._data)


def state_changes(changed: list):
    """(path, old code, new code) for each node whose status file changed (nodes added or removed are
    not state changes)."""
    for old, new in changed:
        if old is None or new is None:
            continue
        before = layout.status_code(old.state, old.suspended)
        after = layout.status_code(new.state, new.suspended)
        if before != after:
            yield new.path, before, after
