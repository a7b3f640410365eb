"""Where wffs keeps a user's logs and caches: $XDG_CACHE_HOME/wffs, by default ~/.cache/wffs (private: 0700)."""

from __future__ import annotations

import os


def directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wffs")


def made() -> str:
    """The directory, made private if it was not there (OSError if it cannot be made)."""
    path = directory()
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
