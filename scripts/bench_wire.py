"""A TCP forwarder on loopback that counts the bytes between a client (a wffs mount) and an ecflow_server.

The benchmark's server cost is in requests (the server's --stats) and in bytes on the wire: what a mount
sends and receives, counted here, as the network between the two would carry it (the server's own write
counter also counts its log and checkpoints).  One thread, a selector, blocking sends.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Dict, Optional


class CountingForwarder:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.counts = {"to_server": 0, "from_server": 0, "connections": 0}
        self._peer: Dict[socket.socket, socket.socket] = {}
        self._to_server: Dict[socket.socket, bool] = {}  # socket -> bytes read from it go to the server
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "CountingForwarder":
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="counting-forwarder", daemon=True)
        self._thread.start()
        return self

    def snapshot(self) -> Dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for sock in list(self._peer):
            sock.close()
        self.listener.close()
        self._selector.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._forward(key.fileobj)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self.lock:
            self.counts["connections"] += 1
        for sock, peer, to_server in ((client, server, True), (server, client, False)):
            self._peer[sock] = peer
            self._to_server[sock] = to_server
            self._selector.register(sock, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        peer = self._peer.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(1 << 16)
            if data:
                peer.sendall(data)
                with self.lock:
                    self.counts["to_server" if self._to_server[sock] else "from_server"] += len(data)
                return
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        for s in (sock, self._peer.get(sock)):
            if s is None or s not in self._peer:
                continue
            self._peer.pop(s, None)
            self._to_server.pop(s, None)
            self._selector.unregister(s)
            s.close()


def wire_delta(before: Dict[str, int], after: Dict[str, int]) -> Dict[str, int]:
    return {k: after[k] - before[k] for k in ("to_server", "from_server", "connections")}
