"""The ecFlow backend: the mount's side of an ecFlow worker process (see worker.py)."""

from __future__ import annotations

from typing import Optional

import trio

from wffs.backend.base import TASK_FILE_KINDS, ServerUnavailable
from wffs.backend.worker import WorkerBackend, WorkerProcess

#: The worker's module, run as `python -m`.
WORKER = "wffs.backend.ecflow.worker"


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
        self.worker = WorkerProcess(WORKER, args, timeout, self.name)
        self.files_local = True  # as the worker's last delta said
        self.readers = [WorkerProcess(WORKER, args, timeout, f"{self.name} reader {i + 1}")
                        for i in range(self.READERS)]

    #: The files of a server that are not on this machine are read by this many extra workers, started
    #: when first needed, each with several requests in flight (FileReads.IN_FLIGHT in reads.py).
    READERS = 4

    async def changes(self) -> Optional[dict]:
        delta = await super().changes()
        if delta is not None:
            self.files_local = delta["server"].get("files_local", True)
        return delta

    async def read(self, path: str, kind: str) -> bytes:
        return await self.worker.call("read", path, kind)

    async def read_many(self, items: list) -> dict:
        files = [item for item in items if item[1] in TASK_FILE_KINDS]
        if self.files_local or len(files) < 2:
            return await self.worker.call("read_many", items, patience=self.BATCH_TIMEOUT)
        texts = [item for item in items if item[1] not in TASK_FILE_KINDS]
        found = {}
        manuals = {path for path, kind in files if kind == "man"}
        micros = {}
        if manuals:
            try:
                micros = await self.worker.call("manual_micros", sorted(manuals))
            except ServerUnavailable:
                pass  # then every manual is asked for on its own
        per_path = {}  # a task's files go to one reader, which can then take a manual from the script
        for path, kind in files:
            per_path.setdefault(path, []).append((path, kind))
        shares = [[] for _ in self.readers]
        for i, task_files in enumerate(per_path.values()):
            shares[i % len(shares)].extend(task_files)

        async def ask(worker, op, *args):
            try:
                found.update(await worker.call(op, *args, patience=self.BATCH_TIMEOUT))
            except ServerUnavailable:
                pass  # left out: each is then asked for on its own, and fails with its own error

        async with trio.open_nursery() as nursery:
            for reader, share in zip(self.readers, shares):
                if share:
                    nursery.start_soon(ask, reader, "fetch_many", share, {p: micros[p] for p, _ in share
                                                                           if p in micros})
            if texts:
                nursery.start_soon(ask, self.worker, "read_many", texts)
        return found

    async def close(self) -> None:
        await super().close()
        for reader in self.readers:
            await reader.stop()

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
