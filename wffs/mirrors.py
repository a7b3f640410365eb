"""Mirrors: a local task follows the state of a task on another server (ecFlow 5.13's mirror, by wffs).

The configuration lives on the local server, with the node (backend.set_mirror), so that it survives a
restart of wffs and any mount of that server resumes it.  Each mirror polls its remote every `polling`
seconds (with backoff while the remote is unreachable) and pushes to the local task only what differs:
state, then labels, meters and events both sides have.  Pushes are idempotent, so two mounts of the
same server do not fight.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

import trio

from wffs.backend.base import NotProvided, ServerUnavailable
from wffs.events import iso
from wffs.mirror_line import MirrorLineError, Resolved, is_off, parse, resolve

log = logging.getLogger(__name__)

#: Longest wait between two polls of a remote that does not answer (unless polling is longer).
MAX_BACKOFF = 60.0


@dataclass
class MirrorStatus:
    path: str
    line: str
    resolved: Optional[Resolved] = None
    status: str = "pending"  # pending, ok, error
    remote_state: str = ""
    last_polled: float = 0.0
    last_changed: float = 0.0
    last_error: str = ""
    stopped: bool = False  # cleared or replaced: an unfinished poll must push nothing

    @property
    def remote(self) -> str:
        return self.resolved.remote if self.resolved else "?"

    def render(self) -> bytes:
        r = self.resolved
        lines = [
            self.line,
            f"status {self.status}",
            f"remote {self.remote} {r.remote_path if r else '?'}"
            + (f" (polling every {r.polling} s{', ssl' if r.ssl else ''}"
               f"{', auth ' + r.remote_auth if r.remote_auth else ''})" if r else ""),
            f"remote_state {self.remote_state or 'unknown'}",
            f"last_polled {iso(self.last_polled)}",
            f"last_changed {iso(self.last_changed)}",
            f"last_error {self.last_error or '-'}",
        ]
        return ("\n".join(lines) + "\n").encode()

    def row(self) -> str:
        r = self.resolved
        return "\t".join([self.path, self.status, self.remote, r.remote_path if r else "?",
                          self.remote_state or "unknown", iso(self.last_polled), iso(self.last_changed),
                          self.last_error or "-"])


class Mirrors:
    """Every mirror of one local server, as this mount sees and drives them."""

    def __init__(self, local, snapshot: Callable, remote_for: Callable, refresh_local: Callable):
        self.local = local  # the local server's backend
        self.snapshot = snapshot  # () -> the local server's current Snapshot
        self.remote_for = remote_for  # Resolved -> a backend for its remote server
        self.refresh_local = refresh_local  # async () -> brings snapshot() in step with the local server
        self.status: dict[str, MirrorStatus] = {}
        self._scopes: dict[str, trio.CancelScope] = {}
        self._nursery: Optional[trio.Nursery] = None
        self.rejected: Optional[tuple] = None  # (time, path, reason) of the last rejected write

    async def run(self) -> None:
        """Host the polling loops until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.follow_snapshot()
            await trio.sleep_forever()

    # ---- what the local server says is mirrored ------------------------------------------------
    def follow_snapshot(self) -> None:
        """Start loops for mirrors found on the server, stop those whose configuration is gone."""
        if self._nursery is None:
            return
        configured = {n.path: n.mirror for n in self.snapshot().nodes.values() if n.mirror}
        for path in list(self._scopes):
            if configured.get(path) != self.status[path].line:
                self._stop(path)
        for path, line in configured.items():
            if path not in self._scopes:
                self._start(path, line)

    def _start(self, path: str, line: str) -> None:
        status = MirrorStatus(path, line)
        self.status[path] = status
        scope = trio.CancelScope()
        self._scopes[path] = scope
        self._nursery.start_soon(self._follow, status, scope)

    def _stop(self, path: str) -> None:
        scope = self._scopes.pop(path, None)
        if scope is not None:
            scope.cancel()
        status = self.status.pop(path, None)
        if status is not None:
            status.stopped = True

    # ---- control-file writes -------------------------------------------------------------------
    async def write(self, path: str, text: str) -> None:
        """Accept a mirror line (or `off`) for the task at path; MirrorLineError if it cannot be."""
        if is_off(text):
            await self.clear(path)
            return
        try:
            spec = parse(text)
            resolve(spec, (await self.local.variables(path)).get)
        except MirrorLineError as e:
            self.reject(path, str(e))
            raise
        await self.local.set_mirror(path, spec.line())
        log.info("mirror %s: %s", path, spec.line())
        await self._follow_server()

    def reject(self, path: str, reason: str) -> None:
        """Remember and log why a write was refused (shown in .server/mirrors)."""
        self.rejected = (time.time(), path, reason)
        log.warning("mirror %s rejected: %s", path, reason)

    async def clear(self, path: str) -> None:
        await self.local.clear_mirror(path)
        log.info("mirror %s cleared", path)
        await self._follow_server()

    async def _follow_server(self) -> None:
        """Loops start and stop from what the server holds: a fresh view, then follow_snapshot.  (Refreshes
        are applied in the order they were asked for, so an older view can never undo this one.)"""
        await self.refresh_local()
        self.follow_snapshot()

    # ---- reading -------------------------------------------------------------------------------
    def render(self, path: str) -> bytes:
        status = self.status.get(path)
        if status is None:
            node = self.snapshot().node(path)
            status = MirrorStatus(path, node.mirror if node and node.mirror else "")
        return status.render()

    def render_all(self) -> bytes:
        lines = ["# PATH\tSTATUS\tREMOTE\tREMOTE_PATH\tREMOTE_STATE\tLAST_POLLED\tLAST_CHANGED\tLAST_ERROR"]
        lines += [self.status[p].row() for p in sorted(self.status)]
        if self.rejected:
            when, path, reason = self.rejected
            lines.append(f"# last rejected write: {iso(when)} {path}.mirror: {reason}")
        return ("\n".join(lines) + "\n").encode()

    # ---- one mirror ----------------------------------------------------------------------------
    async def _follow(self, status: MirrorStatus, scope: trio.CancelScope) -> None:
        with scope:
            delay = None
            while True:
                # a poll is bounded by the backends' timeouts: let it finish rather than cancel it
                # half-way, which would cost a worker restart; a stopped mirror then pushes nothing
                with trio.CancelScope(shield=True):
                    delay = await self._poll_once(status, delay)
                await trio.sleep(delay)

    async def _poll_once(self, status: MirrorStatus, delay: Optional[float]) -> float:
        """One poll and push; returns how long to wait before the next."""
        polling = float(status.resolved.polling) if status.resolved else 5.0
        try:
            if status.resolved is None:
                status.resolved = resolve(parse(status.line), (await self.local.variables(status.path)).get)
                polling = float(status.resolved.polling)
            remote = await self.remote_for(status.resolved).node_state(status.resolved.remote_path)
            status.last_polled = time.time()
            await self.refresh_local()
            if not status.stopped and await self._push(status.path, remote):
                status.last_changed = time.time()
            status.remote_state = remote["state"]  # shown once the local task follows it, not before
            status.status, status.last_error = "ok", ""
            return polling
        except Exception as e:  # whatever happens to one mirror must not stop the others or the mount
            if not isinstance(e, (ServerUnavailable, NotProvided, MirrorLineError)):
                log.exception("mirror %s: unexpected error", status.path)
            elif status.last_error != str(e):
                log.warning("mirror %s: %s", status.path, e)
            status.status, status.last_error = "error", str(e) or type(e).__name__
            return min(max(polling, (delay or polling) * 2), max(MAX_BACKOFF, polling))

    async def _push(self, path: str, remote: dict) -> bool:
        """Make the local task match the remote; only what differs is written.  True if anything was."""
        node = self.snapshot().node(path)
        if node is None:
            raise NotProvided(f"local task {path} no longer exists")
        pushed = False
        if node.state != remote["state"]:
            await self.local.set_state(path, remote["state"])
            pushed = True
        mine = node.values or {}
        changes = {}
        for kind in ("labels", "meters", "events"):
            ours, theirs = mine.get(kind, {}), remote.get(kind, {})
            changes[kind] = {k: v for k, v in theirs.items() if k in ours and ours[k] != v}
        if any(changes.values()):
            await self.local.set_values(path, changes["labels"], changes["meters"], changes["events"])
            pushed = True
        return pushed
