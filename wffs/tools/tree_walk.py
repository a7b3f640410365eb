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


def walk(mnt: str, suites: Sequence[str] = (), on_error=None, kinds: Optional[set] = None) -> Iterator[TreeFile]:
    """Every file of the mount (of these kinds, if given) with its node, kind and state; only the given
    suites if any (and the server files, kind 'server').  Directories that cannot be listed are reported
    to on_error.  Costs one listing per directory and a few string operations per file: no stat, no read."""
    for prefix, server in server_roots(mnt):
        label = f"{server}:" if server else ""
        if kinds is None or "server" in kinds:
            server_dir = os.path.join(prefix, layout.SERVER_DIR)
            for name in sorted(os.listdir(os.path.join(mnt, server_dir))):
                if name != layout.EVENTS:  # the mount's own session log, not the server's
                    yield TreeFile(os.path.join(server_dir, name), "", "server", "-")
        top = os.path.join(mnt, prefix)
        yield from _walk_dir(top, prefix + "/" if prefix else "", label + "/", True, suites, on_error, kinds)


def _walk_dir(directory: str, rel: str, node_prefix: str, top: bool, suites, on_error, kinds):
    """rel: this directory's path below MNT ('' or ending with '/'); node_prefix: its node path + '/'."""
    try:
        with os.scandir(directory) as listing:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing]
    except OSError as e:
        if on_error is not None:
            on_error(directory, e)
        return
    states, files, dirs = {}, [], []
    for name, is_dir in entries:
        if top and name.startswith("."):
            continue  # .server (done above) and a several-server mount's .events
        if is_dir:
            dirs.append(name)
            continue
        stem, dot, ext = name.rpartition(".")
        if not dot:
            continue
        if ext in layout.CODE_STATES:
            states[stem] = ext
        files.append((name, stem, ext))
    for name, stem, ext in files:
        if stem not in states and layout.EARLIER_SUBMIT.match(name.rpartition(".")[0].rpartition(".")[2] + "." + ext):
            stem = stem.rpartition(".")[0]  # a Cylc task's earlier submit, t.01.out: a file of node t
        if top and suites and stem not in suites:
            continue
        kind = "status" if ext in layout.CODE_STATES else ext
        if kinds is None or kind in kinds:
            yield TreeFile(rel + name, node_prefix + stem, kind, states.get(stem, "-"))
    for name in dirs:
        bare = name[:-len(layout.CLASH_MARK)] if name.endswith(layout.CLASH_MARK) else name
        if top and suites and bare not in suites:
            continue
        yield from _walk_dir(directory + "/" + name, rel + name + "/", node_prefix + bare + "/", False, suites,
                             on_error, kinds)


def state_code(text: Optional[str]) -> str:
    """'abo' for 'abo' or 'aborted' (the full state names are accepted too)."""
    if text in layout.CODE_STATES:
        return text
    if text in layout.STATE_CODES:
        return layout.STATE_CODES[text]
    raise ValueError(f"{text!r} is not a state: one of {', '.join(layout.CODE_STATES)} "
                     f"or {', '.join(layout.STATE_CODES)}")
