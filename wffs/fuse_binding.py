"""pyfuse3, with the two small libraries wffs puts in front of it (both built by `make setup`).

Directory listings kept by the kernel (FOPEN_CACHE_DIR):

pyfuse3 cannot set that flag.  wffs/_dircache.c (built by `make setup` into wffs/_dircache.so) adds it to
the handles whose number has CACHE_DIR_MARK set, and keep_cache to those with KEEP_CACHE_MARK; it must be
loaded before pyfuse3 is, so that pyfuse3's calls to libfuse's fuse_reply_open reach it.  Every module
of wffs takes pyfuse3 from here.  Without the library (not built, or pyfuse3 imported first) wffs works
the same, only a listing read again is asked of wffs again instead of coming from the kernel: `DIR_CACHE`
is False and `DIR_CACHE_OFF` says why.

Opens answered without Python (wffs/_fastopen.c into wffs/_fastopen.so): a thread of the library reads the
FUSE device, answers the open and release of the files wffs marked with `FAST_OPENS.allow` and hands every
other request to pyfuse3.  Without the library every open reaches wffs (`FAST_OPENS.off` says why), and
wffs works the same, only slower.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Optional

#: Set in a directory handle's number: the kernel keeps that directory's listing (see _dircache.c) ...
CACHE_DIR_MARK = 1 << 62
#: ... and with this one too, the copy it holds is good: without it, the kernel drops it and fills it again.
KEEP_CACHE_MARK = 1 << 61
HANDLE_MARKS = CACHE_DIR_MARK | KEEP_CACHE_MARK
#: Set in the handle of a file opened by wffs/_fastopen.so: the inode is the rest of the number.
FAST_MARK = 1 << 60
LIBRARY = Path(__file__).with_name("_dircache.so")
FAST_LIBRARY = Path(__file__).with_name("_fastopen.so")


def _load_shim(library: Path):
    if "pyfuse3" in sys.modules:
        return None, "pyfuse3 was imported before wffs.fuse_binding"
    if not library.exists():
        return None, f"{library} is not built (make setup builds it)"
    try:
        return ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL), None
    except OSError as e:
        return None, f"{library} cannot be loaded: {e}"


class FastOpens:
    """What wffs/_fastopen.so may answer: which inodes, and whether at all; and how many opens it did."""

    def __init__(self, library: Optional[ctypes.CDLL], off: Optional[str]):
        self.off = off
        self._lib = library
        if library is not None:
            library.wffs_fast_allow.argtypes = [ctypes.c_uint64, ctypes.c_int]
            library.wffs_fast_held.argtypes = [ctypes.c_uint64]
            library.wffs_fast_held.restype = ctypes.c_uint32
            library.wffs_fast_opens.restype = ctypes.c_uint64
            library.wffs_fast_enable.argtypes = [ctypes.c_int]
        self._enabled = False

    def serving(self) -> bool:
        """Whether the library's thread reads the device (set up when pyfuse3 mounts)."""
        return self._lib is not None and bool(self._lib.wffs_fast_serving())

    def allow(self, inode: int, allow: bool = True) -> None:
        """Opens for reading of `inode` may be answered by the library (its pages hold the content)."""
        if self._lib is not None:
            self._lib.wffs_fast_allow(inode, int(allow))

    def enable(self, on: bool) -> None:
        if self._lib is not None and on != self._enabled:
            self._enabled = on
            self._lib.wffs_fast_enable(int(on))

    def held(self, inode: int) -> int:
        """How many handles of `inode` the library opened and the kernel has not released yet."""
        return 0 if self._lib is None else self._lib.wffs_fast_held(inode)

    def opens(self) -> int:
        """How many opens the library answered so far (each is a use of the mount)."""
        return 0 if self._lib is None else self._lib.wffs_fast_opens()


# Neither library loads libfuse3 (they find its functions when called): pyfuse3 loads it after both, so
# that they come before it in the global scope, where pyfuse3's calls are looked up.
_shim, DIR_CACHE_OFF = _load_shim(LIBRARY)
_fast, _fast_off = _load_shim(FAST_LIBRARY)

import pyfuse3  # noqa: E402  (after the libraries, see above)

DIR_CACHE = _shim is not None
FAST_OPENS = FastOpens(_fast, _fast_off)

__all__ = ["pyfuse3", "CACHE_DIR_MARK", "KEEP_CACHE_MARK", "HANDLE_MARKS", "DIR_CACHE", "DIR_CACHE_OFF",
           "FAST_MARK", "FAST_OPENS"]
