"""The worker's copy of the definition, kept in step with news_local/sync_local, and the compact deltas
sent to the mount: only the nodes that changed, with their `.att` already rendered.  Part of
EcflowSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import calendar
import datetime
import time

import ecflow

from wffs.backend.ecflow import att as ecflow_att, local_proof, script as ecf_script, why as ecflow_why
from wffs.backend.ecflow.writes import MIRROR_VARIABLE
from wffs.backend.protocol import Missing

TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%b-%d %H:%M:%S")


def parse_time(text: str) -> float:
    """A state-change time as seconds since the epoch; 0.0 when unknown ('not-a-date-time').

    The 5.9 binding says '2026-11-26T00:21:22'; boost's other form is '2026-Nov-25 23:40:01' (UTC).
    """
    try:
        core = text.split(".")[0]
        return float(calendar.timegm(datetime.datetime.fromisoformat(core).utctimetuple()))  # fast: C
    except (ValueError, TypeError, AttributeError):
        pass
    for fmt in TIME_FORMATS:
        try:
            return float(calendar.timegm(time.strptime(text.split(".")[0], fmt)))
        except (ValueError, TypeError, AttributeError):
            continue
    return 0.0


def node_kind(node) -> str:
    if isinstance(node, ecflow.Suite):
        return "suite"
    if isinstance(node, ecflow.Family):
        return "family"
    if isinstance(node, ecflow.Alias):
        return "alias"
    return "task"


def children_of(node) -> list:
    kind = node_kind(node)
    if kind in ("suite", "family"):
        return list(node.nodes)
    if kind == "task":
        return list(node.aliases)
    return []


class DefinitionSync:
    """The cached definition and what the last delta reported per node."""

    def sync(self) -> bool:
        """Bring the cached definition in step; remember what changed until the next delta is sent.

        True when something changed.  `self.changed` is None when the whole definition must be taken
        as changed (the first sync, or a sync that could not say what changed).
        """
        if self.synced and not self.call(self.client.news_local):
            return False
        first = not self.synced
        if first and not self.version:
            # a small request first: a hung server does not answer it, while a big server's first view
            # takes seconds after it has answered, which the mount is told it may wait
            self.version = self.server_version()
            if self.version:
                self.report(f"the server answered ({self.version}); fetching its definition")
        self.call(self.client.sync_local)
        self.synced = True
        if first:
            self.report("definition received; making the tree")
        paths = set(self.client.changed_node_paths)
        if first or not paths:
            self.changed = None
        elif self.changed is not None:
            self.changed |= paths
        return True

    def op_sync(self):
        """A delta since the last call, None if the server has no news.  (What the last delta learnt of
        scripts is written here, after that delta went out: not on the way to a mount's first view.)"""
        self.manuals.save()
        news = self.sync()
        appeared = self.appeared_files()
        if appeared and self.changed is not None:
            self.changed |= appeared
        if not news and self.changed == set():
            return None
        changed, self.changed = self.changed, set()
        return self.delta(self.client.get_defs(), changed is None, changed or set())

    def delta(self, defs, full: bool, changed: set) -> dict:
        server_vars = tuple((v.name(), v.value()) for v in list(defs.server_variables) + list(defs.user_variables))
        if server_vars != self.server_vars:  # inherited by every node
            full = True
            self.server_vars = server_vars
        if self.files is None:
            self.files = local_proof.prove(self.files_mode, dict(server_vars),
                                           lambda: self.call(self.client.get_log, local_proof.LOG_LINES))
            full = full or self.files.local != self.local_files
            self.local_files = self.files.local
        records, seen = [], set()
        self.inheritance = ecflow_att.Inheritance(self.server_vars)  # shared by this delta's nodes
        self.include_check = ecf_script.IncludeCheck()
        stack = [(s, full) for s in reversed(list(defs.suites))]
        while stack:
            node, render_all = stack.pop()
            path = node.get_abs_node_path()
            seen.add(path)
            kids = children_of(node)
            cheap = self.cheap_fields(node, kids)
            # what a node passes down reaches every descendant's .att: a change there re-renders them
            passed = ecflow_att.inheritable_variables(node) if kids else ()
            passed_changed = self.variables.get(path, ()) != passed
            # why a waiting node waits depends on other nodes: worked out at every delta, sent on change
            why_changed = self.update_why(defs, node, path, cheap)
            if render_all or path in changed or self.sent.get(path) != cheap or passed_changed or why_changed:
                records.append(self.record(node, path, cheap))
                self.sent[path] = cheap
                self.variables[path] = passed
            for child in reversed(kids):
                stack.append((child, render_all or passed_changed))
        removed = [p for p in self.sent if p not in seen]
        for p in removed:
            self.sent.pop(p, None)
            self.variables.pop(p, None)
            self.whys.pop(p, None)
            self.local_paths.pop(p, None)
            self.awaited.pop(p, None)
        suites = [s.name() for s in defs.suites]
        if not self.version:
            self.version = self.server_version()
        server = {"state": str(defs.get_server_state()), "version": self.version, "suites": suites,
                  "files": self.files.render(), "files_local": self.files.local, "identity": self.identity()}
        return {"full": full, "records": records, "removed": removed, "server": server}

    #: Server variables that tell one server from another at the same host and port (a file cache's key).
    IDENTITY_VARIABLES = ("ECF_HOME", "ECF_LOG", "ECF_CHECK")

    def identity(self) -> str:
        found = dict(self.server_vars)
        return " ".join(found.get(name, "") for name in self.IDENTITY_VARIABLES)

    def update_why(self, defs, node, path: str, cheap: tuple) -> bool:
        """Keep self.whys[path] current for waiting nodes (the .why file); True if it changed."""
        state, suspended = cheap[0], cheap[1]
        why = ecflow_why.why(defs, node) if state in ecflow_why.WAITING and not suspended else None
        if self.whys.get(path) == why:
            return False
        if why is None:
            self.whys.pop(path, None)
        else:
            self.whys[path] = why
        return True

    @staticmethod
    def cheap_fields(node, kids) -> tuple:
        """What changes the file names and status content: state, suspension, since, children."""
        return (str(node.get_state()), node.is_suspended(), node.get_state_change_time(),
                tuple(c.name() for c in kids))

    def record(self, node, path: str, cheap: tuple) -> dict:
        state, suspended, since_text, children = cheap
        kind = node_kind(node)
        rec = {"path": path, "kind": kind, "state": state, "suspended": suspended,
               "since": parse_time(since_text), "children": children, "files": {}}
        generated = ecflow_att.generated_variables(node)  # for .att and, of a task, where its files are
        rec["att"] = ecflow_att.render(node, kind, state, suspended, since_text, self.inheritance, generated)
        rec["why"] = self.whys.get(path)
        if kind in ("task", "alias"):
            rec["files"] = self.task_files(node, dict(generated))
            rec["values"] = ecflow_att.current_state(node)
            own = dict(ecflow_att.own_variables(node))
            if MIRROR_VARIABLE in own:
                rec["mirror"] = own[MIRROR_VARIABLE]
        return rec

    def known_node(self, path: str):
        """A node as of the last sync (what the mount's snapshot shows); synced now only if unknown."""
        defs = self.client.get_defs() if self.synced else None
        node = defs.find_abs_node(path) if defs is not None else None
        return node if node is not None else self.node(path)

    def node(self, path: str):
        """A node of the definition brought in step now (for writes and for a mirror's remote)."""
        self.sync()
        node = self.client.get_defs().find_abs_node(path)
        if node is None:
            raise Missing(f"no node {path} on {self.host}:{self.port}")
        return node
