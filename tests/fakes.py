"""An in-memory Backend for unit tests of pure logic: no server, no worker process, no FUSE.

FakeBackend implements wffs.backend.base.Backend over a small tree held in dicts and answers changes()
with deltas in the record format of wffs.backend.ecflow_worker.EcflowSession.delta()/record():

    {'full': bool, 'records': [record], 'removed': [path], 'server': {'state', 'version', 'suites'}}
    record = {'path', 'kind', 'state', 'suspended', 'since', 'att': bytes, 'children': (names,),
              'files': {kind: (size or None, mtime)}}

Like the worker, the first changes() is full, later ones carry only the records that differ from what was
last reported (None when nothing did), and `resync()` makes the next one full again (a restarted worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable, Optional

from wffs.backend.base import NotProvided, ServerUnavailable

TASK_KINDS = ("task", "alias")


@dataclass
class FakeFile:
    data: bytes
    size_known: bool  # True: the record carries len(data) (job/out on local disk); False: None (ecf/man)
    mtime: float


@dataclass
class FakeNode:
    kind: str
    state: str
    suspended: bool
    since: float
    att: bytes  # extra attribute lines, after the rendered state lines
    children: list = field(default_factory=list)
    files: dict = field(default_factory=dict)  # kind -> FakeFile


class FakeBackend:
    def __init__(self, name: str = "fake:3141"):
        self.name = name
        self.nodes: dict[str, FakeNode] = {}
        self.suites: list[str] = []
        self.server_state = "RUNNING"
        self.version = "Ecflow version(5.13.0)"
        self.server_files = {"log": b"LOG: started\n", "stats": b"stats\n", "zombies": b"",
                             "suites.def": b"# definition\n"}
        self.down = False  # while True every call raises ServerUnavailable
        self.on_read: Optional[Callable[[str, str], Awaitable[None]]] = None  # awaited before read() returns
        self.calls: list[tuple] = []  # (op, *args) of every call, for tests that count server calls
        self.clock = 1_700_000_000.0
        self.closed = False
        self._sent: Optional[dict] = None  # path -> record last reported; None: next delta is full
        self._sent_server: Optional[dict] = None

    # ---- building and changing the tree ------------------------------------------------------------
    def add(self, path: str, kind: Optional[str] = None, state: str = "queued", *, suspended: bool = False,
            att: bytes = b"", files: Optional[dict] = None) -> str:
        """Add a node below an existing parent (suites below '/'). kind defaults to suite at depth 1 and
        task below; files maps kind -> bytes (size reported only for job/out) or -> (bytes, size_known)."""
        parent, _, name = path.rpartition("/")
        assert name and path not in self.nodes, path
        if kind is None:
            kind = "suite" if not parent else "task"
        self.clock += 1
        node = FakeNode(kind, state, suspended, self.clock, att)
        for k, spec in (files or {}).items():
            data, known = spec if isinstance(spec, tuple) else (spec, k in ("job", "out"))
            node.files[k] = FakeFile(data, known, self.clock)
        if parent:
            self.nodes[parent].children.append(name)
        else:
            self.suites.append(name)
        self.nodes[path] = node
        return path

    def remove(self, path: str) -> None:
        """Remove a node and everything below it."""
        for c in list(self.nodes[path].children):
            self.remove(f"{path}/{c}")
        del self.nodes[path]
        parent, _, name = path.rpartition("/")
        (self.nodes[parent].children if parent else self.suites).remove(name)

    def set_state(self, path: str, state: str, *, suspended: Optional[bool] = None) -> None:
        node = self.nodes[path]
        self.clock += 1
        node.state, node.since = state, self.clock
        if suspended is not None:
            node.suspended = suspended

    def set_file(self, path: str, kind: str, data: bytes, *, size_known: Optional[bool] = None,
                 touch: bool = False) -> None:
        """New content for a task file; the record changes only if its size is reported or touch=True."""
        old = self.nodes[path].files.get(kind)
        known = size_known if size_known is not None else (old.size_known if old else kind in ("job", "out"))
        if touch or old is None:
            self.clock += 1
        self.nodes[path].files[kind] = FakeFile(data, known, self.clock if (touch or old is None) else old.mtime)

    def drop_file(self, path: str, kind: str) -> None:
        del self.nodes[path].files[kind]

    def resync(self) -> None:
        """The next changes() is a full delta, as after a worker restart."""
        self._sent = self._sent_server = None

    # ---- the records ---------------------------------------------------------------------------------
    def paths(self) -> list[str]:
        """All node paths, parents before children, in children order (as the worker walks them)."""
        out: list[str] = []

        def walk(path):
            out.append(path)
            for c in self.nodes[path].children:
                walk(f"{path}/{c}")

        for s in self.suites:
            walk("/" + s)
        return out

    def record(self, path: str) -> dict:
        n = self.nodes[path]
        name = path.rpartition("/")[2]
        att = f"{n.kind} {name}\nstate {n.state}\nsince {n.since:.0f}\n".encode()
        if n.suspended:
            att += b"flag suspended\n"
        files = {k: (len(f.data) if f.size_known else None, f.mtime) for k, f in n.files.items()}
        return {"path": path, "kind": n.kind, "state": n.state, "suspended": n.suspended, "since": n.since,
                "att": att + n.att, "children": tuple(n.children), "files": files}

    def server(self) -> dict:
        return {"state": self.server_state, "version": self.version, "suites": list(self.suites)}

    # ---- the Backend interface -----------------------------------------------------------------------
    def _call(self, *call) -> None:
        self.calls.append(call)
        if self.down:
            raise ServerUnavailable(f"{self.name}: connection refused")

    async def changes(self) -> Optional[dict]:
        self._call("changes")
        records = [self.record(p) for p in self.paths()]
        server = self.server()
        full = self._sent is None
        if full:
            out, removed = records, []
        else:
            out = [r for r in records if self._sent.get(r["path"]) != r]
            removed = [p for p in self._sent if p not in self.nodes]
            if not out and not removed and server == self._sent_server:
                return None
        self._sent = {r["path"]: r for r in records}
        self._sent_server = server
        return {"full": full, "records": out, "removed": removed, "server": server}

    async def read(self, path: str, kind: str) -> bytes:
        self._call("read", path, kind)
        node = self.nodes.get(path)
        if node is None or kind not in node.files:
            raise NotProvided(f"no {kind} for {path}")
        data = node.files[kind].data
        if self.on_read is not None:  # the answer is in flight: the test may change the world meanwhile
            await self.on_read(path, kind)
        return data

    async def server_file(self, name: str) -> bytes:
        self._call("server_file", name)
        if name not in self.server_files:
            raise NotProvided(f"no server file {name}")
        return self.server_files[name]

    async def close(self) -> None:
        self.closed = True
