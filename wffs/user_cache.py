"""Where wffs keeps a user's logs and caches: $XDG_CACHE_HOME/wffs, by default ~/.cache/wffs (private: 0700)."""

from __future__ import annotations

import os

from wffs.backend.user_cache import directory


def made() -> str:
    """The directory, made private if it was not there (OSError if it cannot be made)."""
    path = directory()
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
