"""A TCP proxy on loopback that can stall: the network between wffs and its server, made to misbehave.

`stall()` keeps every connection open but forwards nothing in either direction (what a hung router or a
full send queue looks like to the client), `resume()` lets the held bytes through again.  New connections
are accepted meanwhile and stall too.  `hold_new(after, seconds)` delays only the connections after the
first `after` ones, each by `seconds` from its accept (a server that answers a small request at once and is
then slow to send its definition: the ecFlow client opens a connection per request).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from bench_wire import Forwarder  # noqa: E402  (the forwarding loop the benchmark's byte counter uses too)


class StallingProxy(Forwarder):
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        super().__init__(target_port, target_host)
        self._stalled = threading.Event()
        self._hold = (float("inf"), 0.0)  # (after this many connections, delay each new one by)
        self._held_until: dict[socket.socket, float] = {}

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def hold_new(self, after: int, seconds: float) -> None:
        self._hold = (after, seconds)

    def accepted(self, client: socket.socket, server: socket.socket) -> None:
        after, seconds = self._hold
        if self.connections > after:
            for sock in (client, server):
                self._held_until[sock] = time.monotonic() + seconds

    def held(self, sock: socket.socket) -> bool:
        return self._stalled.is_set() or self._held_until.get(sock, 0.0) > time.monotonic()

    def dropped(self, sock: socket.socket) -> None:
        self._held_until.pop(sock, None)
