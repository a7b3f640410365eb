"""A task's files where the server's own files are visible on this machine (proven by local_proof): which
exist and their sizes, found at the task's record, so that listings need no call, and the manual taken
from the script when that is exactly what the server would send.  Part of EcflowSession (see
session.py), whose attributes it uses."""

from __future__ import annotations

import os
from typing import Optional

import ecflow

from wffs.backend.capped import served_size
from wffs.backend.ecflow import att as ecflow_att, script as ecf_script

#: Variables with which the server finds a script somewhere other than ECF_SCRIPT.
SCRIPT_ELSEWHERE = ("ECF_FILES", "ECF_FETCH", "ECF_SCRIPT_CMD")
LOCAL_PATH_VARS = {"job": "ECF_JOB", "out": "ECF_JOBOUT", "ecf": "ECF_SCRIPT"}


class LocalFiles:
    """The files of a task on this machine: where they are, which exist, how big they are served."""

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
