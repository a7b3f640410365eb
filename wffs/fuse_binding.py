"""pyfuse3, with the two small libraries wffs may put in front of it (built by pip: see setup.py).

Directory listings kept by the kernel (FOPEN_CACHE_DIR): pyfuse3 cannot set that flag.  wffs/_dircache.c
adds it to the handles whose number has CACHE_DIR_MARK set, and keep_cache to those with KEEP_CACHE_MARK;
its fuse_reply_open must come before libfuse's where pyfuse3 looks it up.  On by default.

Opens answered without Python (wffs/_fastopen.c, only with `wffs mount --fast-open`): a thread of the
library reads the FUSE device, answers the open and release of the files wffs marked with
`FAST_OPENS.allow` and hands every other request to pyfuse3.

Both are loaded with RTLD_GLOBAL before pyfuse3 is, and only if they load and define every function they
must: a library that is not built, fails to load or lacks a function is not used, and whatever pyfuse3
would then reach is libfuse's own.  After pyfuse3 is loaded, each interposed function is looked up by
name as pyfuse3's calls are: a library whose functions are not all the ones found is not used either
(`_fastopen` must have all three or none, as it shares the device with pyfuse3's loop).  Without them
wffs works the same, only slower; `DIR_CACHE_OFF` and `FAST_OPENS.off` say why, and the mount logs it.
WFFS_NO_NATIVE set in the environment uses neither (the tests run once that way too).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
import sys
from pathlib import Path
from typing import Optional

#: Set in a directory handle's number: the kernel keeps that directory's listing (see _dircache.c) ...
CACHE_DIR_MARK = 1 << 62
#: ... and with this one too, the copy it holds is good: without it, the kernel drops it and fills it again.
KEEP_CACHE_MARK = 1 << 61
HANDLE_MARKS = CACHE_DIR_MARK | KEEP_CACHE_MARK
#: Set in the handle of a file opened by wffs/_fastopen: the inode is the rest of the number.
FAST_MARK = 1 << 60
NO_NATIVE_ENV = "WFFS_NO_NATIVE"
#: Where the libraries are looked for (a test points it elsewhere); by default beside this module.
NATIVE_DIR_ENV = "WFFS_NATIVE_DIR"

DIR_CACHE_CALLS = ("fuse_reply_open",)
FAST_OPEN_CALLS = ("fuse_session_fd", "fuse_session_receive_buf", "fuse_session_destroy")
FAST_OPEN_CONTROLS = ("wffs_fast_permit", "wffs_fast_enable", "wffs_fast_allow", "wffs_fast_held",
                      "wffs_fast_opens", "wffs_fast_serving")


def library_path(name: str) -> Optional[Path]:
    """The built library `name` (`_dircache`): as pip names an extension (_dircache.cpython-311-...so)."""
    here = Path(os.environ.get(NATIVE_DIR_ENV) or Path(__file__).parent)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (here / (name + suffix)).exists():
            return here / (name + suffix)
    return None


def load(name: str, functions: tuple) -> tuple[Optional[ctypes.CDLL], Optional[str]]:
    """(the library, None) loaded into the global scope, or (None, why not)."""
    if os.environ.get(NO_NATIVE_ENV):
        return None, f"{NO_NATIVE_ENV} is set"
    if "pyfuse3" in sys.modules:
        return None, "pyfuse3 was imported before wffs.fuse_binding"
    path = library_path(name)
    if path is None:
        return None, (f"wffs/{name} is not built (pip builds it where gcc and libfuse3's headers, Debian's "
                      f"libfuse3-dev, are installed)")
    try:
        private = ctypes.CDLL(str(path), mode=ctypes.RTLD_LOCAL)  # looked at before anyone can reach it
        missing = [f for f in functions if not hasattr(private, f)]
        if missing:
            return None, f"{path.name} lacks {', '.join(missing)}"
        return ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL), None
    except OSError as e:
        return None, f"{path.name} cannot be loaded: {e}"


def not_reached(library: ctypes.CDLL, functions: tuple) -> Optional[str]:
    """None if a lookup by name in the global scope, as pyfuse3's calls are made, finds the library's own
    `functions`, every one; else which are found elsewhere."""
    found = ctypes.CDLL(None)
    elsewhere = [f for f in functions if ctypes.cast(getattr(found, f), ctypes.c_void_p).value
                 != ctypes.cast(getattr(library, f), ctypes.c_void_p).value]
    return f"pyfuse3 reaches another {', '.join(elsewhere)}" if elsewhere else None


class FastOpens:
    """What wffs/_fastopen may answer: which inodes, and whether at all; and how many opens it did."""

    def __init__(self, library: Optional[ctypes.CDLL], off: Optional[str]):
        self.off = off or "not asked for (wffs mount --fast-open)"
        self._lib = library
        if library is not None:
            library.wffs_fast_allow.argtypes = [ctypes.c_uint64, ctypes.c_int]
            library.wffs_fast_held.argtypes = [ctypes.c_uint64]
            library.wffs_fast_held.restype = ctypes.c_uint32
            library.wffs_fast_opens.restype = ctypes.c_uint64
            library.wffs_fast_enable.argtypes = [ctypes.c_int]
            library.wffs_fast_permit.argtypes = [ctypes.c_int]
        self._enabled = False

    def permit(self) -> Optional[str]:
        """Serve the next session's opens here (`--fast-open`); None, or why it cannot."""
        if self._lib is None:
            return self.off
        self.off = None
        self._lib.wffs_fast_permit(1)
        return None

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
_shim, DIR_CACHE_OFF = load("_dircache", DIR_CACHE_CALLS)
_fast, _fast_off = load("_fastopen", FAST_OPEN_CALLS + FAST_OPEN_CONTROLS)

import pyfuse3  # noqa: E402  (after the libraries, see above)

if _shim is not None:
    DIR_CACHE_OFF = not_reached(_shim, DIR_CACHE_CALLS)
if _fast is not None:
    _fast_off = not_reached(_fast, FAST_OPEN_CALLS)
    if _fast_off:
        _fast = None  # never permitted: its functions pass every call to libfuse's own
DIR_CACHE = _shim is not None and DIR_CACHE_OFF is None
FAST_OPENS = FastOpens(_fast, _fast_off)

__all__ = ["pyfuse3", "CACHE_DIR_MARK", "KEEP_CACHE_MARK", "HANDLE_MARKS", "DIR_CACHE", "DIR_CACHE_OFF",
           "FAST_MARK", "FAST_OPENS"]
