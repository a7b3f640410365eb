"""A backend worker process seen from the mount: async calls with a deadline, restart after a hang.

A server call that does not answer in time kills the worker (the only way to stop a call that holds its
GIL) and raises ServerUnavailable; the next call starts a fresh worker.  In time is the mount's --timeout,
or a call's own `patience` once its worker has reported that the server answered (a big first sync, a
batch of reads): a slow server may take longer, a hung one never holds the worker past --timeout.  Calls
are answered one at a time; a caller that cannot even get its turn in time gets ServerUnavailable too,
without killing anything.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Optional, Sequence

import trio

from wffs.backend import protocol
from wffs.backend.protocol import PRIVATE_DIR_ENV
from wffs.backend.base import ContentInexact, NotProvided, ServerUnavailable, WorkerBusy

log = logging.getLogger(__name__)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class WorkerProcess:
    def __init__(self, module: str, args: Sequence[str], timeout: float, label: str):
        self.argv = [sys.executable, "-m", module, *args]
        self.timeout = timeout
        self.label = label
        self.proc: Optional[trio.Process] = None
        self.frames = protocol.FrameBuffer()
        self.lock = trio.Lock()
        self.starts = 0
        self.private_dir = ""
        self.heard: Optional[str] = None  # what the worker last reported of the call in progress
        self.unanswered = (float("-inf"), "")  # (when, why) the last call that got no answer failed

    async def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        # private files of this worker (e.g. a password file): removed by us even if it is killed
        self.private_dir = tempfile.mkdtemp(prefix="wffs-worker-")
        env[PRIVATE_DIR_ENV] = self.private_dir
        self.frames = protocol.FrameBuffer()
        self.proc = await trio.lowlevel.open_process(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.starts += 1
        log.debug("%s: worker %s started", self.label, self.proc.pid)

    async def stop(self, at_once: bool = False) -> None:
        """End the worker: asked to (its stdin closed), killed if it does not end within 1 s; `at_once`:
        killed without asking (a worker stuck in a server call would not end in that second anyway)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with trio.CancelScope(shield=True):  # a caller's deadline must not skip the kill
            with trio.move_on_after(0 if at_once else 1):
                await proc.stdin.aclose()
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                with trio.move_on_after(2):
                    await proc.wait()
        shutil.rmtree(self.private_dir, ignore_errors=True)

    async def call(self, op: str, *args, timeout: Optional[float] = None, patience: Optional[float] = None):
        """The worker's answer to op(*args) within `timeout` (default --timeout), or, once the worker has
        reported that the server answered, within `patience` seconds of the call's start."""
        limit = timeout if timeout is not None else self.timeout
        queued = trio.current_time()
        with trio.move_on_after(limit) as waiting:
            await self.lock.acquire()
        if waiting.cancelled_caught:
            raise WorkerBusy(f"{self.label}: busy with a call that has not returned yet")
        started = trio.current_time()
        try:
            if self.unanswered[0] >= queued:  # the server is hung: the calls that waited behind it fail too
                raise ServerUnavailable(self.unanswered[1])
            return await self._call_locked(op, args, limit, max(limit, patience or 0))
        finally:
            self.heard = None
            self.lock.release()
            log.debug("%s: %s took %.3f s", self.label, op, trio.current_time() - started)

    async def _call_locked(self, op, args, limit, patient_limit):
        if self.proc is None:
            await self._start()
        answer = None
        # Shielded, with a deadline of its own: a caller cancelled from outside lets the call finish (or
        # time out) first, so that no answer is ever left in the pipe for the next call to read.
        with trio.CancelScope(shield=True) as scope:
            started = trio.current_time()
            scope.deadline = started + limit
            try:
                await self.proc.stdin.send_all(protocol.encode((op, args)))
                answer = await self._receive(lambda: setattr(scope, "deadline", started + patient_limit))
            except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
                await self.stop()
                raise ServerUnavailable(f"{self.label}: worker died during {op}") from None
        if answer is None:
            waited = patient_limit if self.heard is not None else limit
            log.warning("%s: %s got no answer in %.1f s; restarting its worker", self.label, op, waited)
            self.unanswered = (trio.current_time(), f"{self.label}: no answer in {waited:g} s")
            await self.stop(at_once=True)
            raise ServerUnavailable(self.unanswered[1])
        status, *rest = answer
        if status == "ok":
            return rest[0]
        kind, text = rest
        if kind == "missing":
            raise NotProvided(text)
        if kind == "inexact":
            raise ContentInexact(f"{self.label}: {text}")
        if kind == "bug":
            log.error("%s: worker error in %s: %s", self.label, op, text)
        raise ServerUnavailable(f"{self.label}: {text}")

    @property
    def server_answered(self) -> bool:
        """A call is in progress and its worker has reported that the server answered it: the server is
        slow (a big first sync), not hung."""
        return self.heard is not None

    async def _receive(self, on_progress):
        """The call's answer; what the worker reports before it is kept in self.heard (and on_progress())."""
        while True:
            try:
                message = self.frames.pop()
            except LookupError:
                data = await self.proc.stdout.receive_some(1 << 20)
                if not data:
                    raise EOFError
                self.frames.feed(data)
                continue
            if message[0] != protocol.PROGRESS:
                return message
            self.heard = message[1]
            on_progress()
            log.debug("%s: %s", self.label, self.heard)


class WorkerBackend:
    """What the backends that run their server's client in a WorkerProcess (`self.worker`) share."""

    #: A first, full sync reads the whole server: allow it longer than a single call.
    FULL_SYNC_TIMEOUT = 60.0
    worker: WorkerProcess

    #: A batch of reads (a directory's scripts and outputs) that the server is answering: what it may take.
    BATCH_TIMEOUT = 30.0

    async def _syncing_call(self, op: str, *args):
        """A call that brings the worker's copy of the server in step: a full download (the first one) is
        reported by the worker once the server answered, and may then take FULL_SYNC_TIMEOUT."""
        return await self.worker.call(op, *args, patience=self.FULL_SYNC_TIMEOUT)

    async def changes(self) -> Optional[dict]:
        return await self._syncing_call("sync")

    async def node_text(self, path: str, kind: str) -> bytes:
        return await self.worker.call("node_text", path, kind)

    async def server_file(self, name: str) -> bytes:
        return await self.worker.call("server_file", name)

    async def node_state(self, path: str) -> dict:
        """The state of a node, as a mirror's remote: brought in step first."""
        return await self._syncing_call("node_state", path)

    def server_answered(self) -> bool:
        return self.worker.server_answered

    async def close(self) -> None:
        await self.worker.stop()
