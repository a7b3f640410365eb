"""Reading a task's files: from this machine where they are the server's, else from the server, exactly
(on the wire, or through the binding and checked whole) or not at all; one at a time or in batches, and
for the mount's extra readers of a server whose files are not here.  Part of EcflowSession (see
session.py), whose attributes it uses."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import ecflow

from wffs.backend.capped import read_capped, read_head, truncate
from wffs.backend.ecflow import cut_check, script as ecf_script, wire as ecflow_wire
from wffs.backend.ecflow.connection import one_line
from wffs.backend.protocol import Inexact, Missing, Unavailable

#: ecflow_client's --file default is 10000 lines and keeps the END of longer files: ask for all of it.
ALL_LINES = "100000000"
FILE_TYPES = {"ecf": "script", "job": "job", "out": "jobout", "man": "manual"}
#: Variables with which the server runs a command for a script: its manual is the server's to tell.
SCRIPT_BY_COMMAND = ("ECF_FETCH", "ECF_SCRIPT_CMD")


class FileReads:
    """Task files for the mount (op_read, op_read_many) and for its extra readers (op_fetch_many)."""

    def op_read(self, path: str, kind: str) -> bytes:
        return self.read(path, kind)

    def read(self, path: str, kind: str) -> bytes:
        known = self.local_paths.get(path) if self.local_files else None
        if known is not None and kind in known:
            local = known[kind]  # found at the node's last record: no lookup
        else:
            local = self.local_path(self.known_node(path), kind)
        if local and not os.access(local, os.R_OK) and os.path.exists(local):
            local = ""  # there, but not for us: the server sends it
        if local and kind != "man":
            return read_capped(local, self.max_file_size)
        if local:  # the manual, from the script's head
            try:
                script, _size = read_head(local, self.max_file_size)
            except OSError as e:
                raise Missing(f"{local}: {e.strerror}") from None
            manual = self.local_manual(self.known_node(path), local, script)
            if manual is not None:
                return truncate(manual, self.max_file_size)
        return truncate(self.server_bytes(path, FILE_TYPES[kind]), self.max_file_size)

    def server_bytes(self, path: str, file_type: str) -> bytes:
        """A file as the server sends it: exact, or Inexact."""
        if self.wire:
            try:
                return self.wire_bytes(path, file_type)
            except ecflow_wire.NotSpoken as e:
                self.wire = False
                print(f"wffs: {self.host}:{self.port}: file requests through the binding from now on: {e}",
                      file=sys.stderr, flush=True)
        return self.checked_bytes(path, file_type)

    #: Seconds a file request on the wire may wait for the server (the mount's --timeout ends it sooner).
    WIRE_TIMEOUT = 60.0

    def wire_bytes(self, path: str, file_type: str) -> bytes:
        try:
            return ecflow_wire.fetch(self.host, self.port, path, file_type, max_lines=int(ALL_LINES),
                                     user=self.login, timeout=self.WIRE_TIMEOUT)
        except ecflow_wire.ServerRefused as e:
            if "authentication failed" in str(e):
                raise Unavailable(one_line(str(e))) from None
            raise Missing(one_line(str(e))) from None
        except OSError as e:
            if isinstance(e, ConnectionError):  # down, or restarted (as call() takes it)
                self.forget_definition()
            raise Unavailable(f"{self.host}:{self.port}: {e.strerror or e}") from None

    def checked_bytes(self, path: str, file_type: str) -> bytes:
        """A file through the binding, checked to be whole (see cut_check): Inexact if it is not."""
        data = self.server_reply(path, file_type, ALL_LINES)
        lines = cut_check.probe_lines(data)
        if not cut_check.came_whole(data, self.server_reply(path, file_type, str(lines))):
            raise Inexact(f"{path} {file_type}: the server sends it cut short ({len(data)} bytes, then a "
                          f"different end): it holds a NUL byte, which ecFlow's file request cannot carry")
        return data

    def server_reply(self, path: str, file_type: str, lines: str) -> bytes:
        """The server's answer to a file request.  The binding decodes it as UTF-8 and fails on other bytes;
        the command-line client keeps them (and appends a newline)."""
        try:
            return self.call(self.client.get_file, path, file_type, lines).encode("utf-8", "surrogateescape")
        except UnicodeDecodeError:
            data = self.client_command(f"--file={path}", file_type, lines)
            return data[:-1] if data.endswith(b"\n") else data

    #: A batch answer stops growing past this many bytes: the rest is read one file at a time.
    BATCH_BYTES = 32 << 20

    def op_read_many(self, items) -> dict:
        """Several files or node texts at once ({(path, kind): bytes}): what a listing needs, in one round trip.
        Files that cannot be read are left out; the caller asks for them one by one."""
        def one(path, kind):
            data = self.op_node_text(path, kind) if kind in self.NODE_TEXTS else self.read(path, kind)
            return {(path, kind): data}

        return self.batch(items, one, (Missing, Unavailable, Inexact))

    def op_fetch_many(self, items, micros: Optional[dict] = None) -> dict:
        """Files straight from the server, for a server whose files are not on this machine: what one of the
        mount's extra readers does (it keeps no definition).  `micros`: {task path: ECF_MICRO} of the tasks
        whose manual may be taken from their script (op_manual_micros): a script asked for with its
        manual is one request for both where the script alone tells the manual.  Files the server has
        none of, or cannot send exactly, are left out (asked for one by one, they fail as they should); a
        server that does not answer fails the call.  On the wire, IN_FLIGHT requests at once."""
        micros = micros or {}
        wanted = set(items)

        def paired(path):
            return path in micros and (path, "ecf") in wanted and (path, "man") in wanted

        def one(path, kind):
            if kind == "man" and paired(path):
                return {}  # read with its script (below)
            data = truncate(self.server_bytes(path, FILE_TYPES[kind]), self.max_file_size)
            if kind == "ecf" and paired(path):
                manual = self.manual_from_script(data, micros[path])
                if manual is None:
                    manual = truncate(self.server_bytes(path, "manual"), self.max_file_size)
                return {(path, "ecf"): data, (path, "man"): manual}
            return {(path, kind): data}

        return self.batch(items, one, (Missing, Inexact), in_flight=self.IN_FLIGHT if self.wire else 1)

    #: Requests on the wire that one reader has in flight.
    IN_FLIGHT = 16

    def manual_from_script(self, script: bytes, micro: str) -> Optional[bytes]:
        """A task's manual taken from its script as the server sent it, or None if only the server can tell
        (an include, another micro character, a variable in the manual)."""
        parsed = ecf_script.parse(script) if micro == "%" else None
        if parsed is None or parsed[1]:
            return None
        return truncate(parsed[0], self.max_file_size)

    def op_manual_micros(self, paths) -> dict:
        """{path: ECF_MICRO} of the tasks among `paths` whose manual the server takes from their script file
        (no ECF_FETCH, no ECF_SCRIPT_CMD): op_fetch_many may then take it from the script."""
        defs = self.client.get_defs() if self.synced else None
        found = {}
        for path in paths:
            node = defs.find_abs_node(path) if defs is not None else None
            if not isinstance(node, ecflow.Task):
                continue
            if any(not node.find_parent_variable(v).empty() for v in SCRIPT_BY_COMMAND):
                continue
            found[path] = node.find_parent_variable_sub_value("ECF_MICRO") or "%"
        return found

    def batch(self, items, read_one, left_out, in_flight: int = 1) -> dict:
        """{(path, kind): bytes}: what read_one(path, kind) returns for the items ({item: bytes, ...}), less
        those whose read raises one of `left_out`, up to BATCH_BYTES.  The first file read is reported:
        the batch may then take longer than one call (a hung server answers none).  `in_flight` reads at
        once, in threads (for reads that wait on a socket: the binding holds the GIL)."""
        out, total = {}, 0

        def attempt(item):
            try:
                return read_one(*item)
            except left_out:
                return {}

        pool = ThreadPoolExecutor(in_flight) if in_flight > 1 else None
        results = pool.map(attempt, items) if pool else map(attempt, items)
        try:
            for found in results:
                if found and not out:
                    first = next(iter(found))
                    self.report(f"read {first[0]} {first[1]}; {len(items) - 1} more to read")
                out.update(found)
                total += sum(len(data) for data in found.values())
                if total > self.BATCH_BYTES:
                    break
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
        return out
