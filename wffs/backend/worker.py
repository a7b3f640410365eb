"""A backend worker process seen from the mount: async calls with a deadline, restart after a hang.

A server call that does not answer in time kills the worker (the only way to stop a call that holds its
GIL) and raises ServerUnavailable; the next call starts a fresh worker.  Calls are answered one at a time;
a caller that cannot even get its turn in time gets ServerUnavailable too, without killing anything.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Optional, Sequence

import trio

from wffs.backend import protocol
from wffs.backend.base import NotProvided, ServerUnavailable

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

    async def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self.frames = protocol.FrameBuffer()
        self.proc = await trio.lowlevel.open_process(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        self.starts += 1
        log.debug("%s: worker %s started", self.label, self.proc.pid)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with trio.CancelScope(shield=True):  # a caller's deadline must not skip the kill
            with trio.move_on_after(1):
                await proc.stdin.aclose()
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                with trio.move_on_after(2):
                    await proc.wait()

    async def call(self, op: str, *args, timeout: Optional[float] = None):
        limit = timeout if timeout is not None else self.timeout
        with trio.move_on_after(limit) as waiting:
            await self.lock.acquire()
        if waiting.cancelled_caught:
            raise ServerUnavailable(f"{self.label}: busy with a call that has not returned yet")
        try:
            return await self._call_locked(op, args, limit)
        finally:
            self.lock.release()

    async def _call_locked(self, op, args, limit):
        if self.proc is None:
            await self._start()
        answer = None
        try:
            with trio.move_on_after(limit):
                await self.proc.stdin.send_all(protocol.encode((op, args)))
                answer = await self._receive()
        except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError):
            await self.stop()
            raise ServerUnavailable(f"{self.label}: worker died during {op}") from None
        except BaseException:  # cancelled from outside: its late answer must not answer the next call
            self._abandon()
            raise
        if answer is None:
            log.warning("%s: %s got no answer in %.1f s; restarting its worker", self.label, op, limit)
            await self.stop()
            raise ServerUnavailable(f"{self.label}: no answer in {limit:g} s")
        status, *rest = answer
        if status == "ok":
            return rest[0]
        kind, text = rest
        if kind == "missing":
            raise NotProvided(text)
        if kind == "bug":
            log.error("%s: worker error in %s: %s", self.label, op, text)
        raise ServerUnavailable(f"{self.label}: {text}")

    def _abandon(self) -> None:
        """Forget a worker whose pipe holds a request without its answer (kill it without waiting)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            trio.lowlevel.spawn_system_task(proc.wait)  # reap it
    async def _receive(self):
        while True:
            try:
                return self.frames.pop()
            except LookupError:
                pass
            data = await self.proc.stdout.receive_some(1 << 20)
            if not data:
                raise EOFError
            self.frames.feed(data)
