"""A task's job files, node texts and server files, and the state a mirror following a task reads.
Part of CylcSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import os

from wffs.backend.capped import read_capped
from wffs.backend.cylc import map as cylc_map
from wffs.backend.cylc.map import CylcTask
from wffs.backend.protocol import Missing, Unavailable


def job_file(base: str, latest: int, kind: str) -> str:
    """The file of a job-file kind (cylc_map.job_kind) in a task's job directory; ValueError if none."""
    number, file_name = cylc_map.parse_kind(kind, latest)
    if number < 1:
        raise ValueError(kind)
    return os.path.join(base, f"{number:02d}", file_name)


class WorkflowReads:
    """Reads: op_read, op_read_many, op_node_text, op_server_file, op_node_state."""

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
