"""How long what the mount holds of a server's files stays good, in one place: which files may still grow,
which change without any change of state, and for how long the kernel and the caches may keep them."""

from __future__ import annotations

import time

from wffs.snapshot import NodeInfo

#: States in which a task's job and output files are still being written.
RUNNING_STATES = ("submitted", "active")
#: A job may still write to its output for a moment after it told the server it completed or aborted.
SETTLE_SECONDS = 60.0
#: How long the kernel may cache what does not change without a state change (the refresher invalidates).
CACHE_SECONDS = 60.0
#: Files that can change on disk without any state change.
EDITED_IN_PLACE = ("ecf", "man")
#: Seconds a remote server's script or manual kept on disk is trusted (--script-age): they are edited
#: without any change of state; any change of their task's state makes them be read again.
DEFAULT_SCRIPT_AGE = 600.0


def being_written(node: NodeInfo, kind: str) -> bool:
    """Job and output of a running task, or of one that finished moments ago: content may still grow."""
    if kind not in ("job", "out"):
        return False
    return node.state in RUNNING_STATES or time.time() - node.since < SETTLE_SECONDS
