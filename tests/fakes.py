"""An in-memory Backend for unit tests of pure logic: no server, no worker process, no FUSE.

FakeBackend implements wffs.backend.base.Backend over a small tree held in dicts and answers changes()
with deltas in the record format of wffs.backend.ecflow.sync.DefinitionSync.delta()/record():

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
        self.node_texts: dict[tuple, bytes] = {}  # (path, 'why'|'def') -> text, instead of the default one
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

    async def read_many(self, items: list) -> dict:
        """As the worker does: what can be read, in one call; the rest is left out."""
        self._call("read_many", list(items))
        found = {}
        for path, kind in items:
            node = self.nodes.get(path)
            if node is not None and kind in node.files:
                found[(path, kind)] = node.files[kind].data
            elif node is not None and kind in ("why", "def"):
                found[(path, kind)] = self._node_text(path, kind)
        if found and self.on_read is not None:
            await self.on_read(*next(iter(found)))
        return found

    def definition(self, path: str, indent: int = 0) -> str:
        """A definition-like text of the subtree at path (what `def` answers by default)."""
        n = self.nodes[path]
        name = path.rpartition("/")[2]
        pad = "  " * indent
        text = f"{pad}{n.kind} {name}\n"
        text += "".join(self.definition(f"{path}/{c}", indent + 1) for c in n.children)
        if n.kind in ("suite", "family"):
            text += f"{pad}end{n.kind}\n"
        return text

    async def node_text(self, path: str, kind: str) -> bytes:
        """'why' a node is not running, or its subtree's 'def'inition; NotProvided for unknown nodes."""
        self._call("node_text", path, kind)
        if path not in self.nodes or kind not in ("why", "def"):
            raise NotProvided(f"no {kind} text for {path}")
        return self._node_text(path, kind)

    def _node_text(self, path: str, kind: str) -> bytes:
        if (path, kind) in self.node_texts:
            return self.node_texts[(path, kind)]
        if kind == "why":
            return f"why {path}\n".encode()
        return self.definition(path).encode()

    async def server_file(self, name: str) -> bytes:
        self._call("server_file", name)
        if name not in self.server_files:
            raise NotProvided(f"no server file {name}")
        return self.server_files[name]

    def server_answered(self) -> bool:
        return False  # its calls answer at once

    async def close(self) -> None:
        self.closed = True


# ---- mirrors: the local server's few mirror operations, and a remote that only answers node_state -----
class FakeMirrorLocal:
    """The local server as wffs.mirrors.Mirrors drives it: tasks with a state, labels/meters/events, own
    variables and a stored mirror line.  Every call is recorded in `calls` as (op, *args); writes really
    change the tasks, so snapshot() (a wffs.snapshot.Snapshot built with Snapshot().apply) shows them."""

    def __init__(self, name: str = "local:3141"):
        self.name = name
        self.tasks: dict[str, dict] = {}
        self.server_variables: dict[str, str] = {}  # seen by every task, after its own variables
        self.calls: list[tuple] = []
        self.down = False  # while True every call raises ServerUnavailable

    def add(self, path: str, state: str = "queued", *, labels: Optional[dict] = None,
            meters: Optional[dict] = None, events: Optional[dict] = None, variables: Optional[dict] = None,
            mirror: Optional[str] = None) -> str:
        self.tasks[path] = {"state": state, "labels": dict(labels or {}), "meters": dict(meters or {}),
                            "events": dict(events or {}), "variables": dict(variables or {}), "mirror": mirror}
        return path

    def record(self, path: str) -> dict:
        t = self.tasks[path]
        return {"path": path, "kind": "task", "state": t["state"], "suspended": False, "since": 0.0,
                "att": b"", "children": (), "files": {},
                "values": {k: dict(t[k]) for k in ("labels", "meters", "events")}, "mirror": t["mirror"]}

    def snapshot(self):
        from wffs.snapshot import Snapshot
        delta = {"full": True, "records": [self.record(p) for p in self.tasks], "removed": [],
                 "server": {"state": "RUNNING", "version": "fake", "suites": []}}
        return Snapshot().apply(delta)[0]

    def writes(self) -> list[tuple]:
        """The calls that change the server (everything but variables)."""
        return [c for c in self.calls if c[0] != "variables"]

    async def _call(self, *call) -> dict:
        import trio
        self.calls.append(call)
        await trio.lowlevel.checkpoint()
        if self.down:
            raise ServerUnavailable(f"{self.name}: connection refused")
        path = call[1]
        if path not in self.tasks:
            raise NotProvided(f"no node {path} on {self.name}")
        return self.tasks[path]

    async def variables(self, path: str) -> dict:
        task = await self._call("variables", path)
        return {**self.server_variables, **task["variables"]}

    async def set_mirror(self, path: str, line: str) -> None:
        (await self._call("set_mirror", path, line))["mirror"] = line

    async def clear_mirror(self, path: str) -> None:
        (await self._call("clear_mirror", path))["mirror"] = None

    async def set_state(self, path: str, state: str) -> None:
        (await self._call("set_state", path, state))["state"] = state

    async def set_values(self, path: str, labels: dict, meters: dict, events: dict) -> None:
        task = await self._call("set_values", path, dict(labels), dict(meters), dict(events))
        for kind, changes in (("labels", labels), ("meters", meters), ("events", events)):
            task[kind].update(changes)


class FakeRemote:
    """A remote server as a mirror polls it: node_state(path) -> {'state', 'labels', 'meters', 'events'}."""

    def __init__(self, name: str = "remote:3141"):
        self.name = name
        self.nodes: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.down = False  # while True node_state raises ServerUnavailable

    def add(self, path: str, state: str = "queued", *, labels: Optional[dict] = None,
            meters: Optional[dict] = None, events: Optional[dict] = None) -> str:
        self.nodes[path] = {"state": state, "labels": dict(labels or {}), "meters": dict(meters or {}),
                            "events": dict(events or {})}
        return path

    async def node_state(self, path: str) -> dict:
        import trio  # a real answer comes over a pipe: let other tasks run meanwhile
        self.calls.append(("node_state", path))
        await trio.lowlevel.checkpoint()
        if self.down:
            raise ServerUnavailable(f"{self.name}: connection refused")
        if path not in self.nodes:
            raise NotProvided(f"no node {path} on {self.name}")
        n = self.nodes[path]
        return {"state": n["state"], **{k: dict(n[k]) for k in ("labels", "meters", "events")}}
