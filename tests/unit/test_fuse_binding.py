"""wffs.fuse_binding: the library that lets directory handles ask for FOPEN_CACHE_DIR is in front of
pyfuse3 (built by `make setup`), or wffs says why not."""

from __future__ import annotations

import subprocess
import sys

from wffs import fuse_binding


def test_the_library_is_built_and_loaded_ahead_of_pyfuse3():
    assert fuse_binding.DIR_CACHE, fuse_binding.DIR_CACHE_OFF
    assert fuse_binding.DIR_CACHE_OFF is None
    assert fuse_binding.CACHE_DIR_MARK == 1 << 62


def probe(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True).stdout.strip()


def test_pyfuse3_imported_first_turns_it_off_and_says_why():
    said = probe("import pyfuse3\nfrom wffs import fuse_binding as b\nprint(b.DIR_CACHE, '|', b.DIR_CACHE_OFF)")
    assert said == "False | pyfuse3 was imported before wffs.fuse_binding"


def test_the_library_is_where_pyfuse3_finds_fuse_reply_open():
    """In the global scope ahead of libfuse: a lookup by name, as pyfuse3's, finds the library's."""
    said = probe("import ctypes\nfrom wffs import fuse_binding as b\n"
                 "lib = ctypes.CDLL(str(b.LIBRARY))\n"
                 "found = ctypes.cast(ctypes.CDLL(None).fuse_reply_open, ctypes.c_void_p).value\n"
                 "print(found == ctypes.cast(lib.fuse_reply_open, ctypes.c_void_p).value)")
    assert said == "True"
