"""What a workflow server looks like as files (docs/layout.rst, in code).

Pure: no I/O. Every other module asks this one which names a node gets, which extension a state has and
what a name in a directory stands for, so the shape of the tree is defined in exactly one place.
"""

from __future__ import annotations

import enum
import re
from typing import Iterable, NamedTuple

from wffs.backend import base

#: Displayed state -> status-file extension.  Suspended wins, as in ecflow_ui.
STATE_CODES = {
    "unknown": "unk",
    "queued": "que",
    "submitted": "sub",
    "active": "act",
    "complete": "com",
    "aborted": "abo",
    "suspended": "sus",
    "expired": "exp",  # Cylc 8 only: a task that will not run (its clock expiry passed)
}
CODE_STATES = {code: state for state, code in STATE_CODES.items()}

SERVER_DIR = ".server"
#: Files under MNT/.server/, in listing order.
SERVER_FILES = ("status", "nodes", "log", "stats", "zombies", "suites.def", "mirrors", "events")
#: Server files rendered by wffs itself (no server call).
LOCAL_SERVER_FILES = ("status", "nodes", "mirrors")
#: The event log of a server (under .server/) and of the whole mount (at the top of a several-server mount).
EVENTS = "events"
MOUNT_EVENTS = ".events"
#: Why a waiting node is not running: listed for nodes in these states only, so the tree stays small.
WHY = "why"
WAITING_STATES = ("queued", "unknown")
#: A suite's or family's definition as text.
DEF = "def"

#: Server-provided files of a task, in listing order (the status file and .att come first): defined with
#: the backends' interface, which reads them.
TASK_FILE_KINDS = base.TASK_FILE_KINDS
#: A Cylc task's earlier submits: kinds "01.job", "01.out", "01.err" ..., listed after TASK_FILE_KINDS in name
#: order as `<task>.01.out` (Cylc task names hold no dots, so these never clash with another task's files).
EARLIER_SUBMIT = re.compile(r"[0-9]{2,}\.(job|out|err)\Z")
ATT = "att"
#: Control files: written to act on the server, read for their live status.
MIRROR = "mirror"
#: Every extension a node's files can have.
FILE_EXTENSIONS = frozenset(STATE_CODES.values()) | {ATT, DEF, WHY, MIRROR, *TASK_FILE_KINDS}
#: Ends the name of a directory that would clash with a sibling's file (ecFlow names never hold it).
CLASH_MARK = "~"


class Kind(enum.Enum):
    """What a name in the tree stands for."""

    DIR = "dir"  # root, .server, suite, family, or the alias directory of a task
    STATUS = "status"
    ATT = "att"
    TASK_FILE = "task_file"  # .ecf .job .out .man
    SERVER_FILE = "server_file"
    CONTROL = "control"  # <task>.mirror
    NODE_TEXT = "node_text"  # <node>.why, <suite or family>.def: text the server makes for the node
    EVENTS = "events"  # .server/events and MNT/.events: append-only, read as they grow


class Name(NamedTuple):
    """One directory entry: its file name, what it is, which node it belongs to and, for files, which file."""

    name: str
    kind: Kind
    node: str  # absolute node path ('/' for the root and .server)
    file: str = ""  # the extension for node files ('que', 'att', 'out', ...), the name for server files


def status_code(state: str, suspended: bool = False) -> str:
    """The three-letter extension of a node's displayed state."""
    if suspended:
        return STATE_CODES["suspended"]
    return STATE_CODES.get(state, STATE_CODES["unknown"])


def status_text(state: str, suspended: bool = False) -> bytes:
    """Content of a status file: the full state name; a suspended node also names the state underneath."""
    line = f"suspended ({state})" if suspended else state
    return (line + "\n").encode()


def split_extension(file_name: str) -> tuple[str, str]:
    """('t.v2', 'que') for 't.v2.que': node names may hold dots, the extension is after the last one."""
    stem, dot, ext = file_name.rpartition(".")
    return (stem, ext) if dot else (file_name, "")


def child_path(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def node_components(node_path: str) -> tuple:
    """('s', 'f', 't') for '/s/f/t': a node's path below the mount point of its server."""
    return tuple(p for p in node_path.split("/") if p)


def dir_node_path(components: Iterable[str]) -> str:
    """Node path of a directory given by its path components below the mount point."""
    parts = [p[:-len(CLASH_MARK)] if p.endswith(CLASH_MARK) else p for p in components]
    return "/" + "/".join(parts) if parts else "/"


def directory_name(name: str, siblings) -> str:
    """The name of a node's directory: its own, unless that is the name a sibling's file can have
    (family `a.que` beside task `a`, whatever a's state): then it ends with CLASH_MARK (`a.que~`)."""
    stem, ext = split_extension(name)
    return name + CLASH_MARK if ext in FILE_EXTENSIONS and stem in siblings else name


def node_names(
    parent: str,
    name: str,
    *,
    is_task: bool,
    state: str,
    suspended: bool,
    task_files: Iterable[str] = (),
    has_children: bool = False,
    mirrored: bool = False,
    dir_name: str = "",
) -> list[Name]:
    """The entries one node contributes to its parent directory.

    Suites and families: a directory, a status file and `.att`.  Tasks (and aliases): a status file,
    `.att`, the server-provided files that exist (`task_files`: TASK_FILE_KINDS, then a Cylc task's earlier
    submits such as "01.out", see EARLIER_SUBMIT; other kinds are not listed) and, only
    when the task has aliases, a directory of them; a mirrored task also its `.mirror` control file.
    The directory is called `dir_name` when given (see directory_name).
    """
    path = child_path(parent, name)
    code = status_code(state, suspended)
    names = []
    if not is_task or has_children:
        names.append(Name(dir_name or name, Kind.DIR, path))
    names.append(Name(f"{name}.{code}", Kind.STATUS, path, code))
    names.append(Name(f"{name}.{ATT}", Kind.ATT, path, ATT))
    if not is_task:
        names.append(Name(f"{name}.{DEF}", Kind.NODE_TEXT, path, DEF))
    if state in WAITING_STATES and not suspended:
        names.append(Name(f"{name}.{WHY}", Kind.NODE_TEXT, path, WHY))
    if is_task:
        present = set(task_files)
        names.extend(Name(f"{name}.{k}", Kind.TASK_FILE, path, k) for k in TASK_FILE_KINDS if k in present)
        names.extend(Name(f"{name}.{k}", Kind.TASK_FILE, path, k)
                     for k in sorted(k for k in present if EARLIER_SUBMIT.match(k)))
        if mirrored:
            names.append(Name(f"{name}.{MIRROR}", Kind.CONTROL, path, MIRROR))
    return names


def nodes_line(path: str, state: str, suspended: bool, kind: str, dir_components: Iterable[str]) -> str:
    """A line of .server/nodes: node path, displayed state, kind, and its status file below the server's
    top (as listed: directories with their CLASH_MARK), tab-separated."""
    name = path.rpartition("/")[2]
    status_file = "/".join([*dir_components, f"{name}.{status_code(state, suspended)}"])
    return f"{path}\t{'suspended' if suspended else state}\t{kind}\t{status_file}\n"


def server_dir_names() -> list[Name]:
    return [Name(f, Kind.EVENTS if f == EVENTS else Kind.SERVER_FILE, "/", f) for f in SERVER_FILES]


def mount_root_names(servers) -> list[Name]:
    """The mount point of a several-server mount: a directory per server, and the merged event log."""
    return [Name(MOUNT_EVENTS, Kind.EVENTS, "/", EVENTS)] + [Name(s, Kind.DIR, "/", s) for s in servers]


def directory_names(children: Iterable, *, root: bool = False) -> list[Name]:
    """All entries of a directory, given its child nodes (objects with path, name, is_task, state,
    suspended, files and children); the mount point also gets .server/."""
    names = [Name(SERVER_DIR, Kind.DIR, "/", SERVER_DIR)] if root else []
    children = list(children)
    siblings = {c.name for c in children}
    for c in children:
        parent = c.path.rpartition("/")[0] or "/"
        names.extend(node_names(parent, c.name, is_task=c.is_task, state=c.state, suspended=c.suspended,
                                task_files=c.files, has_children=bool(c.children),
                                mirrored=bool(getattr(c, "mirror", None)),
                                dir_name=directory_name(c.name, siblings)))
    return names
