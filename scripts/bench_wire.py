"""TCP forwarders on loopback between a client (a wffs mount) and an ecflow_server.

`Forwarder` passes bytes both ways, one thread and a selector, and offers two hooks: `held(sock)` (leave
this socket's bytes in the kernel buffers for now) and `forwarded(sock, n)`.  `CountingForwarder` counts
the bytes: the benchmark's server cost in bytes on the wire, as the network between the two would carry
them (the server's own write counter misses its replies).  The tests' stalling proxy
(tests/integration/proxy.py) is another one.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Dict, Optional


class Forwarder:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._pairs: Dict[socket.socket, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self):
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for sock in list(self._pairs):
            sock.close()
        self.listener.close()
        self._selector.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- hooks -------------------------------------------------------------------------------------
    def accepted(self, client: socket.socket, server: socket.socket) -> None:
        """A new pair of connections (self.connections counts it already)."""

    def held(self, sock: socket.socket) -> bool:
        """Leave what `sock` received unforwarded for now."""
        return False

    def forwarded(self, sock: socket.socket, n: int) -> None:
        """`n` bytes read from `sock` were passed on to its peer."""

    # ---- the loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            waiting = False
            for key, _ in self._selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    self._accept()
                elif self.held(key.fileobj):
                    waiting = True
                else:
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
        self.accepted(client, server)
        for a, b in ((client, server), (server, client)):
            a.setblocking(False)
            self._pairs[a] = b
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
                self.forwarded(sock, len(data))
                return
            except OSError:
                pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        for s in (sock, self._pairs.get(sock)):
            if s is None or s not in self._pairs:
                continue
            self._pairs.pop(s, None)
            self.dropped(s)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    def dropped(self, sock: socket.socket) -> None:
        """`sock` is closed: forget what a subclass kept of it."""


class CountingForwarder(Forwarder):
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        super().__init__(target_port, target_host)
        self.lock = threading.Lock()
        self.to_server = 0
        self.from_server = 0
        self._clients: set = set()  # the client side of each pair: what it sends goes to the server

    def snapshot(self) -> Dict[str, int]:
        with self.lock:
            return {"to_server": self.to_server, "from_server": self.from_server, "connections": self.connections}

    def accepted(self, client: socket.socket, server: socket.socket) -> None:
        self._clients.add(client)

    def forwarded(self, sock: socket.socket, n: int) -> None:
        with self.lock:
            if sock in self._clients:
                self.to_server += n
            else:
                self.from_server += n

    def dropped(self, sock: socket.socket) -> None:
        self._clients.discard(sock)


def wire_delta(before: Dict[str, int], after: Dict[str, int]) -> Dict[str, int]:
    return {k: after[k] - before[k] for k in ("to_server", "from_server", "connections")}
