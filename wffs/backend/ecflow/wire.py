"""ecFlow's file request spoken on the wire: the bytes exactly as the server sent them, in one request.

The server sends a file whole (NUL bytes and all, in its JSON reply), but the binding and ecflow_client
decode that reply with cereal, which cuts a string at its first NUL, silently.  Speaking the request
here keeps every byte, and needs no second request to check for a cut (cut_check).

Spoken: ecFlow 5's protocol without SSL and without a custom user (no password): a connection per
request, an 8-character hexadecimal length, then the command as cereal's JSON; the reply framed alike.
Anything else, or a reply that is not the shape expected, is `NotSpoken`: the caller uses the binding.
"""

from __future__ import annotations

import json
import socket
from typing import Optional

#: CFileCmd's file kinds, in the order of its enum (ECF, JOB, JOBOUT, MANUAL, KILL, STAT).
FILE_CODES = {"script": 0, "job": 1, "jobout": 2, "manual": 3}

HEADER = 8  # characters of the hexadecimal length before each message


class NotSpoken(Exception):
    """The server answered in a form this module does not read: ask through the binding instead."""


class ServerRefused(Exception):
    """The server's own error message (no such node, no such file, ...)."""


def request(path: str, file_type: str, max_lines: int, user: str, client_host: str) -> bytes:
    """One framed CFileCmd, as ecflow_client 5 sends it."""
    user_cmd = {"cereal_class_version": 0,
                "value0": {"cereal_class_version": 0, "value0": {"cereal_class_version": 0,
                                                                 "cl_host_": client_host},
                           "user_": user},
                "file_": FILE_CODES[file_type], "pathToNode_": path, "max_lines_": max_lines}
    message = {"21ClientToServerRequest": {"cmd_": {
        "polymorphic_id": 2147483649, "polymorphic_name": "CFileCmd",
        "ptr_wrapper": {"id": 2147483649, "data": user_cmd}}}}
    body = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogateescape")
    return f"{len(body):{HEADER}x}".encode() + body


def parse_reply(framed: bytes) -> bytes:
    """The file a framed reply carries; ServerRefused with the server's message; NotSpoken otherwise."""
    try:
        length = int(framed[:HEADER], 16)
    except ValueError:
        raise NotSpoken(f"reply starts {framed[:HEADER]!r}, not a length") from None
    body = framed[HEADER:]
    if len(body) != length:
        raise NotSpoken(f"reply of {len(body)} bytes, its header says {length}")
    try:
        reply = json.loads(body.decode("utf-8", "surrogateescape"))
        command = reply["22ServerToClientResponse"]["stc_cmd_"]
        kind, data = command["polymorphic_name"], command["ptr_wrapper"]["data"]
        if kind == "ErrorCmd":
            raise ServerRefused(str(data["error_msg_"]))
        if kind != "SStringCmd" or not isinstance(data.get("str_"), str):
            raise NotSpoken(f"a {kind} reply to a file request")
        return data["str_"].encode("utf-8", "surrogateescape")
    except (ValueError, KeyError, TypeError) as e:
        raise NotSpoken(f"reply not understood ({type(e).__name__}: {e})") from None


def fetch(host: str, port: int, path: str, file_type: str, *, max_lines: int, user: str,
          timeout: float, client_host: Optional[str] = None) -> bytes:
    """A file of a node as the server sends it.  OSError (socket.timeout included) if the server does not
    answer in `timeout` seconds, for connecting and for each wait for more of the reply."""
    message = request(path, file_type, max_lines, user, client_host or socket.gethostname())
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(message)
        chunks = []
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    return parse_reply(b"".join(chunks))
