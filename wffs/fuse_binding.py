"""pyfuse3, and whether directory handles can ask the kernel to keep their listings (FOPEN_CACHE_DIR).

pyfuse3 cannot set that flag.  wffs/_dircache.c (built by `make setup` into wffs/_dircache.so) adds it to
the handles whose number has CACHE_DIR_MARK set, and keep_cache to those with KEEP_CACHE_MARK; it must be
loaded before pyfuse3 is, so that pyfuse3's calls to libfuse's fuse_reply_open reach it.  Every module
of wffs takes pyfuse3 from here.  Without the library (not built, or pyfuse3 imported first) wffs works
the same, only a listing read again is asked of wffs again instead of coming from the kernel: `DIR_CACHE`
is False and `DIR_CACHE_OFF` says why.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

#: Set in a directory handle's number: the kernel keeps that directory's listing (see _dircache.c) ...
CACHE_DIR_MARK = 1 << 62
#: ... and with this one too, the copy it holds is good: without it, the kernel drops it and fills it again.
KEEP_CACHE_MARK = 1 << 61
HANDLE_MARKS = CACHE_DIR_MARK | KEEP_CACHE_MARK
LIBRARY = Path(__file__).with_name("_dircache.so")


def _load_shim():
    if "pyfuse3" in sys.modules:
        return None, "pyfuse3 was imported before wffs.fuse_binding"
    if not LIBRARY.exists():
        return None, f"{LIBRARY} is not built (make setup builds it)"
    try:
        return ctypes.CDLL(str(LIBRARY), mode=ctypes.RTLD_GLOBAL), None
    except OSError as e:
        return None, f"{LIBRARY} cannot be loaded: {e}"


_shim, DIR_CACHE_OFF = _load_shim()

import pyfuse3  # noqa: E402  (after the library, see above)

DIR_CACHE = _shim is not None

__all__ = ["pyfuse3", "CACHE_DIR_MARK", "KEEP_CACHE_MARK", "HANDLE_MARKS", "DIR_CACHE", "DIR_CACHE_OFF"]
