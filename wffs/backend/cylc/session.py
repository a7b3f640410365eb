"""One Cylc workflow as the worker holds it.  Its jobs live in the classes it is made of, one module each
(the scheduler, the database, the tree and its deltas, reads); the state they share is set up here."""

from __future__ import annotations

import os
from typing import Callable, Optional

from wffs.backend.cylc.database import RunDatabase
from wffs.backend.cylc.reads import WorkflowReads
from wffs.backend.cylc.scheduler import Scheduler
from wffs.backend.cylc.sync import WorkflowSync


def run_dir_of(workflow: str) -> str:
    return os.path.join(os.path.expanduser("~"), "cylc-run", workflow)


class CylcSession(WorkflowSync, RunDatabase, Scheduler, WorkflowReads):
    """The scheduler's last snapshot, the database, and what the last delta reported (answers
    protocol.serve's requests with its op_* methods)."""

    def __init__(self, workflow: str, max_file_size: int, timeout: float,
                 report: Callable[[str], None] = lambda text: None):
        self.workflow = workflow
        self.report = report  # how a first sync says it is under way (protocol.reporter)
        self.run_dir = run_dir_of(workflow)
        self.max_file_size = max_file_size
        self.timeout = timeout
        self.client = None
        self.last_updated: Optional[float] = None
        self.pb = None  # the last PbEntireWorkflow
        self.status = "unknown"
        self.db_sig = None
        self.db_tasks: dict = {}  # (cycle, name) -> CylcTask from the database
        self.first_parent: dict = {}  # namespace -> first parent (from the scheduler, else the db)
        self.observed: dict = {}  # (cycle, name) -> ((state, held), time of the last change seen)
        self.file_cache: dict = {}  # (cycle, name, submits, state) -> files, for tasks that are done
        self.sent: dict = {}
        self.paths: dict = {}  # task path -> CylcTask
        self.live: dict = {}  # what live_files() found at the last delta
        self.version = ""
        self.synced = False
