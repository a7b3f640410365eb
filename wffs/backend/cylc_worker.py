"""The Cylc 8 worker process: the only code that talks to a Cylc scheduler.

Cylc's client runs an asyncio loop over ZMQ; it runs here, in a process of its own per workflow, which the
mount talks to over a pipe (wffs.backend.protocol), times out and restarts (wffs.backend.worker), so that
it never runs inside the mount's trio loop and every call has a deadline.

A refresh (`sync`) costs one scheduler request when nothing changed (`workflows{lastUpdated}`, ~150-200 ms)
and two when something did (then `pb_entire_workflow`: the whole data store in one protobuf).  Tasks that
left the scheduler's window (finished, or the whole run once the scheduler has stopped) come from the
workflow database `log/db`, opened read-only and read again only when it changed.  Job files are found on
disk under `log/job/<cycle>/<task>/<NN>/` and stat'ed when a task's record is made, so listings need no
further call; files of active tasks are stat'ed again at every refresh.  Each task record also carries
`job_dir` (its job directory and latest submit number), from which the mount (CylcBackend) reads job
files itself, so that a worker waiting for a stalled scheduler delays no read.

Run as `python -m wffs.backend.cylc_worker WORKFLOW_ID`.
"""

from __future__ import annotations

import argparse
import atexit
import calendar
import os
import shutil
import sqlite3
import sys
import time
from typing import Callable, Optional

from wffs.backend import cylc_map, protocol
from wffs.backend.capped import read_capped, served_size
from wffs.backend.protocol import Missing, Unavailable
from wffs.backend.cylc_map import ACTIVE, CylcTask

LAST_UPDATED = "{ workflows { id lastUpdated status } }"
#: Job files of a task are stat'ed again at every refresh while active, and this long after it finished.
SETTLE_SECONDS = 60.0


def parse_time(text) -> float:
    """Cylc's ISO 8601 UTC times ('2026-11-26T02:27:57Z', in the db also '...+00:00'); 0.0 when unknown."""
    if not text:
        return 0.0
    core = str(text).replace("+00:00", "").rstrip("Z").split(".")[0]
    try:
        return float(calendar.timegm(time.strptime(core, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


def name_of(ns_id: str) -> str:
    """'FAM' for '~u/wf//$namespace|FAM' and for '~u/wf//1/FAM'."""
    return ns_id.rpartition("|")[2].rpartition("/")[2]


def stamp_time(stamp: str) -> float:
    try:
        return float(stamp.rpartition("@")[2])
    except ValueError:
        return 0.0


def run_dir_of(workflow: str) -> str:
    return os.path.join(os.path.expanduser("~"), "cylc-run", workflow)


class CylcSession:
    def __init__(self, workflow: str, max_file_size: int, timeout: float,
                 report: Callable[[str], None] = lambda text: None):
        self.workflow = workflow
        self.report = report  # how a first sync says it is under way (protocol.reporter)
        self.run_dir = run_dir_of(workflow)
        self.max_file_size = max_file_size
        self.timeout = timeout
        self.client = None
        self.last_updated: Optional[float] = None
        self.pb = None  # the last PbEntireWorkflow
        self.status = "unknown"
        self.db_sig = None
        self.db_tasks: dict = {}  # (cycle, name) -> CylcTask from the database
        self.first_parent: dict = {}  # namespace -> first parent (from the scheduler, else the db)
        self.observed: dict = {}  # (cycle, name) -> ((state, held), time of the last change seen)
        self.file_cache: dict = {}  # (cycle, name, submits, state) -> files, for tasks that are done
        self.sent: dict = {}
        self.paths: dict = {}  # task path -> CylcTask
        self.live: dict = {}  # what live_files() found at the last delta
        self.version = ""
        self.synced = False

    # ---- the scheduler -------------------------------------------------------------------------
    def request(self, command: str, args: Optional[dict] = None, timeout: Optional[float] = None):
        from cylc.flow.exceptions import ClientError, ClientTimeout, CylcError, WorkflowStopped

        try:
            if self.client is None:
                from cylc.flow.network.client import WorkflowRuntimeClient

                self.client = WorkflowRuntimeClient(self.workflow, timeout=self.timeout)
            return self.client.serial_request(command, args, timeout=timeout)
        except WorkflowStopped:
            self.drop_client()
            raise Unavailable("stopped") from None
        except (ClientTimeout, ClientError, CylcError, OSError) as e:
            self.drop_client()
            raise Unavailable(" ".join(str(e).split())[:300] or type(e).__name__) from None

    def drop_client(self) -> None:
        """Close the client's socket; the next request makes a new one (the scheduler may have moved)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.stop(stop_loop=False)
            except Exception:  # closing is best effort
                pass

    def graphql(self, query: str) -> dict:
        return self.request("graphql", {"request_string": query, "variables": {}})

    def fetch_scheduler(self) -> bool:
        """Bring self.pb in step with the scheduler; True if it changed.  A stopped scheduler: pb None."""
        try:
            answer = self.graphql(LAST_UPDATED)
            if not self.synced:  # a small request: the whole workflow, next, may take a while
                self.report("the scheduler answered; fetching the workflow")
            flows = answer.get("workflows") or []
            last = flows[0]["lastUpdated"] if flows else None
            if self.pb is not None and last == self.last_updated:
                return False
            from cylc.flow.data_messages_pb2 import PbEntireWorkflow

            # the first one may be big: the mount allows a first sync FULL_SYNC_TIMEOUT (60 s)
            data = self.request("pb_entire_workflow", timeout=None if self.synced else max(self.timeout, 30.0))
            pb = PbEntireWorkflow()
            pb.ParseFromString(data)
            self.pb, self.last_updated = pb, pb.workflow.last_updated
            self.status = pb.workflow.status or "running"
            self.version = "cylc-flow " + pb.workflow.cylc_version
            return True
        except Unavailable as e:
            if not os.path.isdir(self.run_dir):
                raise Unavailable(f"no workflow {self.workflow} ({self.run_dir}: not a directory)") from None
            if str(e) != "stopped" and not self.stopped():
                raise
            if not self.synced:
                self.report("the workflow is stopped; reading its database")
            changed = self.pb is not None or self.status != "stopped"
            self.pb, self.last_updated, self.status = None, None, "stopped"
            return changed

    def stopped(self) -> bool:
        return not os.path.exists(os.path.join(self.run_dir, ".service", "contact"))

    # ---- the database --------------------------------------------------------------------------
    def db_path(self) -> str:
        return os.path.join(self.run_dir, "log", "db")

    def read_db(self) -> bool:
        """Read the database again if it changed since; True if it did."""
        path = self.db_path()
        try:
            st = os.stat(path)
        except OSError:
            changed = self.db_sig is not None
            self.db_sig, self.db_tasks = None, {}
            return changed
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == self.db_sig:
            return False
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
            try:
                states = con.execute("SELECT cycle, name, status, submit_num, time_updated, flow_nums "
                                     "FROM task_states ORDER BY time_updated").fetchall()
                jobs = con.execute("SELECT cycle, name, submit_num, time_submit, time_run, time_run_exit, "
                                   "submit_status, run_status, run_signal, job_id, platform_name FROM task_jobs "
                                   "ORDER BY submit_num").fetchall()
                try:
                    held = set(con.execute("SELECT cycle, name FROM task_pool WHERE is_held = 1").fetchall())
                except sqlite3.Error:
                    held = set()
            finally:
                con.close()
        except sqlite3.Error:
            return False  # being written: read it at the next refresh (self.db_sig unchanged)
        tasks = {}
        for cycle, name, status, submit_num, updated, flow_nums in states:
            tasks[(cycle, name)] = CylcTask(cycle, name, status or "waiting", held=(cycle, name) in held,
                                            submits=submit_num or 0, flow_nums=flow_nums or "",
                                            since=parse_time(updated), source="database")
        for cycle, name, submit, t_sub, t_run, t_exit, sub_status, run_status, signal, job_id, platform in jobs:
            task = tasks.get((cycle, name))
            if task is None:
                continue
            if sub_status not in (None, 0):
                state = "submit-failed"
            elif run_status is None:
                state = "running" if t_run else "submitted"
            else:
                state = "succeeded" if run_status == 0 else "failed"
            task.jobs.append((submit, state, t_sub, t_run, t_exit, job_id, platform))
        self.db_tasks, self.db_sig = tasks, sig
        return True

    def db_first_parents(self) -> dict:
        """First parents from the processed flow.cylc when the scheduler is not there to say."""
        found: dict = {}  # (the database has no namespace tree: the processed flow.cylc has)
        config_dir = os.path.join(self.run_dir, "log", "config")
        try:
            names = sorted(n for n in os.listdir(config_dir) if n.endswith(".cylc"))
        except OSError:
            return found
        text = ""
        for candidate in ("flow-processed.cylc", *reversed(names)):
            try:
                with open(os.path.join(config_dir, candidate), errors="replace") as f:
                    text = f.read()
                break
            except OSError:
                continue
        return inherits_of(text)

    # ---- building the tree ---------------------------------------------------------------------
    def scheduler_tasks(self) -> list:
        pb = self.pb
        jobs = {j.id: j for j in pb.jobs}
        tasks = []
        for t in pb.task_proxies:
            task = CylcTask(t.cycle_point, t.name, t.state, held=t.is_held, queued=t.is_queued,
                            runahead=t.is_runahead, retry=t.is_retry, wallclock=t.is_wallclock,
                            xtriggered=t.is_xtriggered, submits=t.job_submits, flow_nums=t.flow_nums,
                            since=stamp_time(t.stamp))
            task.outputs = sorted((o.label, o.satisfied) for o in t.outputs.values())
            task.prerequisites = [(c.task_proxy.rpartition("//")[2] + ":" + (c.req_state or c.message),
                                   c.satisfied) for p in t.prerequisites for c in p.conditions]
            task.xtriggers = sorted((x.label, x.id, x.satisfied) for x in t.xtriggers.values())
            for job_id in t.jobs:
                j = jobs.get(job_id)
                if j is not None:
                    task.jobs.append((j.submit_num, j.state, j.submitted_time, j.started_time, j.finished_time,
                                      j.job_id, j.platform))
            task.jobs.sort()
            tasks.append(task)
        return tasks

    def all_tasks(self) -> list:
        live = self.scheduler_tasks() if self.pb is not None else []
        in_window = {(t.cycle, t.name) for t in live}
        tasks = live + [t for key, t in self.db_tasks.items() if key not in in_window]
        now = time.time()
        for task in tasks:
            key = (task.cycle, task.name)
            db = self.db_tasks.get(key)
            flags = (task.state, task.held)
            seen = self.observed.get(key)
            if seen is None:
                changed_at = 0.0
            elif seen[0] != flags:
                changed_at = now
            else:
                changed_at = seen[1]
            self.observed[key] = (flags, changed_at)
            db_time = db.since if db is not None and db.state == task.state else 0.0
            task.since = max(db_time, changed_at) or task.since or db_time
        return tasks

    def namespace_tree(self) -> dict:
        if self.pb is not None:
            tree = {name_of(d.id): name_of(d.first_parent) for d in list(self.pb.tasks) + list(self.pb.families)
                    if d.first_parent}
            self.first_parent = tree
        elif not self.first_parent:
            self.first_parent = self.db_first_parents()
        return self.first_parent

    def family_native(self) -> dict:
        if self.pb is None:
            return {}
        return {(f.cycle_point, f.name): (f.state, f.is_held) for f in self.pb.family_proxies}

    def job_base(self, task: CylcTask) -> str:
        return os.path.join(self.run_dir, "log", "job", task.cycle, task.name)

    def latest_submit(self, task: CylcTask) -> int:
        """The newest job directory NN of the task's current submit number (0: none)."""
        try:
            numbers = [int(n) for n in os.listdir(self.job_base(task)) if n.isdigit()]
        except OSError:
            return 0
        return max([n for n in numbers if n <= task.submits] or [0])

    def files_of(self, task: CylcTask) -> dict:
        """{kind: (served size, mtime)} of the task's job files on disk (see cylc_map.job_kind)."""
        settled = task.state not in ACTIVE and time.time() - task.since > SETTLE_SECONDS
        key = (task.cycle, task.name, task.submits, task.state)
        if settled and key in self.file_cache:
            return self.file_cache[key]
        base = os.path.join(self.run_dir, "log", "job", task.cycle, task.name)
        try:
            numbers = sorted(int(n) for n in os.listdir(base) if n.isdigit())
        except OSError:
            numbers = []
        latest = max([n for n in numbers if n <= task.submits] or [0])
        files = {}
        for number in numbers:
            if number > latest:
                continue
            for kind, file_name in cylc_map.JOB_FILES.items():
                try:
                    st = os.stat(os.path.join(base, f"{number:02d}", file_name))
                except OSError:
                    continue
                files[cylc_map.job_kind(number, latest, kind)] = (served_size(st.st_size, self.max_file_size),
                                                                  st.st_mtime)
        if settled:
            self.file_cache[key] = files
        return files

    # ---- operations ------------------------------------------------------------------------------
    def op_sync(self):
        """A delta since the last call, None if nothing changed: neither the scheduler's data (its
        lastUpdated), nor the database, nor the job files of active (or just finished) tasks."""
        news = self.fetch_scheduler()
        news = self.read_db() or news
        if self.synced and not news and self.live_files() == self.live:
            return None
        records, self.paths, cycles = cylc_map.build_records(
            self.all_tasks(), self.namespace_tree(), self.files_of, self.family_native())
        for rec in records:  # where the job files are: the mount reads them from disk, not through us
            task = self.paths.get(rec["path"]) if rec["kind"] == "task" else None
            if task is not None:
                rec["job_dir"] = (self.job_base(task), self.latest_submit(task))
        self.live = self.live_files()
        full = not self.synced
        changed, removed = cylc_map.delta(records, self.sent, full)
        self.synced = True
        if not changed and not removed and not full:
            return None
        server = {"state": self.status, "version": self.version or "cylc-flow", "suites": cycles}
        return {"full": full, "records": changed, "removed": removed, "server": server}

    def live_files(self) -> dict:
        """The job files of tasks whose files may still change (stat'ed again: a few stats a refresh)."""
        now = time.time()
        return {p: self.files_of(t) for p, t in self.paths.items()
                if t.state in ACTIVE or now - t.since < SETTLE_SECONDS}

    def task(self, path: str) -> CylcTask:
        task = self.paths.get(path)
        if task is None:
            raise Missing(f"no task {path} in {self.workflow}")
        return task

    def file_path(self, path: str, kind: str) -> str:
        task = self.task(path)
        if kind not in self.files_of(task):
            raise Missing(f"{path}: no {kind} file")
        return job_file(self.job_base(task), self.latest_submit(task), kind)

    def op_read(self, path: str, kind: str) -> bytes:
        try:
            local = self.file_path(path, kind)
        except ValueError:
            raise Missing(f"{path}: no {kind} file") from None
        return read_capped(local, self.max_file_size)

    def op_read_many(self, items) -> dict:
        out = {}
        for path, kind in items:
            try:
                out[(path, kind)] = self.op_node_text(path, kind) if kind in ("why", "def") else self.op_read(path, kind)
            except (Missing, Unavailable):
                continue
        return out

    def op_node_text(self, path: str, kind: str) -> bytes:
        if kind == "why":
            task = self.paths.get(path)
            text = cylc_map.task_why(task) if task is not None else None
            if text is None:
                members = sorted(t.id for p, t in self.paths.items() if p.startswith(path.rstrip("/") + "/")
                                 and t.state == "waiting")
                text = ("waiting tasks (see their .why): " + " ".join(members) + "\n").encode()
            return text
        if kind == "def":
            prefix = path.rstrip("/") + "/"
            lines = [f"# {path}: the tasks below it, as Cylc ids (the definition is .server/suites.def)"]
            lines += [f"{t.id}\t{t.state}" for p, t in sorted(self.paths.items()) if p.startswith(prefix)]
            return ("\n".join(lines) + "\n").encode()
        raise Missing(f"no {kind} text for nodes")

    def op_server_file(self, name: str) -> bytes:
        if name == "log":
            return self.tail(os.path.join(self.run_dir, "log", "scheduler", "log"))
        if name == "suites.def":
            config_dir = os.path.join(self.run_dir, "log", "config")
            try:
                names = sorted(n for n in os.listdir(config_dir) if n.endswith(".cylc"))
            except OSError:
                names = []
            for candidate in (["flow-processed.cylc"] if "flow-processed.cylc" in names else []) + names[::-1]:
                return self.tail(os.path.join(config_dir, candidate))
            return self.tail(os.path.join(self.run_dir, "flow.cylc"))
        if name == "stats":
            counts: dict = {}
            for t in self.paths.values():
                counts[t.state] = counts.get(t.state, 0) + 1
            lines = [f"workflow {self.workflow}", f"status {self.status}", f"run_dir {self.run_dir}",
                     f"tasks {len(self.paths)}"] + [f"  {s} {n}" for s, n in sorted(counts.items())]
            return ("\n".join(lines) + "\n").encode()
        if name == "zombies":
            return b"# Cylc has no zombies (ecFlow only)\n"
        raise Missing(f"no server file {name}")

    def tail(self, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise Missing(f"{path}: {e.strerror}") from None
        cap = self.max_file_size
        return data if cap <= 0 or len(data) <= cap else data[-cap:]

    # ---- what a mirror following a Cylc task needs ----------------------------------------------
    def op_node_state(self, path: str) -> dict:
        """The remote task's state in ecFlow's terms: /CYCLE/TASK (or its path in the mount)."""
        cycle, _, name = cylc_map.split_remote(path).partition("/")
        self.op_sync()
        for task in self.paths.values():
            if task.cycle == cycle and task.name == name:
                return {"state": cylc_map.mirror_state(task.state), "cylc_state": task.state,
                        "labels": {}, "meters": {}, "events": {}}
        raise Missing(f"no task {cycle}/{name} in {self.workflow}")


def job_file(base: str, latest: int, kind: str) -> str:
    """The file of a job-file kind (cylc_map.job_kind) in a task's job directory; ValueError if none."""
    number, file_name = cylc_map.parse_kind(kind, latest)
    if number < 1:
        raise ValueError(kind)
    return os.path.join(base, f"{number:02d}", file_name)


def inherits_of(text: str) -> dict:
    """{namespace: first parent} from a processed flow.cylc ([runtime] sections and `inherit =`)."""
    tree, section, in_runtime = {}, None, False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("[[["):  # [[[environment]]] and the like: not the namespace's own settings
            section = None
            continue
        if line.startswith("[[") and in_runtime:
            section = [n.strip() for n in line.strip("[] ").split(",") if n.strip()]
            for n in section:
                if n != cylc_map.ROOT:
                    tree.setdefault(n, cylc_map.ROOT)
            continue
        if line.startswith("["):
            in_runtime = line.strip("[] ") == "runtime"
            section = None
            continue
        if section and line.partition("=")[0].strip() == "inherit":
            first = line.partition("=")[2].split(",")[0].strip().strip("'\"")
            for n in section:
                tree[n] = first or cylc_map.ROOT
    return tree


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wffs.backend.cylc_worker")
    parser.add_argument("workflow")
    parser.add_argument("--max-file-size", type=int, default=64 << 20)
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds per scheduler request")
    args = parser.parse_args(argv)
    private = os.environ.get(protocol.PRIVATE_DIR_ENV)
    if private:
        atexit.register(shutil.rmtree, private, True)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything cylc prints goes to stderr, never into the protocol stream
    session = CylcSession(args.workflow, args.max_file_size, args.timeout, report=protocol.reporter(answers))
    protocol.serve(session, sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
