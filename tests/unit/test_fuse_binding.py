"""wffs.fuse_binding: the libraries that let directory handles ask for FOPEN_CACHE_DIR and that answer
opens without Python are in front of pyfuse3 (built by `make setup`), or wffs says why not."""

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
    said = probe("import pyfuse3\nfrom wffs import fuse_binding as b\n"
                 "print(b.DIR_CACHE, '|', b.DIR_CACHE_OFF, '|', b.FAST_OPENS.off)")
    assert said == ("False | pyfuse3 was imported before wffs.fuse_binding | "
                    "pyfuse3 was imported before wffs.fuse_binding")


def test_the_library_is_where_pyfuse3_finds_fuse_reply_open():
    """In the global scope ahead of libfuse: a lookup by name, as pyfuse3's, finds the library's."""
    said = probe("import ctypes\nfrom wffs import fuse_binding as b\n"
                 "lib = ctypes.CDLL(str(b.LIBRARY))\n"
                 "found = ctypes.cast(ctypes.CDLL(None).fuse_reply_open, ctypes.c_void_p).value\n"
                 "print(found == ctypes.cast(lib.fuse_reply_open, ctypes.c_void_p).value)")
    assert said == "True"


def test_both_libraries_are_where_pyfuse3_finds_libfuse3s_session_calls():
    """Neither library loads libfuse3 itself, so that each comes before it, whatever their order."""
    said = probe("import ctypes\nfrom wffs import fuse_binding as b\n"
                 "found = ctypes.CDLL(None)\n"
                 "for path, name in ((b.FAST_LIBRARY, 'fuse_session_fd'), (b.FAST_LIBRARY, 'fuse_session_receive_buf'),"
                 " (b.FAST_LIBRARY, 'fuse_session_destroy'), (b.LIBRARY, 'fuse_reply_open')):\n"
                 "    lib = ctypes.CDLL(str(path))\n"
                 "    print(ctypes.cast(getattr(found, name), ctypes.c_void_p).value"
                 " == ctypes.cast(getattr(lib, name), ctypes.c_void_p).value)")
    assert said.split() == ["True"] * 4


def test_the_fast_open_library_keeps_what_it_is_told_before_a_session():
    fast = fuse_binding.FAST_OPENS
    assert fast.off is None and fuse_binding.FAST_MARK == 1 << 60
    assert not fast.serving()  # no session: pyfuse3 reads the device itself
    fast.allow(1 << 20)  # grows its table
    fast.allow(1 << 20, False)
    fast.allow(99999999, False)  # never allowed: nothing to do
    assert fast.held(1 << 20) == 0 and fast.held(1 << 40) == 0
    assert fast.opens() == 0
