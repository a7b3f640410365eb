"""Texts the server makes: a node's `why` and `def`, and the server-level files (stats, zombies,
suites.def, log).  Part of EcflowSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import os
import sys
import tempfile

from wffs.backend.ecflow import why as ecflow_why
from wffs.backend.protocol import Missing


class ServerTexts:
    """Node texts (op_node_text) and server files (op_server_file)."""

    NODE_TEXTS = ("why", "def")

    def op_node_text(self, path: str, kind: str) -> bytes:
        """`why` (the server's explanation of why a node is not running) or `def` (a subtree's definition)."""
        node = self.known_node(path)
        if kind == "why":
            return ecflow_why.why(self.client.get_defs(), node)
        if kind == "def":
            return str(node).encode("utf-8", "surrogateescape")
        raise Missing(f"no {kind} text for nodes")

    def op_server_file(self, name: str) -> bytes:
        if name == "stats":
            return self.captured_stdout(self.client.stats)
        if name == "zombies":  # the binding's zombie_get is awkward; the CLI prints a readable table
            return self.client_command("--zombie_get")
        if name == "suites.def":
            self.sync()
            return self.definition_text()
        if name == "log":
            return self.log_tail()
        raise Missing(f"no server file {name}")

    def definition_text(self) -> bytes:
        """The definition as `ecflow_client --get` prints it.  The server does not send its externs to
        clients; without them the text does not load back (a trigger or inlimit on a node that is not
        there), so they are worked out from the references, as the server itself does at --load."""
        defs = self.client.get_defs()
        defs.auto_add_externs(True)
        return str(defs).encode("utf-8", "surrogateescape")

    LOG_LINES = 10000

    def log_tail(self) -> bytes:
        text = self.call(self.client.get_log, self.LOG_LINES)
        head = (f"# wffs: the last {self.LOG_LINES} lines of the server log at most "
                f"(ecflow_client --log=get {self.LOG_LINES})\n")
        return head.encode() + text.encode("utf-8", "surrogateescape")

    def captured_stdout(self, fn) -> bytes:
        """Some client calls print instead of returning: catch what they write to fd 1."""
        sys.stdout.flush()
        saved = os.dup(1)
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 1)
            try:
                self.call(fn)
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
            tmp.seek(0)
            return tmp.read()
