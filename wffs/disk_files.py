"""What the Vfs keeps of a remote server's task files in the on-disk cache (wffs/file_cache.py) between
mounts: which files may be kept, under what key, and for how long a script or manual is trusted."""

from __future__ import annotations

import time

import trio

from wffs import layout
from wffs.freshness import EDITED_IN_PLACE, being_written


class DiskFiles:
    def __init__(self, vfs):
        self.vfs = vfs  # the server's Vfs: its snapshot (a refresh replaces it), file_cache and script_age

    def keys(self, items) -> dict:
        """{(path, kind): key on disk} of the task files among `items` that the disk cache may hold: a
        remote server's, not being written.  The key holds what the file depends on (see file_cache)."""
        if self.vfs.file_cache is None or not self.vfs.files_remote():
            return {}
        snapshot = self.vfs.snapshot
        identity = str(snapshot.server.get("identity", ""))
        keys = {}
        for path, kind in items:
            node = snapshot.node(path)
            if node is None or kind not in layout.TASK_FILE_KINDS or being_written(node, kind):
                continue
            stat = node.files.get(kind)
            keys[(path, kind)] = "\0".join((identity, path, kind, node.state, repr(node.since),
                                            repr(tuple(stat) if stat is not None else None)))
        return keys

    async def read(self, keys: dict) -> dict:
        """{(path, kind): bytes} found on disk for these keys; scripts and manuals no older than script_age."""
        if not keys:
            return {}
        file_cache, script_age = self.vfs.file_cache, self.vfs.script_age
        edited = [k for item, k in keys.items() if item[1] in EDITED_IN_PLACE]
        others = [k for item, k in keys.items() if item[1] not in EDITED_IN_PLACE]

        def get():
            return {**file_cache.get_many(edited, time.time() - script_age), **file_cache.get_many(others)}

        found = await trio.to_thread.run_sync(get)
        return {item: found[k] for item, k in keys.items() if k in found}

    async def write(self, keys: dict, found: dict) -> None:
        entries = {keys[item]: data for item, data in found.items() if item in keys}
        if entries:
            await trio.to_thread.run_sync(self.vfs.file_cache.put_many, entries)

