"""Whether a file the ecFlow server sent came whole: 5.9.2 cuts a file at its first NUL byte, silently.

`ecflow_client --file=PATH KIND N` (and the binding's get_file) sends a file of more than N lines as its
last N lines and a marker line, a file of N lines or fewer whole.  Lines here are the pieces between
newlines, the empty piece after a final newline included.  So one more small request tells whether the
first answer was the whole file: the tail the server sends must be the tail of that answer.  A file cut
at a NUL goes on past the cut, and its tail differs (or, with the NUL in the tail, is cut again and lacks
the marker).  A short answer is asked for again whole (as many lines as it had: cheap), which must come
back the same.  What this cannot see: a NUL in a file's last line with no newline after it (both answers
are cut alike), and a NUL at the start of a line whose previous line repeats as the file's last line.
"""

from __future__ import annotations

#: answers of up to this many lines are asked for again whole; longer ones by their last TAIL lines
SHORT = 3
TAIL = 2


def pieces(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def tail_reply(data: bytes, lines: int) -> bytes:
    """What the server sends for a file of exactly `data` when asked for at most `lines` lines."""
    parts = pieces(data)
    if len(parts) <= lines:
        return data
    marker = f"# >>>>>>>> File truncated down to {lines}. Truncated from the end of the file <<<<<<<<<\n"
    return b"".join(p + b"\n" for p in parts[-lines:]) + marker.encode()


def probe_lines(first: bytes) -> int:
    """How many lines the second request asks for."""
    count = len(pieces(first))
    return count if count <= SHORT else TAIL


def came_whole(first: bytes, probe: bytes) -> bool:
    """The second answer (asked for probe_lines(first) lines) agrees with the first being the whole file."""
    return probe == tail_reply(first, probe_lines(first))
