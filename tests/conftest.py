"""Every test run keeps its wffs caches and logs apart from the user's (and from other runs)."""

from __future__ import annotations

import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="wffs-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE  # read by wffs.user_cache in this process and in every mount it starts


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)
