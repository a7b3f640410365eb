"""The ecFlow worker process: the only code that calls the `ecflow` binding.

The binding holds the GIL for a whole server call (a stalled server froze every thread), so it runs
here, in a process of its own per server, which the mount talks to over a pipe, times out and restarts.
It keeps one copy of the definition in step and answers with compact deltas (see session.py).

Run as `python -m wffs.backend.ecflow.worker HOST PORT`; requests and answers are framed by
wffs.backend.protocol on stdin/stdout.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys

from wffs.backend import protocol
from wffs.backend.ecflow import local_proof
from wffs.backend.ecflow.script_manuals import default_file
from wffs.backend.ecflow.session import EcflowSession


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wffs.backend.ecflow.worker")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--max-file-size", type=int, default=64 << 20)
    parser.add_argument("--ssl", action="store_true")
    parser.add_argument("--user", help="the user name to connect as")
    parser.add_argument("--auth", help="JSON file with user and password")
    parser.add_argument("--files", choices=local_proof.MODES, default="auto",
                        help="where .ecf/.job/.out/.man come from: the disk here, the server, or decided by proof")
    parser.add_argument("--script-manuals", default=default_file(),
                        help="file that keeps what each script says of its manual between mounts ('': none)")
    args = parser.parse_args(argv)
    private = os.environ.get(protocol.PRIVATE_DIR_ENV)
    if private:  # the mount removes it too, unless the mount itself was killed
        atexit.register(shutil.rmtree, private, True)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the binding prints goes to stderr, never into the protocol stream
    session = EcflowSession(args.host, args.port, args.max_file_size, ssl=args.ssl, auth=args.auth,
                            script_manuals=args.script_manuals or None, files=args.files,
                            report=protocol.reporter(answers))
    if args.user:
        session.client.set_user_name(args.user)
        session.wire = False
    protocol.serve(session, sys.stdin.buffer, answers)
    session.manuals.save()  # the mount closed the pipe: what the last delta learnt
    return 0


if __name__ == "__main__":
    sys.exit(main())
