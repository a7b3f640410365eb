"""The ecFlow backend: the mount's side of an ecFlow worker process (see ecflow_worker)."""

from __future__ import annotations

from typing import Optional

from wffs.backend.worker import WorkerProcess

#: A first, full sync renders every node's .att: allow it longer than a single call.
FULL_SYNC_TIMEOUT = 60.0


class EcflowBackend:
    def __init__(self, host: str, port: int, *, timeout: float = 5.0, max_file_size: int = 64 << 20):
        self.name = f"{host}:{port}"
        self.host, self.port = host, port
        self.timeout = timeout
        self.worker = WorkerProcess("wffs.backend.ecflow_worker", [host, str(port), str(max_file_size)],
                                    timeout, self.name)
        self._synced_with = 0  # the worker start that the last delta came from

    async def changes(self) -> Optional[dict]:
        fresh = self._synced_with != self.worker.starts or self.worker.proc is None
        limit = max(FULL_SYNC_TIMEOUT, self.timeout) if fresh else self.timeout
        delta = await self.worker.call("sync", timeout=limit)
        self._synced_with = self.worker.starts
        return delta

    async def read(self, path: str, kind: str) -> bytes:
        return await self.worker.call("read", path, kind)

    async def server_file(self, name: str) -> bytes:
        return await self.worker.call("server_file", name)

    async def close(self) -> None:
        await self.worker.stop()
