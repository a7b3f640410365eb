"""ECMWF's ecflow_ui test suite, as Debian's ecflow-client ships it: material nobody on this project wrote.

`/usr/share/ecflow/etc/ecflow_ui_test.def` (operation_suite: a day repeat, families named `0` and `12`,
triggers on meters, ECF_FILES, `%include <head.h>` from ECF_INCLUDE, `%manual`/`%comment`) and
`ecflow_ui_test_server_scripts.tar.gz` (its scripts and include files, and stale `*.job0` files from
wherever ECMWF made the tarball).  Made runnable: the three placeholders replaced,
ECF_NODE set (head.h uses it) and the jobs run by bash (head.h starts with #!/bin/ksh).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

ETC = Path("/usr/share/ecflow/etc")
DEF_FILE = ETC / "ecflow_ui_test.def"
SCRIPTS = ETC / "ecflow_ui_test_server_scripts.tar.gz"
SUITE = "operation_suite"


def install(home: Path, *, sleep: int = 1) -> Path:
    """Unpack the scripts into `home` and write the runnable definition; returns its path."""
    with tarfile.open(SCRIPTS) as tar:
        tar.extractall(home)  # a Debian package's file
    text = (DEF_FILE.read_text()
            .replace("ECF_HOME_PLACEHOLDER", str(home))
            .replace("ECF_INCLUDE_PLACEHOLDER", str(home / "includes"))
            .replace("ECF_FILES_PLACEHOLDER", str(home)))
    extra = ("  edit ECF_NODE 'localhost'\n"
             "  edit ECF_JOB_CMD 'bash %ECF_JOB% 1> %ECF_JOBOUT% 2>&1 &'\n"
             "  edit ECF_TRIES '1'\n")
    text = text.replace("  edit SLEEP 3\n", f"  edit SLEEP {sleep}\n" + extra)
    assert extra in text, "the ecflow_ui test definition changed: edit SLEEP 3 not found"
    path = home / "ecflow_ui_test.def"
    path.write_text(text)
    return path

