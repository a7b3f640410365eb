"""The ecFlow worker process: the only code that calls the `ecflow` binding.

The binding holds the GIL for a whole server call (a stalled server froze every thread for 20-50 s), so
it runs here, in a process of its own per server, which the mount talks to over a pipe, times out and
restarts.  It keeps one copy of the definition in step with news_local/sync_local and answers with
compact deltas: only the nodes that changed, with their `.att` already rendered.

Run as `python -m wffs.backend.ecflow_worker HOST PORT`; requests and answers are framed by
wffs.backend.protocol on stdin/stdout.
"""

from __future__ import annotations

import argparse
import atexit
import calendar
import datetime
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import ecflow

from wffs.backend import (credentials, cut_check, ecf_script, ecflow_att, ecflow_why, ecflow_wire, local_proof,
                          protocol)
from wffs.backend.capped import read_capped, read_head, served_size, truncate
from wffs.backend.protocol import Inexact, Missing, Unavailable
from wffs.backend.script_manuals import ScriptManuals, default_file

#: ecflow_client's --file default is 10000 lines and keeps the END of longer files: ask for all of it.
ALL_LINES = "100000000"
#: Where a mirror's configuration is kept on the local server, with the node (visible in ecflow_ui).
MIRROR_VARIABLE = "WFFS_MIRROR"
#: Keeps the local server from submitting a mirrored task; this value marks it as ours to remove.
DUMMY_VARIABLE = "ECF_DUMMY_TASK"
DUMMY_MARK = "wffs mirror"
STATES = ("unknown", "queued", "submitted", "active", "complete", "aborted")
FILE_TYPES = {"ecf": "script", "job": "job", "out": "jobout", "man": "manual"}
#: Variables with which the server finds a script somewhere other than ECF_SCRIPT.
SCRIPT_ELSEWHERE = ("ECF_FILES", "ECF_FETCH", "ECF_SCRIPT_CMD")
LOCAL_PATH_VARS = {"job": "ECF_JOB", "out": "ECF_JOBOUT", "ecf": "ECF_SCRIPT"}
#: Variables with which the server runs a command for a script: its manual is the server's to tell.
SCRIPT_BY_COMMAND = ("ECF_FETCH", "ECF_SCRIPT_CMD")
#: Environment with which the binding logs in otherwise than as this process's user (see ecflow_wire).
LOGIN_ENV = ("ECF_USER", "ECF_CUSTOM_PASSWD", "ECF_PASSWD", "ECF_SSL")
#: Set (to anything) in the mount's environment: every file request through the binding, checked by cut_check.
NO_WIRE_ENV = "WFFS_NO_WIRE"


def one_line(text: str, limit: int = 300) -> str:
    """An ecFlow error message on one line, for status files and logs."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def use_credentials(client, auth_file: str) -> str:
    """Log in with the user and password of a JSON file; '' when set, else why not (never the password)."""
    try:
        with open(os.path.expanduser(auth_file)) as f:
            creds = json.load(f)
        user = creds.get("username", creds.get("user"))  # ecFlow's own files say "username"
        password = creds["password"]
        if not isinstance(user, str) or not isinstance(password, str):
            raise TypeError
    except OSError as e:
        return f"auth file {auth_file}: {e.strerror}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"auth file {auth_file}: not JSON with \"username\" (or \"user\") and \"password\""
    return credentials.apply(client, user, password)


class EcflowSession:
    """One client, one cached definition, and what the last delta reported per node."""

    def __init__(self, host: str, port: int, max_file_size: int, *, ssl: bool = False,
                 auth: Optional[str] = None, script_manuals: Optional[str] = None, files: str = "auto",
                 report: Callable[[str], None] = lambda text: None):
        self.host, self.port = host, port
        self.auth_file = auth  # read when first needed, again after a failure (the user may fix it)
        self.logged_in = not auth
        self.ssl = ssl
        self.client = ecflow.Client(host, str(port))
        self.client.set_connection_attempts(1)
        self.client.set_retry_connection_period(0)
        self.client.set_auto_sync(False)
        self.max_file_size = max_file_size
        self.synced = False
        self.changed: set | None = None  # paths changed since the last delta; None: everything
        self.sent: dict[str, tuple] = {}  # path -> the cheap fields last reported
        self.whys: dict[str, bytes] = {}  # path -> why text last reported, for waiting nodes
        self.local_paths: dict[str, dict] = {}  # task path -> {kind: file on disk} as found at its last record
        self.variables: dict[str, tuple] = {}  # path -> variables it passed down when last rendered
        self.server_vars: tuple = ()
        self.files_mode = files  # auto: the disk only where it is proven to be the server's (local_proof)
        self.files: Optional[local_proof.FilesDecision] = None  # None: to be decided at the next delta
        self.local_files = False
        self.awaited: dict[str, tuple] = {}  # task path -> job/out kinds not on disk yet while it runs
        self.version = ""
        self.inheritance = ecflow_att.Inheritance(())
        self.include_check = ecf_script.IncludeCheck()  # include files looked at once per delta
        self.manuals = ScriptManuals(script_manuals)  # what each script says of its manual, between mounts
        self.report = report  # how a long call says it is under way (protocol.reporter)
        #: file requests spoken on the wire (exact, one request each) unless the binding must log in
        self.wire = (not ssl and not auth and not any(os.environ.get(name) for name in LOGIN_ENV)
                     and not os.environ.get(NO_WIRE_ENV))
        self.login = pwd.getpwuid(os.geteuid()).pw_name

    # ---- server calls -------------------------------------------------------------------------
    def prepare(self) -> None:
        """SSL and credentials, checked before the first call and after every failure of theirs."""
        if self.ssl:
            try:
                self.client.enable_ssl()  # raises at once when the certificate is missing
            except RuntimeError as e:
                raise Unavailable(f"ssl: {one_line(str(e))}") from None
            self.ssl = False
        if not self.logged_in:
            error = use_credentials(self.client, self.auth_file)
            if error:
                raise Unavailable(error)
            self.logged_in = True

    def call(self, fn, *args):
        self.prepare()
        try:
            return fn(*args)
        except RuntimeError as e:
            text = str(e)
            if "not exist" in text or "Could not find" in text or "no such" in text.lower():
                raise Missing(one_line(text)) from None
            if "authentication failed" in text:
                self.logged_in = not self.auth_file  # read the auth file again: it may have been fixed
            if "connect" in text.lower():  # down, or restarted: its change numbers start again from a checkpoint
                self.forget_definition()
            raise Unavailable(one_line(text) or "server error") from None

    def forget_definition(self) -> None:
        """The next sync downloads the whole definition: after the server was away, its change numbers
        cannot tell what changed (a server restarted from its checkpoint counts from there again)."""
        if self.synced:
            self.client.reset()
            self.synced = False
            self.version = ""  # asked again first: its answer tells a slow server from a hung one (see sync)
            self.files = None  # and whose files these are: it may have been restarted elsewhere

    def op_ping(self):
        self.call(self.client.ping)
        return True

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
            # takes seconds after it has answered (50,000 tasks: 7 s), which the mount is told it may wait
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

    def server_version(self) -> str:
        try:
            return self.call(self.client.server_version)
        except (Unavailable, Missing):
            return ""

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

    def task_files(self, node, gen: dict) -> dict:
        """Which server-provided files exist, {kind: (size, mtime)}; size None: measured on lookup.

        Where the server's ECF_HOME is visible here, job and output exist if their files do and the
        script if ECF_SCRIPT does (or if the server may find it elsewhere: ECF_FILES, ECF_FETCH,
        ECF_SCRIPT_CMD); files read from disk (see local_path) get their served size here, so that
        listings need no further call.  Elsewhere the server is asked, file by file.
        """
        files = {}
        if not self.local_files:
            files["ecf"] = files["man"] = (None, 0.0)
            if node.get_int_try_no() > 0 and not node.get_flag().is_set(ecflow.FlagType.no_script):
                files["job"] = files["out"] = (None, 0.0)
            return files
        # a task that never ran has no job or output, whatever lies on disk: the server has no ECF_JOB for it
        kinds = ("ecf", "job", "out") if node.get_int_try_no() > 0 else ("ecf",)
        local = {kind: self.local_path(node, kind, gen) for kind in kinds}
        path = node.get_abs_node_path()
        self.local_paths[path] = local  # for reads: the same until the node changes
        script = None
        for kind, file in local.items():
            if not file:
                files[kind] = (None, 0.0)  # the server finds the script elsewhere
                continue
            try:
                st = os.stat(file)
            except OSError:
                continue
            if not os.access(file, os.R_OK):  # there, but not for us: the server sends it (see read)
                files[kind] = (None, st.st_mtime)
                continue
            files[kind] = (served_size(st.st_size, self.max_file_size), st.st_mtime)
            if kind == "ecf":
                script = st
        if "ecf" in files:  # the manual comes from the same script (local_path "man" is "ecf")
            files["man"] = (self.manual_size(node, local["ecf"], script), files["ecf"][1])
        running = str(node.get_state()) in ("submitted", "active")
        missing = tuple(k for k in ("job", "out") if local.get(k) and k not in files) if running else ()
        if missing:
            self.awaited[path] = missing
        else:
            self.awaited.pop(path, None)
        return files

    def appeared_files(self) -> set:
        """Tasks whose job or output file has appeared on disk since their last record, while they run:
        seen at the next refresh, though the server has no news of them."""
        return {path for path, kinds in self.awaited.items()
                if any(os.path.exists(self.local_paths[path][k]) for k in kinds)}

    def manual_size(self, node, script_path: str, st: Optional[os.stat_result]) -> Optional[int]:
        """The size of the manual as read from the script (see local_manual), None if only the server can
        tell; the script is read only if it changed since a mount last read it (see ScriptManuals)."""
        if st is None:
            return None
        try:
            found = self.manuals.manual(script_path, st)
        except OSError:
            return None
        if found is None:  # only the server can tell: no need for the node's variables
            return None
        where, micro = self.script_context(node, script_path)
        if micro != "%" or not self.include_check.harmless(found[1], **where):
            return None
        return served_size(found[0], self.max_file_size)

    def op_read(self, path: str, kind: str) -> bytes:
        return self.read(path, kind)

    def read(self, path: str, kind: str) -> bytes:
        known = self.local_paths.get(path) if self.local_files else None
        if known is not None and kind in known:
            local = known[kind]  # found at the node's last record: no lookup
        else:
            local = self.local_path(self.known_node(path), kind)
        if local and not os.access(local, os.R_OK) and os.path.exists(local):
            local = ""  # there, but not for us: the server sends it
        if local and kind != "man":
            return read_capped(local, self.max_file_size)
        if local:  # the manual, from the script's head
            try:
                script, _size = read_head(local, self.max_file_size)
            except OSError as e:
                raise Missing(f"{local}: {e.strerror}") from None
            manual = self.local_manual(self.known_node(path), local, script)
            if manual is not None:
                return truncate(manual, self.max_file_size)
        return truncate(self.server_bytes(path, FILE_TYPES[kind]), self.max_file_size)

    def local_path(self, node, kind: str, gen: Optional[dict] = None) -> str:
        """The file on this machine that holds exactly what the server would send, or ''.

        Job and output are the files ECF_JOB and ECF_JOBOUT name.  The script is ECF_SCRIPT unless the
        server may look elsewhere (ECF_FILES, ECF_FETCH, ECF_SCRIPT_CMD); the manual comes from the
        script where ecf_script can extract it exactly.  (Checked on 5.9.2: the server sends a script
        byte for byte, and unlike the binding's get_file, bytes that are not UTF-8 survive.)
        """
        if not self.local_files:
            return ""
        if kind in ("ecf", "man"):
            if any(not node.find_parent_variable(v).empty() for v in SCRIPT_ELSEWHERE):
                return ""
            kind = "ecf"
        if gen is None:
            gen = dict(ecflow_att.generated_variables(node))
        return gen.get(LOCAL_PATH_VARS[kind], "")

    def local_manual(self, node, script_path: str, script: bytes):
        where, micro = self.script_context(node, script_path)
        return ecf_script.manual_of(script, micro=micro, **where)

    @staticmethod
    def script_context(node, script_path: str) -> tuple[dict, str]:
        """Where the server looks for a script's includes, and its micro character."""
        def var(name):
            return node.find_parent_variable_sub_value(name)

        where = {"script_dir": os.path.dirname(script_path), "ecf_home": var("ECF_HOME"),
                 "include_dirs": [d for d in var("ECF_INCLUDE").split(":") if d]}
        return where, var("ECF_MICRO") or "%"

    def server_bytes(self, path: str, file_type: str) -> bytes:
        """A file as the server sends it: exact, or Inexact."""
        if self.wire:
            try:
                return self.wire_bytes(path, file_type)
            except ecflow_wire.NotSpoken as e:
                self.wire = False
                print(f"wffs: {self.host}:{self.port}: file requests through the binding from now on: {e}",
                      file=sys.stderr, flush=True)
        return self.checked_bytes(path, file_type)

    #: Seconds a file request on the wire may wait for the server (the mount's --timeout ends it sooner).
    WIRE_TIMEOUT = 60.0

    def wire_bytes(self, path: str, file_type: str) -> bytes:
        try:
            return ecflow_wire.fetch(self.host, self.port, path, file_type, max_lines=int(ALL_LINES),
                                     user=self.login, timeout=self.WIRE_TIMEOUT)
        except ecflow_wire.ServerRefused as e:
            if "authentication failed" in str(e):
                raise Unavailable(one_line(str(e))) from None
            raise Missing(one_line(str(e))) from None
        except OSError as e:
            if isinstance(e, ConnectionError):  # down, or restarted (as call() takes it)
                self.forget_definition()
            raise Unavailable(f"{self.host}:{self.port}: {e.strerror or e}") from None

    def checked_bytes(self, path: str, file_type: str) -> bytes:
        """A file through the binding, checked to be whole (see cut_check): Inexact if it is not."""
        data = self.server_reply(path, file_type, ALL_LINES)
        lines = cut_check.probe_lines(data)
        if not cut_check.came_whole(data, self.server_reply(path, file_type, str(lines))):
            raise Inexact(f"{path} {file_type}: the server sends it cut short ({len(data)} bytes, then a "
                          f"different end): it holds a NUL byte, which ecFlow's file request cannot carry")
        return data

    def server_reply(self, path: str, file_type: str, lines: str) -> bytes:
        """The server's answer to a file request.  The binding decodes it as UTF-8 and fails on other bytes;
        the command-line client keeps them (and appends a newline)."""
        try:
            return self.call(self.client.get_file, path, file_type, lines).encode("utf-8", "surrogateescape")
        except UnicodeDecodeError:
            data = self.client_command(f"--file={path}", file_type, lines)
            return data[:-1] if data.endswith(b"\n") else data

    #: A batch answer stops growing past this many bytes: the rest is read one file at a time.
    BATCH_BYTES = 32 << 20

    def op_read_many(self, items) -> dict:
        """Several files or node texts at once ({(path, kind): bytes}): what a listing needs, in one round trip.
        Files that cannot be read are left out; the caller asks for them one by one."""
        def one(path, kind):
            data = self.op_node_text(path, kind) if kind in self.NODE_TEXTS else self.read(path, kind)
            return {(path, kind): data}

        return self.batch(items, one, (Missing, Unavailable, Inexact))

    def op_fetch_many(self, items, micros: Optional[dict] = None) -> dict:
        """Files straight from the server, for a server whose files are not on this machine: what one of the
        mount's extra readers does (it keeps no definition).  `micros`: {task path: ECF_MICRO} of the tasks
        whose manual may be taken from their script (op_manual_micros): a script asked for with its
        manual is one request for both where the script alone tells the manual.  Files the server has
        none of, or cannot send exactly, are left out (asked for one by one, they fail as they should); a
        server that does not answer fails the call.  On the wire, IN_FLIGHT requests at once."""
        micros = micros or {}
        wanted = set(items)

        def paired(path):
            return path in micros and (path, "ecf") in wanted and (path, "man") in wanted

        def one(path, kind):
            if kind == "man" and paired(path):
                return {}  # read with its script (below)
            data = truncate(self.server_bytes(path, FILE_TYPES[kind]), self.max_file_size)
            if kind == "ecf" and paired(path):
                manual = self.manual_from_script(data, micros[path])
                if manual is None:
                    manual = truncate(self.server_bytes(path, "manual"), self.max_file_size)
                return {(path, "ecf"): data, (path, "man"): manual}
            return {(path, kind): data}

        return self.batch(items, one, (Missing, Inexact), in_flight=self.IN_FLIGHT if self.wire else 1)

    #: Requests on the wire that one reader has in flight.
    IN_FLIGHT = 16

    def manual_from_script(self, script: bytes, micro: str) -> Optional[bytes]:
        """A task's manual taken from its script as the server sent it, or None if only the server can tell
        (an include, another micro character, a variable in the manual)."""
        parsed = ecf_script.parse(script) if micro == "%" else None
        if parsed is None or parsed[1]:
            return None
        return truncate(parsed[0], self.max_file_size)

    def op_manual_micros(self, paths) -> dict:
        """{path: ECF_MICRO} of the tasks among `paths` whose manual the server takes from their script file
        (no ECF_FETCH, no ECF_SCRIPT_CMD): op_fetch_many may then take it from the script."""
        defs = self.client.get_defs() if self.synced else None
        found = {}
        for path in paths:
            node = defs.find_abs_node(path) if defs is not None else None
            if not isinstance(node, ecflow.Task):
                continue
            if any(not node.find_parent_variable(v).empty() for v in SCRIPT_BY_COMMAND):
                continue
            found[path] = node.find_parent_variable_sub_value("ECF_MICRO") or "%"
        return found

    def batch(self, items, read_one, left_out, in_flight: int = 1) -> dict:
        """{(path, kind): bytes}: what read_one(path, kind) returns for the items ({item: bytes, ...}), less
        those whose read raises one of `left_out`, up to BATCH_BYTES.  The first file read is reported: the batch may then take longer than one call
        (a hung server answers none).  `in_flight` reads at once, in threads (for reads that wait on a
        socket: the binding holds the GIL)."""
        out, total = {}, 0

        def attempt(item):
            try:
                return read_one(*item)
            except left_out:
                return {}

        pool = ThreadPoolExecutor(in_flight) if in_flight > 1 else None
        results = pool.map(attempt, items) if pool else map(attempt, items)
        try:
            for found in results:
                if found and not out:
                    first = next(iter(found))
                    self.report(f"read {first[0]} {first[1]}; {len(items) - 1} more to read")
                out.update(found)
                total += sum(len(data) for data in found.values())
                if total > self.BATCH_BYTES:
                    break
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
        return out

    # ---- the few writes a mirror needs -------------------------------------------------------------
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

    def op_variables(self, path: str) -> dict:
        """Every variable visible from a node, to resolve %VAR% and the ECF_MIRROR_* defaults."""
        return ecflow_att.visible_variables(self.node(path), self.server_vars)

    def op_set_mirror(self, path: str, line: str) -> None:
        node = self.node(path)
        own = dict(ecflow_att.own_variables(node))
        if DUMMY_VARIABLE not in own:  # first, so that the server never submits a half-mirrored task
            self.set_variable(path, DUMMY_VARIABLE, DUMMY_MARK, exists=False)
        self.set_variable(path, MIRROR_VARIABLE, line, exists=MIRROR_VARIABLE in own)

    def op_clear_mirror(self, path: str) -> None:
        own = dict(ecflow_att.own_variables(self.node(path)))
        if MIRROR_VARIABLE in own:
            self.call(self.client.alter, path, "delete", "variable", MIRROR_VARIABLE)
        if own.get(DUMMY_VARIABLE) == DUMMY_MARK:
            self.call(self.client.alter, path, "delete", "variable", DUMMY_VARIABLE)

    def set_variable(self, path: str, name: str, value: str, exists: bool) -> None:
        self.call(self.client.alter, path, "change" if exists else "add", "variable", name, value)

    def op_node_state(self, path: str) -> dict:
        """A remote node's state and its labels, meters and events (what a mirror follows)."""
        node = self.node(path)
        return {"state": str(node.get_state()), **ecflow_att.current_state(node)}

    def op_set_state(self, path: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"not a state: {state}")
        self.call(self.client.force_state, path, getattr(ecflow.State, state))

    def op_set_values(self, path: str, labels: dict, meters: dict, events: dict) -> None:
        for name, value in labels.items():
            self.call(self.client.alter, path, "change", "label", name, value)
        for name, value in meters.items():
            self.call(self.client.alter, path, "change", "meter", name, str(value))
        for name, value in events.items():
            self.call(self.client.force_event, f"{path}:{name}", "set" if value else "clear")

    NODE_TEXTS = ("why", "def")

    def op_node_text(self, path: str, kind: str) -> bytes:
        """`why` (the server's explanation of why a node is not running) or `def` (a subtree's definition)."""
        node = self.known_node(path)
        if kind == "why":
            return ecflow_why.why(self.client.get_defs(), node)
        if kind == "def":
            return str(node).encode("utf-8", "surrogateescape")
        raise Missing(f"no {kind} text for nodes")

    def op_server_file(self, name: str) -> bytes:
        if name == "stats":
            return self.captured_stdout(self.client.stats)
        if name == "zombies":  # the binding's zombie_get is awkward; the CLI prints a readable table
            return self.client_command("--zombie_get")
        if name == "suites.def":
            self.sync()
            return self.definition_text()
        if name == "log":
            return self.log_tail()
        raise Missing(f"no server file {name}")

    def client_command(self, *args: str) -> bytes:
        argv = ["ecflow_client", f"--host={self.host}", f"--port={self.port}", *args]
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise Unavailable(f"{argv[0]} {args[0]}: {e}") from None
        if done.returncode != 0:
            raise Unavailable(done.stderr.decode(errors="replace").strip() or f"{argv[0]} failed")
        return done.stdout

    def definition_text(self) -> bytes:
        """The definition as `ecflow_client --get` prints it.  The server does not send its externs to
        clients; without them the text does not load back (a trigger or inlimit on a node that is not
        there), so they are worked out from the references, as the server itself does at --load."""
        defs = self.client.get_defs()
        defs.auto_add_externs(True)
        return str(defs).encode("utf-8", "surrogateescape")

    LOG_LINES = 10000

    def log_tail(self) -> bytes:
        text = self.call(self.client.get_log, self.LOG_LINES)
        head = (f"# wffs: the last {self.LOG_LINES} lines of the server log at most "
                f"(ecflow_client --log=get {self.LOG_LINES})\n")
        return head.encode() + text.encode("utf-8", "surrogateescape")

    def captured_stdout(self, fn) -> bytes:
        """Some client calls print instead of returning: catch what they write to fd 1."""
        sys.stdout.flush()
        saved = os.dup(1)
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 1)
            try:
                self.call(fn)
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
            tmp.seek(0)
            return tmp.read()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wffs.backend.ecflow_worker")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--max-file-size", type=int, default=64 << 20)
    parser.add_argument("--ssl", action="store_true")
    parser.add_argument("--user", help="the user name to connect as")
    parser.add_argument("--auth", help="JSON file with user and password")
    parser.add_argument("--files", choices=local_proof.MODES, default="auto",
                        help="where .ecf/.job/.out/.man come from: the disk here, the server, or decided by proof")
    parser.add_argument("--script-manuals", default=default_file(),
                        help="file that keeps what each script says of its manual between mounts ('': none)")
    args = parser.parse_args(argv)
    private = os.environ.get(protocol.PRIVATE_DIR_ENV)
    if private:  # the mount removes it too, unless the mount itself was killed
        atexit.register(shutil.rmtree, private, True)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the binding prints goes to stderr, never into the protocol stream
    session = EcflowSession(args.host, args.port, args.max_file_size, ssl=args.ssl, auth=args.auth,
                            script_manuals=args.script_manuals or None, files=args.files,
                            report=protocol.reporter(answers))
    if args.user:
        session.client.set_user_name(args.user)
        session.wire = False
    protocol.serve(session, sys.stdin.buffer, answers)
    session.manuals.save()  # the mount closed the pipe: what the last delta learnt
    return 0


if __name__ == "__main__":
    sys.exit(main())
