"""An immutable tree of one server's nodes, as last seen.

A refresh builds a new Snapshot from the old one and a backend delta and swaps one reference, so a reader
never sees a half-updated tree.  Status and `.att` contents live in the snapshot, so their sizes are exact
by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple, Optional

TASK_KINDS = ("task", "alias")


class FileStat(NamedTuple):
    """A server-provided file that exists: its served size when known without reading it, and mtime.
    (A tuple: it is part of the key of every cached content, hashed at every open.)"""

    size: Optional[int]
    mtime: float


@dataclass(frozen=True)
class NodeInfo:
    path: str
    kind: str  # suite family task alias
    state: str
    suspended: bool = False
    since: float = 0.0
    att: bytes = b""
    children: tuple = ()
    files: Mapping[str, FileStat] = field(default_factory=dict)
    values: Mapping = field(default_factory=dict)  # labels, meters, events: what a mirror copies
    mirror: Optional[str] = None  # the stored mirror line, for a mirrored task
    why: Optional[bytes] = None  # why a waiting node waits, when the backend sends it with the node

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def is_task(self) -> bool:
        return self.kind in TASK_KINDS

    @classmethod
    def from_record(cls, rec: dict) -> "NodeInfo":
        files = {k: FileStat(size, mtime) for k, (size, mtime) in rec.get("files", {}).items()}
        return cls(path=rec["path"], kind=rec["kind"], state=rec["state"], suspended=rec["suspended"],
                   since=rec["since"], att=rec["att"], children=tuple(rec["children"]),
                   files=MappingProxyType(files), values=rec.get("values", {}), mirror=rec.get("mirror"),
                   why=rec.get("why"))


ROOT = NodeInfo(path="/", kind="server", state="unknown")


@dataclass(frozen=True)
class Snapshot:
    nodes: Mapping[str, NodeInfo] = field(default_factory=dict)
    server: Mapping = field(default_factory=dict)  # state, version, suites
    generation: int = 0

    def node(self, path: str) -> Optional[NodeInfo]:
        if path == "/":
            return ROOT
        return self.nodes.get(path)

    def children(self, path: str) -> list[NodeInfo]:
        if path == "/":
            names = self.server.get("suites", ())
        else:
            node = self.nodes.get(path)
            names = node.children if node else ()
        prefix = path.rstrip("/") + "/"
        return [n for n in (self.nodes.get(prefix + c) for c in names) if n is not None]

    def apply(self, delta: dict) -> tuple["Snapshot", list]:
        """The next snapshot and the list of (old, new) node pairs that differ (None for absent)."""
        fresh = {r["path"]: NodeInfo.from_record(r) for r in delta["records"]}
        if delta["full"]:
            nodes = fresh
        else:
            nodes = dict(self.nodes)
            nodes.update(fresh)
            for path in delta["removed"]:
                nodes.pop(path, None)
        changed = [(self.nodes.get(p), n) for p, n in fresh.items() if self.nodes.get(p) != n]
        gone = set(self.nodes) - set(nodes)
        changed.extend((self.nodes[p], None) for p in sorted(gone))
        server = dict(delta.get("server") or self.server)
        return Snapshot(MappingProxyType(nodes), MappingProxyType(server), self.generation + 1), changed
