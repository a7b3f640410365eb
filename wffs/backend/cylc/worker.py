"""The Cylc 8 worker process: the only code that talks to a Cylc scheduler.

Cylc's client runs an asyncio loop over ZMQ; it runs here, in a process of its own per workflow, which the
mount talks to over a pipe (wffs.backend.protocol), times out and restarts (wffs.backend.worker), so that
it never runs inside the mount's trio loop and every call has a deadline.

A refresh (`sync`) costs one scheduler request when nothing changed (`workflows{lastUpdated}`) and two
when something did (then `pb_entire_workflow`: the whole data store in one protobuf).  Tasks that left
the scheduler's window come from the workflow database (database.py); job files are stat'ed on disk
(sync.py), and each task record carries `job_dir`, from which the mount (CylcBackend) reads job files
itself, so that a worker waiting for a stalled scheduler delays no read.

Run as `python -m wffs.backend.cylc.worker WORKFLOW_ID`.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys

from wffs.backend import protocol
from wffs.backend.cylc.session import CylcSession


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wffs.backend.cylc.worker")
    parser.add_argument("workflow")
    parser.add_argument("--max-file-size", type=int, default=64 << 20)
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds per scheduler request")
    args = parser.parse_args(argv)
    private = os.environ.get(protocol.PRIVATE_DIR_ENV)
    if private:
        atexit.register(shutil.rmtree, private, True)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything cylc prints goes to stderr, never into the protocol stream
    session = CylcSession(args.workflow, args.max_file_size, args.timeout, report=protocol.reporter(answers))
    protocol.serve(session, sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
