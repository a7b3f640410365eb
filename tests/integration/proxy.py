"""A TCP proxy on loopback that can stall: the network between wffs and its server, made to misbehave.

`stall()` keeps every connection open but forwards nothing in either direction (what a hung router or a
full send queue looks like to the client), `resume()` lets the held bytes through again.  New connections
are accepted meanwhile and stall too.  `hold_new(after, seconds)` delays only the connections after the
first `after` ones, each by `seconds` from its accept (a server that answers a small request at once and is
then slow to send its definition: the ecFlow client opens a connection per request).
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from typing import Optional


class StallingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._stalled = threading.Event()
        self._stop = threading.Event()
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._thread: Optional[threading.Thread] = None
        self.connections = 0
        self._hold = (float("inf"), 0.0)  # (after this many connections, delay each new one by)
        self._held_until: dict[socket.socket, float] = {}

    def start(self) -> "StallingProxy":
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="stalling-proxy", daemon=True)
        self._thread.start()
        return self

    def stall(self) -> None:
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def hold_new(self, after: int, seconds: float) -> None:
        self._hold = (after, seconds)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for sock in list(self._pairs):
            sock.close()
        self.listener.close()
        self._selector.close()

    def __enter__(self) -> "StallingProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            waiting = self._stalled.is_set()
            for key, _ in self._selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    self._accept()
                elif self._held_until.get(key.fileobj, 0.0) > time.monotonic():
                    waiting = True
                elif not self._stalled.is_set():
                    self._forward(key.fileobj)
            if waiting:
                self._stop.wait(0.05)  # bytes wait in the kernel buffers; select would spin on them

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()  # the server is down: the client sees its connection closed
            return
        self.connections += 1
        after, seconds = self._hold
        for a, b in ((client, server), (server, client)):
            a.setblocking(False)
            self._pairs[a] = b
            if self.connections > after:
                self._held_until[a] = time.monotonic() + seconds
            self._selector.register(a, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            try:
                peer.setblocking(True)
                peer.sendall(data)
                peer.setblocking(False)
                return
            except OSError:
                pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        for s in (sock, self._pairs.get(sock)):
            if s is None:
                continue
            self._pairs.pop(s, None)
            self._held_until.pop(s, None)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
