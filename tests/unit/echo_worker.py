"""A stand-in backend worker for WorkerProcess tests: the ecflow worker's stdin/stdout framing, toy ops.

Run as `python -m tests.unit.echo_worker`.  Requests are (op, args); answers ('ok', value) or
('err', kind, text), as wffs.backend.protocol.serve() sends them.

    echo X        -> X
    pid           -> this process's id
    sleep N       -> N, after N seconds (returns early, without answering, when stdin closes)
    stuck N       -> sleeps N seconds ignoring everything (a call that holds the GIL in a binding)
    crash         -> exits at once without answering
    raise K T     -> ('err', K, T)
    mute N        -> closes its answer pipe, then sleeps N seconds ignoring stdin (dead but lingering)
    report T N    -> N, after reporting T (protocol.reporter) and sleeping N seconds (a slow server's sync)
"""

from __future__ import annotations

import os
import select
import sys
import time

from wffs.backend import protocol


def main() -> int:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        message = protocol.read_message(requests)
        if message is None:
            return 0
        op, args = message
        if op == "echo":
            answer = ("ok", args[0])
        elif op == "pid":
            answer = ("ok", os.getpid())
        elif op == "sleep":
            readable, _, _ = select.select([requests], [], [], args[0])
            if readable:  # stdin closed (or another request): we were given up on
                return 0
            answer = ("ok", args[0])
        elif op == "stuck":
            time.sleep(args[0])
            answer = ("ok", args[0])
        elif op == "report":
            protocol.reporter(answers)(args[0])
            time.sleep(args[1])
            answer = ("ok", args[1])
        elif op == "crash":
            os._exit(3)
        elif op == "raise":
            answer = ("err", args[0], args[1])
        elif op == "mute":
            os.close(1)  # the answer pipe's only descriptor here
            time.sleep(args[0])
            return 0
        else:
            answer = ("err", "bug", f"unknown op {op}")
        answers.write(protocol.encode(answer))
        answers.flush()


if __name__ == "__main__":
    sys.exit(main())
