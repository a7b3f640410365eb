"""Whether a server answers, as the mount last found out: shown in .server/status, and consulted before
every content call so that a server known not to answer costs a reader no wait."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Optional

from wffs.backend.base import ServerUnavailable, WorkerBusy
from wffs.events import iso
from wffs.snapshot import Snapshot

log = logging.getLogger(__name__)


@dataclass
class ServerStatus:
    """What the mount knows about its server's reachability, shown in .server/status."""

    name: str
    reachable: Optional[bool] = None
    last_sync: float = 0.0
    last_error: str = ""
    last_error_time: float = 0.0

    def render(self, snapshot: Snapshot) -> bytes:
        reach = {None: "not yet contacted", True: "yes", False: "no"}[self.reachable]
        lines = [
            f"server {self.name}",
            f"reachable {reach}",
            f"version {snapshot.server.get('version') or 'unknown'}",
            f"state {snapshot.server.get('state') or 'unknown'}",
            f"suites {len(snapshot.server.get('suites', ()))}",
            f"nodes {len(snapshot.nodes)}",
            f"last_sync {iso(self.last_sync)}",
        ]
        if snapshot.server.get("files"):  # where .ecf/.job/.out/.man come from, and why
            lines.append(f"files {snapshot.server['files']}")
        if self.reachable is False:
            lines.append(f"stale yes: the tree is the one last seen at {iso(self.last_sync)}")
        if self.last_error:
            lines.append(f"last_error {iso(self.last_error_time)} {self.last_error}")
        return ("\n".join(lines) + "\n").encode()

    async def ask(self, call, local: bool = False):
        """A server call for content.  While the server is known not to answer it fails at once: `tar` or
        `grep -r` over a hung server would otherwise wait --timeout for every file.  A failure marks the
        server so until a refresh gets an answer again (the refresher keeps asking).  `local`: the backend
        reads the file from disk itself (a Cylc job's files), which works whatever the server does."""
        if local:
            return await call()
        if self.reachable is False:
            raise ServerUnavailable(f"{self.name}: not answering since {iso(self.last_error_time)}"
                                    f" ({self.last_error})")
        try:
            return await call()
        except WorkerBusy:
            raise  # another call holds the worker (a read-ahead, say): the server may be fine
        except ServerUnavailable as e:
            self.unreachable(e)
            raise

    def unreachable(self, error: ServerUnavailable) -> None:
        if self.reachable is not False:
            log.warning("%s: %s", self.name, error)
        self.reachable = False
        self.last_error, self.last_error_time = str(error), time.time()
