"""The workflow as the wffs tree (map.py maps it), and the deltas sent to the mount: tasks from the
scheduler and the database, with their job files found on disk under `log/job/<cycle>/<task>/<NN>/` and
stat'ed when a task's record is made, so that listings need no further call (those of active tasks again
at every refresh).  Part of CylcSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import os
import time

from wffs.backend.capped import served_size
from wffs.backend.cylc import map as cylc_map
from wffs.backend.cylc.map import ACTIVE, CylcTask

#: Job files of a task are stat'ed again at every refresh while active, and this long after it finished.
SETTLE_SECONDS = 60.0


def name_of(ns_id: str) -> str:
    """'FAM' for '~u/wf//$namespace|FAM' and for '~u/wf//1/FAM'."""
    return ns_id.rpartition("|")[2].rpartition("/")[2]


def stamp_time(stamp: str) -> float:
    try:
        return float(stamp.rpartition("@")[2])
    except ValueError:
        return 0.0


class WorkflowSync:
    """op_sync: a delta when the scheduler's data, the database or an active task's job files changed."""

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
