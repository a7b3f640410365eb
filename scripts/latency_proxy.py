"""A TCP proxy on loopback that delays every byte by a fixed time in each direction: a slow link (a
remote server) made on one machine.  It counts connections: ecFlow's client opens one per request, so
that is the number of server requests.

Each connection gets, per direction, a reader thread that stamps what it reads with the time it is due
and a sender thread that sends it then; the order of bytes is kept, and so is end of file.
"""

from __future__ import annotations

import collections
import socket
import threading
import time


class LatencyProxy:
    def __init__(self, target_port: int, delay: float, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = delay
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self):
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.listener.close()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ends = threading.Semaphore(0)  # one release per direction done: then both sockets are closed
            self._spawn(self._pipe, client, server, ends)
            self._spawn(self._pipe, server, client, ends)
            self._spawn(self._close_when_done, (client, server), ends)

    @staticmethod
    def _close_when_done(socks, ends: threading.Semaphore) -> None:
        ends.acquire()
        ends.acquire()
        for sock in socks:
            sock.close()

    def _pipe(self, source: socket.socket, sink: socket.socket, ends: threading.Semaphore) -> None:
        """Read from source, send to sink `delay` seconds after each read."""
        queue: collections.deque = collections.deque()
        ready = threading.Condition()

        def send() -> None:
            while True:
                with ready:
                    while not queue:
                        ready.wait()
                    due, data = queue.popleft()
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                try:
                    if data is None:
                        sink.shutdown(socket.SHUT_WR)
                    else:
                        sink.sendall(data)
                        continue
                except OSError:
                    pass
                ends.release()
                return

        self._spawn(send)
        while True:
            try:
                data = source.recv(1 << 16)
            except OSError:
                data = b""
            with ready:
                queue.append((time.monotonic() + self.delay, data or None))
                ready.notify()
            if not data:
                return
