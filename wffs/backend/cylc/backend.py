"""The Cylc 8 backend: the mount's side of a Cylc worker process (see worker.py).

Mounted as `wffs mount cylc://WORKFLOW_ID MNT`; the workflow is found as `cylc` finds it
(~/cylc-run/WORKFLOW_ID, the contact file there names the scheduler's host and port).
"""

from __future__ import annotations

import inspect

import trio

from wffs.backend import capped
from wffs.backend.base import MirrorLineError, NotProvided, ServerUnavailable
from wffs.backend.cylc.reads import job_file
from wffs.backend.worker import WorkerBackend, WorkerProcess

SCHEME = "cylc://"
#: The worker's module, run as `python -m`.
WORKER = "wffs.backend.cylc.worker"


def workflow_of(target: str) -> str:
    """'my/flow' for 'cylc://my/flow'; ValueError for anything else."""
    if not target.startswith(SCHEME):
        raise ValueError(target)
    workflow = target[len(SCHEME):].strip("/")
    if not workflow or ".." in workflow.split("/") or any(c.isspace() for c in workflow):
        raise ValueError(target)
    return workflow


#: trio 0.22 (Debian) says cancellable, later ones abandon_on_cancel.
_ABANDON = ({"abandon_on_cancel": True} if "abandon_on_cancel" in inspect.signature(trio.to_thread.run_sync).parameters
            else {"cancellable": True})
#: Kinds that are files of a job directory (the rest, why and def, come from the worker).
NODE_TEXTS = ("why", "def")


class CylcBackend(WorkerBackend):
    #: job files are read from the run directory here, not through the scheduler (see ServerStatus.ask)
    reads_job_files_from_disk = True

    def __init__(self, workflow: str, *, timeout: float = 5.0, max_file_size: int = 64 << 20):
        self.workflow = workflow
        self.name = SCHEME + workflow
        self.timeout = timeout
        # each scheduler request must end well within the worker's deadline (a sync makes two)
        request_timeout = max(0.5, min(timeout / 2.5, 10.0))
        args = [workflow, "--max-file-size", str(max_file_size), "--timeout", f"{request_timeout:g}"]
        self.worker = WorkerProcess(WORKER, args, timeout, self.name)
        self.max_file_size = max_file_size
        #: task path -> (its job directory, latest submit number), from the records: job files are read
        #: from disk here, so that a stalled scheduler (which stalls the worker) stalls no read
        self.job_dirs: dict = {}
        #: a read given up at its deadline leaves its thread blocked on the disk: a few at most
        self._readers = trio.CapacityLimiter(4)

    async def changes(self):
        delta = await self._syncing_call("sync")
        if delta is not None:
            if delta["full"]:
                self.job_dirs = {}
            for rec in delta["records"]:
                if "job_dir" in rec:
                    self.job_dirs[rec["path"]] = rec["job_dir"]
            for path in delta["removed"]:
                self.job_dirs.pop(path, None)
        return delta

    async def read(self, path: str, kind: str) -> bytes:
        where = self.job_dirs.get(path)
        try:
            if where is None:
                raise ValueError(path)
            file = job_file(where[0], where[1], kind)
        except ValueError:
            raise NotProvided(f"{path}: no {kind} file") from None
        with trio.move_on_after(self.timeout):
            try:
                return await trio.to_thread.run_sync(capped.read_capped, file, self.max_file_size,
                                                     limiter=self._readers, **_ABANDON)
            except capped.Missing as e:
                raise NotProvided(str(e)) from None
        raise ServerUnavailable(f"{self.name}: reading {file} took longer than {self.timeout:g} s")

    async def read_many(self, items: list) -> dict:
        found = {}
        texts = [item for item in items if item[1] in NODE_TEXTS]
        with trio.move_on_after(max(self.timeout, self.BATCH_TIMEOUT)):
            for path, kind in items:
                if kind not in NODE_TEXTS:
                    try:
                        found[(path, kind)] = await self.read(path, kind)
                    except (NotProvided, ServerUnavailable):
                        continue
        if texts:
            try:
                found.update(await self.worker.call("read_many", texts, patience=self.BATCH_TIMEOUT))
            except (NotProvided, ServerUnavailable):
                pass
        return found

    # ---- a Cylc task cannot be mirrored (mirrors drive ecFlow tasks): a .mirror write gets EINVAL -------
    async def variables(self, path: str) -> dict:
        raise MirrorLineError("a Cylc task cannot follow a mirror (only ecFlow tasks can)")

    async def clear_mirror(self, path: str) -> None:
        raise MirrorLineError("a Cylc task has no mirror")
