"""Framing between the mount and a backend worker process: length-prefixed pickles over a pipe.

Both ends are our own code (the worker is started by the mount from this package), so pickle is safe here.
"""

from __future__ import annotations

import pickle
import struct

HEADER = struct.Struct("!I")
#: Names the directory the mount makes for one worker process's private files, and removes after it.
PRIVATE_DIR_ENV = "WFFS_WORKER_DIR"


def encode(message) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def read_message(stream):
    """Blocking read of one message from a binary file object; None at end of file."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return pickle.loads(body)


class FrameBuffer:
    """Collects bytes from an async stream and yields whole messages."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def pop(self):
        """The next whole message, or raises LookupError when more bytes are needed."""
        if len(self._buf) < HEADER.size:
            raise LookupError
        (length,) = HEADER.unpack_from(self._buf)
        end = HEADER.size + length
        if len(self._buf) < end:
            raise LookupError
        body = bytes(self._buf[HEADER.size:end])
        del self._buf[:end]
        return pickle.loads(body)


#: First item of a frame a worker sends before its answer, to say how a long call is going.
PROGRESS = "progress"


def reporter(answers):
    """What a worker calls to say, during a long call, that its server has answered and the call goes on:
    a (PROGRESS, text) frame ahead of the answer (the mount can then tell a slow server from a hung one)."""

    def report(text: str) -> None:
        answers.write(encode((PROGRESS, text)))
        answers.flush()

    return report


class Unavailable(Exception):
    """(In a worker) the server refused, did not answer, or what it needs cannot be read."""


class Missing(Exception):
    """(In a worker) the server has no such file or text for the node."""


class Inexact(Exception):
    """(In a worker) the server has the file, but its bytes cannot be had exactly (it cuts at a NUL)."""


def serve(session, requests, answers) -> None:
    """A worker's loop: answer requests until its stdin closes, calling session.op_<op>(*args):
    ('ok', value) or ('err', 'unavailable'|'missing'|'bug', text), after any frames of `reporter`'s."""
    while True:
        message = read_message(requests)
        if message is None:
            return
        op, args = message
        try:
            answer = ("ok", getattr(session, "op_" + op)(*args))
        except Missing as e:
            answer = ("err", "missing", str(e))
        except Inexact as e:
            answer = ("err", "inexact", str(e))
        except Unavailable as e:
            answer = ("err", "unavailable", str(e))
        except Exception as e:  # a bug here must not kill the worker silently
            answer = ("err", "bug", f"{type(e).__name__}: {e}")
        answers.write(encode(answer))
        answers.flush()
