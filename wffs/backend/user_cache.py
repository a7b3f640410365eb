"""Where wffs keeps a user's caches: $XDG_CACHE_HOME/wffs, by default ~/.cache/wffs.

Here so that a worker finds its cache without importing upward; wffs.user_cache (which makes the
directory) re-exports it for the mount and the command line.
"""

from __future__ import annotations

import os


def directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wffs")
