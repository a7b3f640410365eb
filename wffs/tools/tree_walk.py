"""Walking a mounted tree as its files say it is: which node each file belongs to, and in what state.

Shared by wffs-backup and wffs-grep.  Works on the mount point of one server (MNT/.server exists) or of
several (MNT/<server>/.server), and only from names: no file is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

from wffs import layout

#: The kinds a user can pick: the status file, `.att`, the task files, `.def`, `.why`, the server files.
KINDS = ("status", layout.ATT, *layout.TASK_FILE_KINDS, layout.DEF, layout.WHY, layout.MIRROR, "server")


@dataclass(frozen=True)
class TreeFile:
    rel: str  # path below the mount point
    node: str  # the node path ('' for server files), prefixed 'SERVER:' in a several-server mount
    kind: str  # one of KINDS
    state: str  # the node's status code ('-' for server files and nodes without one)


def server_roots(mnt: str) -> list[tuple[str, str]]:
    """(prefix below MNT, server name or '') of each server tree in the mount."""
    if os.path.isdir(os.path.join(mnt, layout.SERVER_DIR)):
        return [("", "")]
    roots = []
    for entry in sorted(os.scandir(mnt), key=lambda e: e.name):
        if entry.is_dir() and os.path.isdir(os.path.join(entry.path, layout.SERVER_DIR)):
            roots.append((entry.name, entry.name))
    if not roots:
        raise NotADirectoryError(f"{mnt}: not a wffs mount (no {layout.SERVER_DIR}/ in it or in its directories)")
    return roots


def node_path(server: str, rel_dirs: Sequence[str], stem: str) -> str:
    parts = [d[:-len(layout.CLASH_MARK)] if d.endswith(layout.CLASH_MARK) else d for d in rel_dirs]
    path = "/" + "/".join(parts + [stem]) if stem else "/" + "/".join(parts)
    return f"{server}:{path}" if server else path


def walk(mnt: str, suites: Sequence[str] = (), on_error=None) -> Iterator[TreeFile]:
    """Every file of the mount with its node, kind and state; only the given suites if any (and always
    the server files, kind 'server').  Directories that cannot be listed are reported to on_error."""
    for prefix, server in server_roots(mnt):
        top = os.path.join(mnt, prefix)
        server_dir = os.path.join(prefix, layout.SERVER_DIR)
        for name in sorted(os.listdir(os.path.join(top, layout.SERVER_DIR))):
            if name != layout.EVENTS:  # the mount's own session log, not the server's
                yield TreeFile(os.path.join(server_dir, name), "", "server", "-")
        yield from _walk_dir(mnt, prefix, server, (), suites, on_error)


def _walk_dir(mnt, prefix, server, rel_dirs: tuple, suites, on_error) -> Iterator[TreeFile]:
    directory = os.path.join(mnt, prefix, *rel_dirs)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        if on_error is not None:
            on_error(directory, e)
        return
    files, dirs = [], []
    for entry in entries:
        if not rel_dirs and (entry.name.startswith(".")):
            continue  # .server (done above) and a several-server mount's .events
        (dirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
    states = {}
    for name in files:
        stem, ext = layout.split_extension(name)
        if ext in layout.CODE_STATES:
            states[stem] = ext
    for name in files:
        stem, ext = layout.split_extension(name)
        if not rel_dirs and suites and stem not in suites:
            continue
        kind = "status" if ext in layout.CODE_STATES else ext
        yield TreeFile(os.path.join(prefix, *rel_dirs, name), node_path(server, rel_dirs, stem), kind,
                       states.get(stem, "-"))
    for name in dirs:
        bare = name[:-len(layout.CLASH_MARK)] if name.endswith(layout.CLASH_MARK) else name
        if not rel_dirs and suites and bare not in suites:
            continue
        yield from _walk_dir(mnt, prefix, server, rel_dirs + (name,), suites, on_error)


def state_code(text: Optional[str]) -> str:
    """'abo' for 'abo' or 'aborted' (the full state names are accepted too)."""
    if text in layout.CODE_STATES:
        return text
    if text in layout.STATE_CODES:
        return layout.STATE_CODES[text]
    raise ValueError(f"{text!r} is not a state: one of {', '.join(layout.CODE_STATES)} "
                     f"or {', '.join(layout.STATE_CODES)}")
