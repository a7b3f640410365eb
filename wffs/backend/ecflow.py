"""The ecFlow backend: the mount's side of an ecFlow worker process (see ecflow_worker)."""

from __future__ import annotations

from typing import Optional

from wffs.backend.worker import WorkerBackend, WorkerProcess

class EcflowBackend(WorkerBackend):
    def __init__(self, host: str, port: int, *, timeout: float = 5.0, max_file_size: int = 64 << 20,
                 ssl: bool = False, user: Optional[str] = None, auth: Optional[str] = None,
                 files: str = "auto"):
        self.name = f"{host}:{port}"
        self.host, self.port = host, port
        self.timeout = timeout
        args = [host, str(port), "--max-file-size", str(max_file_size), "--files", files]
        if ssl:
            args.append("--ssl")
        if user:
            args += ["--user", user]
        if auth:
            args += ["--auth", auth]  # a path: the worker reads the password, nobody else sees it
        self.worker = WorkerProcess("wffs.backend.ecflow_worker", args, timeout, self.name)

    async def read(self, path: str, kind: str) -> bytes:
        return await self.worker.call("read", path, kind)

    async def read_many(self, items: list) -> dict:
        return await self.worker.call("read_many", items, patience=self.BATCH_TIMEOUT)

    # ---- what a mirror needs: the remote's node, and the few writes on the local server -------------
    async def variables(self, path: str) -> dict:
        return await self.worker.call("variables", path)

    async def set_mirror(self, path: str, line: str) -> None:
        await self.worker.call("set_mirror", path, line)

    async def clear_mirror(self, path: str) -> None:
        await self.worker.call("clear_mirror", path)

    async def set_state(self, path: str, state: str) -> None:
        await self.worker.call("set_state", path, state)

    async def set_values(self, path: str, labels: dict, meters: dict, events: dict) -> None:
        await self.worker.call("set_values", path, labels, meters, events)
