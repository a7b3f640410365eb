"""wffs.fuse_binding: the libraries that let directory handles ask for FOPEN_CACHE_DIR and that answer
opens without Python are in front of pyfuse3 (built by pip), all of a library's functions or none of them,
or wffs says why not and works without."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from wffs import fuse_binding


def test_the_library_is_built_and_loaded_ahead_of_pyfuse3():
    assert fuse_binding.DIR_CACHE, fuse_binding.DIR_CACHE_OFF
    assert fuse_binding.DIR_CACHE_OFF is None
    assert fuse_binding.CACHE_DIR_MARK == 1 << 62


def probe(code: str, **env) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, **env}).stdout.strip()


STATE = "from wffs import fuse_binding as b\nprint(b.DIR_CACHE, '|', b.DIR_CACHE_OFF, '|', b.FAST_OPENS.permit())"


def test_pyfuse3_imported_first_turns_it_off_and_says_why():
    said = probe("import pyfuse3\n" + STATE)
    assert said == ("False | pyfuse3 was imported before wffs.fuse_binding | "
                    "pyfuse3 was imported before wffs.fuse_binding")


def test_wffs_no_native_uses_neither():
    assert probe(STATE, WFFS_NO_NATIVE="1") == "False | WFFS_NO_NATIVE is set | WFFS_NO_NATIVE is set"


def test_not_built_is_said(tmp_path):
    said = probe(STATE, WFFS_NATIVE_DIR=str(tmp_path))
    assert said.startswith("False | wffs/_dircache is not built (pip builds it where gcc and libfuse3's headers")


def test_a_library_that_does_not_load_is_not_used(tmp_path):
    for name in ("_dircache", "_fastopen"):
        (tmp_path / f"{name}.so").write_bytes(b"\x7fELF but not a library")
    said = probe(STATE, WFFS_NATIVE_DIR=str(tmp_path)).split(" | ")
    assert said[0] == "False" and said[1].startswith("_dircache.so cannot be loaded: ")
    assert said[2].startswith("_fastopen.so cannot be loaded: ")


def compile_library(source: str, out, *flags) -> None:
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", *flags, "-o", str(out), source],
                   check=True, capture_output=True, timeout=60)


def test_a_library_that_lacks_a_function_is_not_used_at_all(tmp_path):
    """A _fastopen without fuse_session_destroy would leave pyfuse3 half on the library's queue and half
    on the device: none of it is loaded into the global scope."""
    partial = tmp_path / "partial.c"
    partial.write_text("int fuse_session_fd(void *se) { return -1; }\n"
                       "int fuse_session_receive_buf(void *se, void *buf) { return -1; }\n"
                       "int fuse_reply_open_not(void) { return 0; }\n")
    compile_library(str(partial), tmp_path / "_fastopen.so")
    compile_library(str(partial), tmp_path / "_dircache.so")
    said = probe(STATE + "\nimport ctypes\nprint(hasattr(ctypes.CDLL(None), 'fuse_session_receive_buf'))",
                 WFFS_NATIVE_DIR=str(tmp_path)).splitlines()
    assert said[0] == ("False | _dircache.so lacks fuse_reply_open | _fastopen.so lacks fuse_session_destroy, "
                       "wffs_fast_permit, wffs_fast_enable, wffs_fast_allow, wffs_fast_held, wffs_fast_opens, "
                       "wffs_fast_serving")
    assert said[1] == "False"  # never in the global scope: pyfuse3 cannot reach any of it


def test_both_libraries_are_where_pyfuse3_finds_libfuse3s_calls():
    """Neither library loads libfuse3 itself, so that each comes before it, whatever their order; and
    fast opens, asked for, may be used."""
    said = probe("import ctypes\nfrom wffs import fuse_binding as b\n"
                 "found = ctypes.CDLL(None)\n"
                 "for lib, name in (('_fastopen', 'fuse_session_fd'), ('_fastopen', 'fuse_session_receive_buf'),"
                 " ('_fastopen', 'fuse_session_destroy'), ('_dircache', 'fuse_reply_open')):\n"
                 "    lib = ctypes.CDLL(str(b.library_path(lib)))\n"
                 "    print(ctypes.cast(getattr(found, name), ctypes.c_void_p).value"
                 " == ctypes.cast(getattr(lib, name), ctypes.c_void_p).value)\n"
                 "print(b.FAST_OPENS.permit())")
    assert said.split() == ["True"] * 4 + ["None"]


def test_the_fast_open_library_keeps_what_it_is_told_before_a_session():
    fast = fuse_binding.FAST_OPENS
    assert fast.off == "not asked for (wffs mount --fast-open)" and fuse_binding.FAST_MARK == 1 << 60
    assert not fast.serving()  # no session: pyfuse3 reads the device itself
    fast.allow(1 << 20)  # grows its table
    fast.allow(1 << 20, False)
    fast.allow(99999999, False)  # never allowed: nothing to do
    assert fast.held(1 << 20) == 0 and fast.held(1 << 40) == 0
    assert fast.opens() == 0


@pytest.mark.parametrize("name", ["_dircache", "_fastopen"])
def test_compiles_against_libfuse_as_it_declares_its_functions_now(tmp_path, name):
    """libfuse's current header declares `int fuse_session_fd(const struct fuse_session *se)`; Debian 12's
    has no const.  Both libraries compile against a copy of the installed header with the new declaration,
    and against the installed one, with every warning an error."""
    headers = tmp_path / "include" / "fuse3"
    shutil.copytree("/usr/include/fuse3", headers)
    lowlevel = headers / "fuse_lowlevel.h"
    text = lowlevel.read_text()
    assert "int fuse_session_fd(struct fuse_session *se);" in text
    lowlevel.write_text(text.replace("int fuse_session_fd(struct fuse_session *se);",
                                     "int fuse_session_fd(const struct fuse_session *se);"))
    source = str(fuse_binding.Path(fuse_binding.__file__).with_name(f"{name}.c"))
    compile_library(source, tmp_path / "new.so", f"-I{tmp_path / 'include'}")
    compile_library(source, tmp_path / "installed.so")
