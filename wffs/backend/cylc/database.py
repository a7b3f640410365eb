"""The workflow database `log/db` and the processed flow.cylc: the tasks that left the scheduler's window,
and the whole run once the scheduler has stopped.  Part of CylcSession (see session.py), whose
attributes it uses."""

from __future__ import annotations

import calendar
import os
import sqlite3
import time

from wffs.backend.cylc import map as cylc_map
from wffs.backend.cylc.map import CylcTask


def parse_time(text) -> float:
    """Cylc's ISO 8601 UTC times ('2026-11-26T02:27:57Z', in the db also '...+00:00'); 0.0 when unknown."""
    if not text:
        return 0.0
    core = str(text).replace("+00:00", "").rstrip("Z").split(".")[0]
    try:
        return float(calendar.timegm(time.strptime(core, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


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


class RunDatabase:
    """The database, opened read-only and read again only when it changed."""

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
