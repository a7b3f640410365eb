"""Cylc 8 as the wffs tree (pure: no I/O, no cylc import; the worker feeds it plain data).

    /<cycle>                     a directory per cycle point (node kind "suite")
    /<cycle>/<FAM>/...           Cylc's first-parent family tree below root (kind "family")
    /<cycle>/<FAM>/<task>.<sta>  tasks as files, as for ecFlow

Task states map to the layout's displayed states (STATE_MAP); held is the suspended flag; `expired` has a
code of its own.  A family's or cycle's displayed state is worked out from its children as ecFlow does
(aborted wins, then active, submitted, queued, expired, complete), so that a cycle part of which is known
from the database only gets the same state as one the scheduler still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from wffs.backend.timefmt import iso_utc_or

#: Cylc task state -> displayed state (layout.STATE_CODES).
STATE_MAP = {
    "waiting": "queued",
    "preparing": "submitted",
    "submitted": "submitted",
    "running": "active",
    "succeeded": "complete",
    "failed": "aborted",
    "submit-failed": "aborted",
    "expired": "expired",
}
#: Which child state a family shows: the first of these that any child has.
PRECEDENCE = ("aborted", "active", "submitted", "queued", "expired", "complete", "unknown")
#: Cylc states in which a job may still be writing its files.
ACTIVE = ("preparing", "submitted", "running")
FLAGS = ("held", "queued", "runahead", "retry", "wallclock", "xtriggered")
ROOT = "root"


@dataclass
class CylcTask:
    """One task instance as the scheduler (or, once it left the window, the database) knows it."""

    cycle: str
    name: str
    state: str  # Cylc's own state name
    held: bool = False
    queued: bool = False
    runahead: bool = False
    retry: bool = False
    wallclock: bool = False
    xtriggered: bool = False
    submits: int = 0  # the latest submit number (job directory NN), 0: never submitted
    flow_nums: str = ""
    since: float = 0.0
    outputs: list = field(default_factory=list)  # [(label, satisfied)]
    prerequisites: list = field(default_factory=list)  # [(condition, satisfied)]
    xtriggers: list = field(default_factory=list)  # [(label, signature, satisfied)]
    jobs: list = field(default_factory=list)  # [(submit, state, submitted, started, finished, job_id, platform)]
    source: str = "scheduler"  # or "database"

    @property
    def id(self) -> str:
        return f"{self.cycle}/{self.name}"

    def flags(self) -> dict:
        return {f: getattr(self, f) for f in FLAGS}


def displayed(cylc_state: str) -> str:
    return STATE_MAP.get(cylc_state, "unknown")


def family_state(states) -> str:
    present = set(states)
    for state in PRECEDENCE:
        if state in present:
            return state
    return "unknown"


def cycle_key(cycle: str):
    """Integer cycle points in number order, date-times (one format per workflow) as text."""
    return (0, int(cycle), "") if cycle.isdigit() else (1, 0, cycle)


def family_chain(name: str, first_parent: dict) -> list[str]:
    """The families above a namespace, outermost first, root left out: ['BIG', 'FAM'] for a task in
    FAM whose first parent is BIG."""
    chain, seen = [], {name}
    parent = first_parent.get(name)
    while parent and parent != ROOT and parent not in seen:
        chain.append(parent)
        seen.add(parent)
        parent = first_parent.get(parent)
    return list(reversed(chain))


def task_path(task: CylcTask, first_parent: dict) -> str:
    return "/" + "/".join([task.cycle, *family_chain(task.name, first_parent), task.name])


def yes(value) -> str:
    return "yes" if value else "no"


def render_task_att(task: CylcTask, path: str) -> bytes:
    lines = [f"task {task.id}", f"path {path}", f"cylc_state {task.state}",
             f"state {displayed(task.state)}{' (held)' if task.held else ''}", f"since {iso_utc_or(task.since, '-')}",
             f"source {task.source}", f"submits {task.submits}"]
    if task.flow_nums:
        lines.append(f"flow_nums {task.flow_nums}")
    lines.append("flags")
    lines += [f"  {name} {yes(value)}" for name, value in task.flags().items()]
    lines.append("outputs")
    lines += [f"  {label} {yes(done)}" for label, done in task.outputs] or ["  -"]
    lines.append("prerequisites")
    lines += [f"  {cond} {yes(done)}" for cond, done in task.prerequisites] or ["  -"]
    lines.append("xtriggers")
    lines += [f"  {label} {sig} {yes(done)}" for label, sig, done in task.xtriggers] or ["  -"]
    lines.append("jobs")
    lines += [f"  {submit:02d} {state or '-'} submitted {sub or '-'} started {start or '-'} finished {end or '-'}"
              f" job_id {job_id or '-'} platform {platform or '-'}"
              for submit, state, sub, start, end, job_id, platform in task.jobs] or ["  -"]
    return ("\n".join(lines) + "\n").encode()


def task_why(task: CylcTask) -> Optional[bytes]:
    """Why a waiting task does not run yet (its .why), None for other states."""
    if task.state != "waiting":
        return None
    reasons = ["held"] if task.held else []
    if task.queued:
        reasons.append("queued: waiting for its internal queue's limit")
    if task.runahead:
        reasons.append("runahead: beyond the runahead limit")
    reasons += [f"prerequisite {cond} is not satisfied" for cond, done in task.prerequisites if not done]
    reasons += [f"xtrigger {label} ({sig}) is not satisfied" for label, sig, done in task.xtriggers if not done]
    if task.retry:
        reasons.append("retry: waiting for its retry delay")
    if task.wallclock:
        reasons.append("waiting for its clock trigger")
    if not reasons:
        reasons.append("waiting for the scheduler (no unsatisfied prerequisite known)")
    return ("\n".join(reasons) + "\n").encode()


def render_family_att(path: str, kind: str, state: str, native: str, counts: dict, held: bool) -> bytes:
    lines = [f"{'cycle' if kind == 'suite' else 'family'} {path.strip('/')}", f"path {path}",
             f"state {state}", f"cylc_state {native or '-'}", f"held {yes(held)}", "tasks"]
    lines += [f"  {s} {n}" for s, n in sorted(counts.items())] or ["  -"]
    return ("\n".join(lines) + "\n").encode()


def build_records(tasks: list, first_parent: dict, files_of: Callable[[CylcTask], dict],
                  family_native: Optional[dict] = None) -> tuple[list, dict, list]:
    """Every node of the tree as delta records: (records, {task path: task}, cycles in order).

    first_parent: {namespace: its first parent} for tasks and families (root has none).
    files_of(task): {kind: (size, mtime)} of the task's files.
    family_native: {(cycle, family): (Cylc state, held)} for the family proxies the scheduler has.
    """
    family_native = family_native or {}
    by_path = {}
    for task in tasks:
        path = task_path(task, first_parent)
        old = by_path.get(path)
        if old is None or (old.source == "database" and task.source == "scheduler"):
            by_path[path] = task
    children: dict[str, set] = {}
    groups: dict[str, list] = {}  # container path -> its tasks (any depth)
    for path in by_path:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/" + "/".join(parts[:depth])
            children.setdefault(parent, set()).add(parts[depth])
            groups.setdefault(parent, []).append(by_path[path])
    records = []
    for path in sorted(children, key=lambda p: (p.count("/"), p)):
        parts = path.strip("/").split("/")
        kind = "suite" if len(parts) == 1 else "family"
        members = groups[path]
        state = family_state(displayed(t.state) for t in members)
        native, held = family_native.get((parts[0], parts[-1] if kind == "family" else ROOT), ("", False))
        counts: dict = {}
        for t in members:
            counts[t.state] = counts.get(t.state, 0) + 1
        why = None
        if state == "queued":
            waiting = sorted((cycle_key(t.cycle), t.name) for t in members if t.state == "waiting")
            waiting = [f"{parts[0]}/{name}" for _, name in waiting]
            why = ("waiting tasks (see their .why): " + " ".join(waiting) + "\n").encode()
        # never suspended: Cylc holds tasks, not families (a family proxy is "held" when a task in it is)
        records.append({"path": path, "kind": kind, "state": state, "suspended": False,
                        "since": max((t.since for t in members), default=0.0),
                        "att": render_family_att(path, kind, state, native, counts, bool(held)),
                        "children": tuple(sorted(children[path], key=cycle_key if kind == "suite" else str)),
                        "files": {}, "why": why})
    for path, task in sorted(by_path.items()):
        records.append({"path": path, "kind": "task", "state": displayed(task.state), "suspended": task.held,
                        "since": task.since, "att": render_task_att(task, path), "children": (),
                        "files": files_of(task), "values": {}, "why": task_why(task) if not task.held else None})
    cycles = sorted({t.cycle for t in by_path.values()}, key=cycle_key)
    return records, by_path, cycles


def delta(records: list, sent: dict, full: bool) -> tuple[list, list]:
    """(records that differ from what was sent, paths sent before and now gone); updates `sent`."""
    now = {r["path"]: r for r in records}
    changed = [r for r in records if full or sent.get(r["path"]) != r]
    removed = [p for p in sent if p not in now]
    sent.clear()
    sent.update(now)
    return changed, removed


def job_kind(submit: int, latest: int, file_kind: str) -> str:
    """The file kind of a job file: job/out/err for the latest submit, NN.job/NN.out/NN.err for earlier."""
    return file_kind if submit == latest else f"{submit:02d}.{file_kind}"


JOB_FILES = {"job": "job", "out": "job.out", "err": "job.err"}


def parse_kind(kind: str, latest: int) -> tuple[int, str]:
    """(submit number, file name in the job directory) for a file kind; ValueError if not one."""
    number, dot, base = kind.rpartition(".")
    if base not in JOB_FILES:
        raise ValueError(kind)
    if not dot:
        return latest, JOB_FILES[base]
    if not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise ValueError(kind)
    return int(number), JOB_FILES[base]


def mirror_state(cylc_state: str) -> str:
    """What an ecFlow task mirroring a Cylc task is set to: its displayed state, but an expired task (one
    that will never run) aborts the mirror, so that nothing downstream runs as if it had succeeded."""
    state = displayed(cylc_state)
    return "aborted" if state == "expired" else state


def split_remote(path: str) -> str:
    """A mirror's remote path, /CYCLE/TASK or /CYCLE/FAM/.../TASK (as in the mount), as Cylc's CYCLE/TASK."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"{path!r}: a Cylc task is /CYCLE/TASK")
    return f"{parts[0]}/{parts[-1]}"
