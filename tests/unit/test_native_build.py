"""pip builds wffs's C libraries where it can, and an install never fails because it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_install_without_a_compiler_succeeds_without_the_libraries(tmp_path):
    """CC=false: the compiler fails; `pip install .` still installs wffs (the extensions are optional) and
    fuse_binding says that they are not built."""
    source = tmp_path / "src"  # a copy: a build leaves build/ behind, and finds earlier objects there
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "run", "build", "*.so",
                                                                "*.egg-info", "__pycache__", ".hypothesis"))
    target = tmp_path / "site"
    env = {**os.environ, "CC": "false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(source)], env=env, capture_output=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    installed = target / "wffs"
    assert (installed / "fuse_binding.py").exists()
    assert not list(installed.glob("_dircache*.so")) and not list(installed.glob("_fastopen*.so"))
    said = subprocess.run([sys.executable, "-c", "from wffs import fuse_binding as b; print(b.DIR_CACHE_OFF)"],
                          env={**os.environ, "PYTHONPATH": str(target)}, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert said.stdout.startswith("wffs/_dircache is not built"), said.stdout + said.stderr
