"""The ecFlow backend: the mount's side of an ecFlow worker process (see ecflow_worker)."""

from __future__ import annotations

from typing import Optional

from wffs.backend.worker import WorkerProcess

#: A first, full sync renders every node's .att: allow it longer than a single call.
FULL_SYNC_TIMEOUT = 60.0


class EcflowBackend:
    def __init__(self, host: str, port: int, *, timeout: float = 5.0, max_file_size: int = 64 << 20,
                 ssl: bool = False, user: Optional[str] = None, auth: Optional[str] = None):
        self.name = f"{host}:{port}"
        self.host, self.port = host, port
        self.timeout = timeout
        args = [host, str(port), "--max-file-size", str(max_file_size)]
        if ssl:
            args.append("--ssl")
        if user:
            args += ["--user", user]
        if auth:
            args += ["--auth", auth]  # a path: the worker reads the password, nobody else sees it
        self.worker = WorkerProcess("wffs.backend.ecflow_worker", args, timeout, self.name)
        self._synced_with = 0  # the worker start that the last delta came from

    async def changes(self) -> Optional[dict]:
        return await self._syncing_call("sync")

    async def _syncing_call(self, op: str, *args):
        """A call that syncs the worker's definition: the first one after a (re)start downloads all of it."""
        fresh = self._synced_with != self.worker.starts or self.worker.proc is None
        limit = max(FULL_SYNC_TIMEOUT, self.timeout) if fresh else self.timeout
        result = await self.worker.call(op, *args, timeout=limit)
        self._synced_with = self.worker.starts
        return result

    async def read(self, path: str, kind: str) -> bytes:
        return await self.worker.call("read", path, kind)

    async def read_many(self, items: list) -> dict:
        return await self.worker.call("read_many", items, timeout=max(self.timeout, 30.0))

    async def node_text(self, path: str, kind: str) -> bytes:
        return await self.worker.call("node_text", path, kind)

    async def server_file(self, name: str) -> bytes:
        return await self.worker.call("server_file", name)

    # ---- what a mirror needs: the remote's node, and the few writes on the local server -------------
    async def node_state(self, path: str) -> dict:
        return await self._syncing_call("node_state", path)

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

    async def close(self) -> None:
        await self.worker.stop()
