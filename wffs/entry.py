"""A directory entry with its attributes, as the Vfs lists it and the FUSE adapter turns it into a stat."""

from __future__ import annotations

from typing import NamedTuple, Optional

from wffs.layout import Kind


class Entry(NamedTuple):  # a tuple: listings build tens of thousands of them
    name: str
    kind: Kind
    node: str
    file: str
    size: Optional[int]  # None: not measured yet (a server-provided file nobody has looked up)
    mtime: float
    volatile: bool = False  # content may change without a state change: short kernel cache times
    server: str = ""  # which server's Vfs the entry belongs to (set by the Tree)

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR
