"""Open handles: the numbers wffs gives the kernel, the marks those numbers carry, and what each open
handle refers to.

A number carries marks for the libraries in front of pyfuse3 (see wffs/fuse_binding.py): a directory
handle's CACHE_DIR_MARK and KEEP_CACHE_MARK tell wffs/_dircache what the kernel may keep of its listing,
and a handle with FAST_MARK was made by wffs/_fastopen, which puts the inode in the rest of the number.
Tables are keyed by the number as the kernel has it, marks and all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from wffs.events import EventLog
from wffs.fuse_binding import CACHE_DIR_MARK, FAST_MARK, HANDLE_MARKS, KEEP_CACHE_MARK
from wffs.listings import Row
from wffs.vfs import Entry


class OpenFile(NamedTuple):
    """A file opened for reading: one consistent content for the life of the handle."""
    inode: int
    entry: Entry  # with the size of `data`
    data: bytes


@dataclass(eq=False)
class ControlWrite:
    """What a writer has written to a control file so far (a write always replaces the whole file)."""
    mirrors: object
    node: str
    created: Optional[tuple] = None  # the path of the control file created through this handle
    data: bytes = b""
    written: bool = False
    applied: bool = False

    def add(self, off: int, buf: bytes) -> None:
        self.data = self.data[:off].ljust(off, b"\0") + buf
        self.written = True
        self.applied = False


def directory_number(fh: int) -> int:
    """A directory handle's number without its marks."""
    return fh & ~HANDLE_MARKS


def fast_inode(fh: int) -> Optional[int]:
    """The inode of a handle wffs/_fastopen made, else None."""
    return fh & ~FAST_MARK if fh & FAST_MARK else None


class Handles:
    def __init__(self):
        self._last = 1
        self.listings: dict[int, list[Row]] = {}  # open directories
        self.files: dict[int, OpenFile] = {}
        self.logs: dict[int, EventLog] = {}  # event logs, read as they grow
        self.controls: dict[int, ControlWrite] = {}
        self._unread: dict[int, int] = {}  # inode -> its newest file handle, until that handle's first read

    def new(self) -> int:
        self._last += 1
        return self._last

    def open_dir(self, fh: int, rows: list, kept: Optional[bool]) -> int:
        """Directory handle `fh` (from `new`) listing `rows`, marked for wffs/_dircache: `kept` None, the
        kernel does not keep the listing; else it does, and True: the copy it holds is good."""
        if kept is not None:
            fh |= CACHE_DIR_MARK | (KEEP_CACHE_MARK if kept else 0)
        self.listings[fh] = rows
        return fh

    def open_file(self, inode: int, entry: Entry, data: bytes) -> int:
        fh = self.new()
        pinned = entry if entry.size == len(data) else entry._replace(size=len(data))
        self.files[fh] = OpenFile(inode, pinned, data)
        self._unread[inode] = fh
        return fh

    def open_log(self, log: EventLog) -> int:
        fh = self.new()
        self.logs[fh] = log
        return fh

    def open_control(self, pending: ControlWrite) -> int:
        fh = self.new()
        self.controls[fh] = pending
        return fh

    def unread(self, inode: int) -> Optional[OpenFile]:
        """The newest handle of `inode` if its reader has not read yet (see Operations._pinned_attrs)."""
        return self.files.get(self._unread.get(inode))

    def read_begun(self, fh: int) -> None:
        """A handle's reader has had its fstat: getattr answers for the file again."""
        opened = self.files.get(fh)
        if opened is not None and self._unread.get(opened.inode) == fh:
            del self._unread[opened.inode]

    def entries_open(self, inode: int) -> list[Entry]:
        """The entries of `inode` as its open handles hold them, oldest first."""
        return [opened.entry for opened in self.files.values() if opened.inode == inode]

    def is_open(self, inode: int) -> bool:
        return any(opened.inode == inode for opened in self.files.values())

    def creating(self, path: tuple) -> bool:
        """Whether a control file is being created at `path` through a handle still open."""
        return any(pending.created == path for pending in self.controls.values())

    def release(self, fh: int) -> Optional[ControlWrite]:
        """Forget a file handle; what was written through it, if it is a control file's."""
        self.read_begun(fh)
        self.files.pop(fh, None)
        self.logs.pop(fh, None)
        return self.controls.pop(fh, None)

    def release_dir(self, fh: int) -> None:
        self.listings.pop(fh, None)
