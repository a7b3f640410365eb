"""Whether this machine sees an ecFlow server's own files: decided by proof, never by a path that exists.

A directory at the server's ECF_HOME path here may be a stale copy, another machine's directory of the
same name or an empty mount point; serving its files as the server's would be wrong, silently.  The proof
is the server's log: the lines the server says its log ends with (`--log=get`) must be, one after the
other, in the file its ECF_LOG names here, read just after.  The server writes a line for every request,
with the time of day to the second, and the proof comes right after this mount's own requests (its
first sync): an old copy of the log cannot hold their lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MODES = ("auto", "local", "server")
#: how many of the server's last log lines are asked for, and how many of them must match
LOG_LINES = 20
MATCHED = 5
#: how much of the end of the local log file is read for them
TAIL_BYTES = 1 << 20


@dataclass(frozen=True)
class FilesDecision:
    """Where server-provided files (.ecf, .job, .out, .man) come from, and why: for .server/status."""

    local: bool
    why: str

    def render(self) -> str:
        return f"{'local' if self.local else 'server'} ({self.why})"


def log_path(server_vars: dict) -> str:
    """ECF_LOG as the server uses it: relative names are below its ECF_HOME."""
    log = server_vars.get("ECF_LOG", "")
    home = server_vars.get("ECF_HOME", "")
    if log and not os.path.isabs(log) and home:
        log = os.path.join(home, log)
    return log


def tail_lines(path: str) -> list[str]:
    """The last TAIL_BYTES of a file as lines (the first, maybe cut, dropped); OSError if unreadable."""
    limit = TAIL_BYTES
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - limit))
        data = f.read(limit)
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if size > limit else lines


def contains_run(haystack: list[str], needle: list[str]) -> bool:
    """needle appears in haystack as consecutive lines."""
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def prove(mode: str, server_vars: dict, server_log_tail) -> FilesDecision:
    """The decision for one server.  `server_log_tail()` asks the server for its last LOG_LINES log lines
    (called only when a proof is wanted); it may raise, which proves nothing."""
    if mode == "local":
        return FilesDecision(True, "--files local")
    if mode == "server":
        return FilesDecision(False, "--files server")
    path = log_path(server_vars)
    if not path:
        return FilesDecision(False, "the server names no ECF_LOG to compare with")
    try:
        here = tail_lines(path)
    except OSError as e:
        return FilesDecision(False, f"its log {path} cannot be read here: {e.strerror}")
    try:
        theirs = [line for line in server_log_tail().splitlines() if line.strip()]
    except Exception as e:  # noqa: BLE001 - any failure of the server call proves nothing
        return FilesDecision(False, f"the server's log could not be compared: {e}")
    # the last line is the server's for this very request, maybe not on disk yet; the ones before are
    # for the requests just made, this worker's sync among them, which no older copy of the log can hold
    wanted = theirs[-MATCHED - 1:-1] if len(theirs) > MATCHED else theirs
    if not wanted:
        return FilesDecision(False, "the server's log is empty")
    if contains_run(here, wanted):
        return FilesDecision(True, f"{path} here ends with the server's last log lines")
    return FilesDecision(False, f"{path} here is not the server's log (its last lines differ)")
