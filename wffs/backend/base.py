"""The small interface every backend (ecFlow now, Cylc later) offers the mount.

Backends are the only code that talks to a server.  All calls are async and bounded by a timeout; a
server that is down, hangs or refuses raises ServerUnavailable, never blocks the file system.
"""

from __future__ import annotations

from typing import Optional, Protocol

#: Server-provided files of a task, in listing order (the status file and .att come first).
#: "err" is a Cylc job's stderr (ecFlow tasks never have it).  (wffs.layout shows them as files.)
TASK_FILE_KINDS = ("ecf", "job", "out", "err", "man")


class ServerUnavailable(Exception):
    """The server did not answer in time, or refused: the caller shows the last known tree and an error."""


class WorkerBusy(ServerUnavailable):
    """The call could not even start in time: another call held the backend's worker."""


class NotProvided(Exception):
    """The server has no such file for this node (a task that never ran has no job output)."""


class ContentInexact(Exception):
    """The server has the file but cannot send its exact bytes: the read fails (EIO) rather than lie."""


class MirrorLineError(ValueError):
    """A mirror line cannot be accepted; the message says why, for the user.  (Here rather than in
    wffs.mirror_line, which re-exports it, so that a backend can refuse a mirror without importing upward.)"""


class Backend(Protocol):
    name: str  # "host:port", for messages

    async def changes(self) -> Optional[dict]:
        """A delta since the last call (the first call returns the whole tree), or None if nothing changed.

        A delta is {'full': bool, 'records': [node records], 'removed': [paths], 'server': {...}}.
        """

    async def read(self, path: str, kind: str) -> bytes:
        """Content of a task file (kind in TASK_FILE_KINDS), exact bytes; NotProvided if none."""

    async def read_many(self, items: list) -> dict:
        """Several task files or node texts (why, def) at once, {(path, kind): bytes}; unreadable ones are
        left out."""

    async def node_text(self, path: str, kind: str) -> bytes:
        """Text the server makes for a node: 'why' it is not running, or its subtree's 'def'inition."""

    async def server_file(self, name: str) -> bytes:
        """Content of a server-level file other than `status` (log, stats, zombies, suites.def)."""

    def server_answered(self) -> bool:
        """A call is under way whose server has answered it: slow (a big first sync), not hung."""

    async def close(self) -> None:
        """Stop any worker; later calls may start a new one."""
