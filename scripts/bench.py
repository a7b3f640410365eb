#!/usr/bin/env python3
"""wffs benchmark (issue 11): wffs against the limit (tmpfs), the FUSE floor and the ecflow_client way.

    bench.py [--scale 1k|10k|50k ...] [--idle-seconds 60] [--out run/bench]

For each scale, in one run: a real ecflow_server on loopback loaded with a generated suite
(scripts/gen_suite.py); the same tree copied from a wffs mount to a tmpfs mounted here (the limit); the
FUSE floor (scripts/bench_floor.py: a minimal static pyfuse3 file system serving that copy from memory);
and wffs itself. Each command runs cold (fresh mount, page/dentry caches dropped) and warm (again, right
after). Then what users do today with ecflow_client for the same jobs, the requests the server receives
(its --stats counters) for a cold mount + find and for an idle mount, peak memory and mount time, and
freshness (delay from a state change on the server to its status file in the mount, idle and under load).

Prints tables with ratios and every goal of the issue as pass/miss (targets, not assertions), and saves
OUT/bench-<time>.json (everything measured), .txt (the printed tables) and .png (scripts/bench_plot.py;
needs matplotlib, which `make bench` installs when missing).

Everything this starts is cleaned up on exit, error or signal: mounts (fusermount -u, then -uz), the
tmpfs, servers, subprocesses.
"""

from __future__ import annotations

import argparse
import atexit
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from wffs import mount_table
from wffs.backend.protocol import PRIVATE_DIR_ENV  # noqa: E402
from testbed.devserver import EcflowServer  # noqa: E402
from bench_report import (COMMANDS, META, POLL, REFRESH, TAR_EXCLUDE, WFFS_IDLE_AFTER, Report,  # noqa: E402
                          fmt_s, goals, median, per_k_table, print_scale)
from bench_wire import CountingForwarder, wire_delta  # noqa: E402

PY = sys.executable
SCALES = {"1k": (2, 10, 50), "10k": (10, 20, 50), "50k": (50, 20, 50)}  # suites, families, tasks
IDLE_FRESHNESS_WAIT = 70.0  # "no reader for > 70 s"
CLI_SAMPLE = 300  # files fetched with one ecflow_client process each
ECFLOW_FUSE = "/usr/bin/ecflow_fuse"


# Counts the wffs operations (FUSE handlers and backend calls) of an instrumented mount: the benchmark's
# analysis pass only, never the timed runs. argv: COUNTS_FILE, then the wffs command line.
COUNTING_WRAPPER = r'''
import collections, json, signal, sys, time
counts, seconds = collections.Counter(), collections.Counter()
path = sys.argv[1]
sys.argv = ["wffs"] + sys.argv[2:]
from wffs import fuse_ops
try:
    from wffs.backend.ecflow.backend import EcflowBackend
except ImportError:  # a revision from before wffs/backend/ecflow/
    from wffs.backend.ecflow import EcflowBackend
def wrap(label, fn, by_kind=False):
    async def counted(self, *a, **k):
        kind = a[1] if by_kind and len(a) > 1 and isinstance(a[1], str) and len(a[1]) <= 12 else None
        key = label + ("." + kind if kind else "")
        counts[key] += 1
        t = time.perf_counter()
        try:
            return await fn(self, *a, **k)
        finally:
            seconds[key] += time.perf_counter() - t
    return counted
for name in ("lookup", "getattr", "opendir", "readdir", "releasedir", "open", "read", "release", "statfs",
             "getxattr", "listxattr", "access", "flush", "forget"):
    fn = getattr(fuse_ops.Operations, name, None)
    if fn is not None:
        setattr(fuse_ops.Operations, name, wrap("fuse." + name, fn))
import inspect
for name, fn in list(vars(EcflowBackend).items()):
    if inspect.iscoroutinefunction(fn) and not name.startswith("_") and name != "close":
        setattr(EcflowBackend, name, wrap("backend." + name, fn, by_kind=True))
def dump(*_):
    with open(path, "w") as f:
        json.dump({"counts": counts, "seconds": seconds}, f)
signal.signal(signal.SIGUSR1, dump)
import atexit
atexit.register(dump)
from wffs.cli import main
main()
'''

T0 = time.monotonic()


def progress(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f} s] {text}", flush=True)


# =============================================================================== cleanup


class Cleanup:
    """Everything started here, undone on exit whatever happens (try/finally, atexit and signals)."""

    def __init__(self):
        self.fuse: List["FuseProc"] = []
        self.tmpfs: List[Path] = []
        self.servers: List[EcflowServer] = []
        self.procs: List[subprocess.Popen] = []
        self.forwarders: List[CountingForwarder] = []
        self.done = False

    def run(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut cleanup short
                signal.signal(sig, signal.SIG_IGN)
        for proc in list(self.procs):
            kill_group(proc)
        self.procs.clear()
        for fp in list(self.fuse):
            try:
                fp.stop()
            except Exception as e:  # keep cleaning up
                print(f"cleanup: {fp.mnt}: {e}", file=sys.stderr)
        self.fuse.clear()
        for wire in self.forwarders:
            wire.close()
        self.forwarders.clear()
        for path in list(self.tmpfs):
            if mount_table.is_mounted(str(path)):
                subprocess.run(["umount", str(path)], stderr=subprocess.DEVNULL)
            if mount_table.is_mounted(str(path)):
                subprocess.run(["umount", "-l", str(path)], stderr=subprocess.DEVNULL)
        self.tmpfs.clear()
        for server in list(self.servers):
            try:
                server.stop()
            except Exception as e:
                print(f"cleanup: server {server.port}: {e}", file=sys.stderr)
        self.servers.clear()


CLEANUP = Cleanup()
atexit.register(CLEANUP.run)


def _on_signal(signum, frame):
    raise SystemExit(f"bench: {signal.Signals(signum).name}: cleaning up")


def kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


# =============================================================================== small helpers


def run_shell(cmd: str, timeout: float) -> Dict[str, Any]:
    """A shell pipeline (pipefail), wall-clock timed, killed as a group on timeout."""
    started = time.perf_counter()
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    CLEANUP.procs.append(proc)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        out, err = proc.communicate()
    seconds = time.perf_counter() - started
    CLEANUP.procs.remove(proc)
    return {"seconds": seconds, "rc": proc.returncode, "timeout": timed_out,
            "out": out.decode(errors="replace").strip()[-300:],
            "err": err.decode(errors="replace").strip()[:600]}


#: Set by drop_caches, cleared by the next mount: that mount starts with its own code out of the page cache.
DROPPED = [False]


def drop_caches() -> bool:
    """sync; echo 3 > /proc/sys/vm/drop_caches (page cache, dentries, inodes), where permitted."""
    os.sync()
    DROPPED[0] = True
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def children(pid: int) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                if int(stat[stat.rfind(b")") + 2:].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


#: The ecFlow worker's module, as this revision and as earlier ones (measured with --wffs REV) run it.
ECFLOW_WORKERS = ("wffs.backend.ecflow.worker", "wffs.backend.ecflow_worker")


def is_ecflow_worker(command: str) -> bool:
    return any(module in command for module in ECFLOW_WORKERS)


def worker_dir(pid: int) -> str:
    """The private directory of a wffs worker process (its WFFS_WORKER_DIR), '' if unknown."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return ""
    prefix = PRIVATE_DIR_ENV.encode() + b"="
    return next((e[len(prefix):].decode() for e in env if e.startswith(prefix)), "")


def vm_kb(pid: Optional[int], field: str = "VmHWM") -> Optional[int]:
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_io(pid: Optional[int]) -> Dict[str, int]:
    try:
        with open(f"/proc/{pid}/io") as f:
            return {k: int(v) for k, v in (line.split(":") for line in f)}
    except (OSError, ValueError, TypeError):
        return {}


# =============================================================================== server statistics


def parse_stats(text: str) -> Dict[str, int]:
    """The request counters of `ecflow_client --stats` (the lines after "Request's per ...")."""
    counters: Dict[str, int] = {}
    started = False
    for line in text.splitlines():
        if line.strip().startswith("Request's per"):
            started = True
            continue
        if started:
            m = re.match(r"\s+(\S.*?)\s{2,}(\d+)\s*$", line)
            if m:
                counters[m.group(1)] = int(m.group(2))
    return counters


def stats_snapshot(server: EcflowServer, wire: Optional[CountingForwarder] = None) -> Dict[str, Any]:
    """The server's request counters (and the bytes through `wire`, the forwarder a mount talks through)."""
    done = server.cli("--stats", timeout=30)
    io = proc_io(server.pid)
    snap = {"time": time.time(), "counters": parse_stats(done.stdout.decode(errors="replace")),
            "server_wchar": io.get("wchar"), "server_rchar": io.get("rchar")}
    if wire is not None:
        snap["wire"] = wire.snapshot()
    return snap


def stats_delta(before: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    """Requests between two snapshots; 'stats cmd' (our own probes) left out."""
    names = set(before["counters"]) | set(after["counters"])
    counters = {n: after["counters"].get(n, 0) - before["counters"].get(n, 0) for n in sorted(names)}
    counters = {n: v for n, v in counters.items() if v and n != "stats cmd"}
    out = {"requests": counters, "seconds": after["time"] - before["time"]}
    if before.get("server_wchar") is not None and after.get("server_wchar") is not None:
        out["server_bytes_written"] = after["server_wchar"] - before["server_wchar"]
    if "wire" in before and "wire" in after:
        out["wire"] = wire_delta(before["wire"], after["wire"])
    return out


# =============================================================================== mounts


class FuseProc:
    """A FUSE file system run as a subprocess (wffs or the floor), mounted on mnt, always torn down."""

    def __init__(self, label: str, argv: List[str], mnt: Path, log: Path, cwd: Path = ROOT,
                 env: Optional[Dict[str, str]] = None):
        self.label, self.argv, self.mnt, self.log, self.cwd = label, argv, Path(mnt), Path(log), Path(cwd)
        self.env = env or {}
        self.proc: Optional[subprocess.Popen] = None
        self.mount_seconds: Optional[float] = None
        self.worker: Optional[int] = None
        self.hwm: Dict[str, Optional[int]] = {}

    def start(self, timeout: float) -> "FuseProc":
        """Start; mount time is from the start until `ls MNT` lists the suites."""
        self.mnt.mkdir(parents=True, exist_ok=True)
        if mount_table.is_mounted(str(self.mnt)):
            mount_table.unmount(str(self.mnt), lazy=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.after_drop, DROPPED[0] = DROPPED[0], False
        started = time.perf_counter()
        with open(self.log, "ab") as log:
            env = dict(os.environ, **self.env,
                       PYTHONPATH=os.pathsep.join(filter(None, [str(self.cwd), os.environ.get("PYTHONPATH")])))
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        CLEANUP.fuse.append(self)
        deadline = started + timeout
        while not mount_table.is_mounted(str(self.mnt)):
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label} did not mount {self.mnt}; {self.log} ends with:\n{self.tail()}")
            time.sleep(0.005)
        while True:  # ready: `ls MNT` lists the suites (a mount may answer before its first view is in)
            done = subprocess.run(["ls", str(self.mnt)], capture_output=True,
                                  timeout=max(1.0, deadline - time.perf_counter()))
            if done.returncode != 0:
                self.stop()
                raise RuntimeError(f"ls {self.mnt} failed: {done.stderr.decode(errors='replace')}")
            if done.stdout.strip():
                break
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label}: {self.mnt} still lists no suite after {timeout:.0f} s")
            time.sleep(0.02)
        self.mount_seconds = time.perf_counter() - started
        workers = [p for p in children(self.proc.pid) if is_ecflow_worker(cmdline(p))]
        self.worker = workers[0] if workers else None
        return self

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def peak_rss(self) -> Dict[str, Optional[int]]:
        """VmHWM in kB of the mount process and of its worker (if any), read now."""
        if self.proc is not None and self.proc.poll() is None:
            self.hwm = {"mount_kb": vm_kb(self.proc.pid), "worker_kb": vm_kb(self.worker)}
        return self.hwm

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def stop(self) -> None:
        if self in CLEANUP.fuse:
            CLEANUP.fuse.remove(self)
        if self.proc is None:
            return
        self.peak_rss()
        if mount_table.is_mounted(str(self.mnt)):
            mount_table.unmount(str(self.mnt), timeout=10)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
        if mount_table.is_mounted(str(self.mnt)):
            mount_table.unmount(str(self.mnt), lazy=True, timeout=10)
        if self.worker and os.path.exists(f"/proc/{self.worker}") and is_ecflow_worker(cmdline(self.worker)):
            private = worker_dir(self.worker)  # the mount removes it when it stops its worker; here it cannot
            try:
                os.kill(self.worker, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if private:
                shutil.rmtree(private, ignore_errors=True)
        self.proc = None


# =============================================================================== one scale


class ScaleRun:
    def __init__(self, scale: str, out: Path, idle_seconds: float, wffs_tree: Path = ROOT, rounds: int = 3):
        self.wffs_tree = wffs_tree
        self.rounds = rounds
        self.client_rounds: List[Dict[str, Any]] = []  # the ecflow_client way's backup, one per round
        self.scale = scale
        self.suites, self.families, self.tasks_per = SCALES[scale]
        self.ntasks = self.suites * self.families * self.tasks_per
        self.k = self.ntasks / 1000.0
        self.dir = (out / scale).resolve()
        self.idle_seconds = idle_seconds
        self.cmd_timeout = max(120.0, 40.0 * self.k)
        self.mount_timeout = max(60.0, 6.0 * self.k)
        self.server: Optional[EcflowServer] = None
        self.r: Dict[str, Any] = {"scale": scale, "tasks": self.ntasks, "mounts": [], "notes": [], "rounds": rounds}
        self.plans = []
        self.mount_count = 0

    # ---------------------------------------------------------------- set-up
    def prepare_dir(self) -> None:
        """A fresh directory: leftovers of an interrupted run (mounts first) are removed."""
        if self.dir.exists():
            with open("/proc/self/mounts") as f:
                stale = [mount_table._unescape(line.split()[1]) for line in f]
            for path in stale:
                if path == str(self.dir) or path.startswith(str(self.dir) + "/"):
                    progress(f"{self.scale}: unmounting a leftover mount {path}")
                    if not mount_table.unmount(path, lazy=True):
                        subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    def start_server(self) -> None:
        from gen_suite import generate

        self.server = EcflowServer(self.dir / "home")
        CLEANUP.servers.append(self.server)
        self.server.start()
        progress(f"{self.scale}: ecflow_server on port {self.server.port}; generating "
                 f"{self.suites} suites x {self.families} families x {self.tasks_per} tasks")
        result = generate(self.server, self.dir / "home", self.suites, self.families, self.tasks_per)
        self.plans = result.plans
        self.r["workload"] = {"port": self.server.port, "tasks": result.tasks, "states": result.states,
                              "with_output": result.with_output, "generate_seconds": result.seconds}
        progress(f"{self.scale}: loaded {result.tasks} tasks {result.states}, {result.with_output} with "
                 f"job output, in {result.seconds:.1f} s")

    def wffs(self, name: str, counted: Optional[Path] = None, via: Optional[CountingForwarder] = None) -> FuseProc:
        """A wffs mount of the server (`via`: through a forwarder that counts the bytes on the wire)."""
        self.mount_count += 1
        mnt = self.dir / f"mnt-{name}"
        log = self.dir / "logs" / f"wffs-{name}.log"
        host, port = ("127.0.0.1", via.port) if via else ("localhost", self.server.port)
        tail = ["mount", host, str(port), str(mnt), "--foreground",
                "--refresh", str(REFRESH), "--log", str(log)]
        if counted is not None:
            argv = [PY, "-c", COUNTING_WRAPPER, str(counted)] + tail
        else:
            argv = [PY, "-m", "wffs.cli"] + tail
        # a HOME of this run's own: what wffs keeps between mounts (~/.cache/wffs) starts empty with the run,
        # so its first mount (the tmpfs copy) reads every script, as a user's first mount of a server does
        return FuseProc(f"wffs[{name}]", argv, mnt, log, cwd=self.wffs_tree, env={"HOME": str(self.dir / "user")})

    def floor(self, name: str, counts: Path) -> FuseProc:
        mnt = self.dir / f"mnt-floor-{name}"
        log = self.dir / "logs" / f"floor-{name}.log"
        argv = [PY, str(HERE / "bench_floor.py"), str(self.tmpfs), str(mnt), "--counts", str(counts)]
        return FuseProc(f"floor[{name}]", argv, mnt, log)

    def note_mount(self, fp: FuseProc, phase: str) -> None:
        """Mount time and peak memory of every mount, read just before it is unmounted."""
        rss = fp.peak_rss()
        self.r["mounts"].append({"label": fp.label, "phase": phase, "mount_seconds": fp.mount_seconds,
                                 "after_drop_caches": getattr(fp, "after_drop", False),
                                 "vmhwm_mount_kb": rss.get("mount_kb"), "vmhwm_worker_kb": rss.get("worker_kb")})

    def copy_to_tmpfs(self) -> None:
        """tmpfs mounted here; the tree copied into it from a wffs mount (rsync -a, without .server)."""
        self.tmpfs = self.dir / "tmpfs"
        self.tmpfs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=755", "tmpfs", str(self.tmpfs)], check=True)
        CLEANUP.tmpfs.append(self.tmpfs)
        fp = self.wffs("copy").start(self.mount_timeout)
        progress(f"{self.scale}: wffs mounted in {fp.mount_seconds:.2f} s; copying the tree to tmpfs (rsync -a)")
        excludes = " ".join(f"--exclude=/{n}" for n in META)
        res = run_shell(f"rsync -a {excludes} {fp.mnt}/ {self.tmpfs}/", self.cmd_timeout * 2)
        self.note_mount(fp, "copy")
        fp.stop()
        if res["rc"] not in (0, 24) or res["timeout"]:
            raise RuntimeError(f"rsync from wffs failed: {res}")
        files, dirs, size = 0, 0, 0
        ecf, out = [], []
        for top, dnames, fnames in os.walk(self.tmpfs):
            dirs += len(dnames)
            for n in fnames:
                files += 1
                p = os.path.join(top, n)
                size += os.path.getsize(p)
                node = "/" + os.path.relpath(p, self.tmpfs).rpartition(".")[0]
                if n.endswith(".ecf"):
                    ecf.append(node)
                elif n.endswith(".out"):
                    out.append(node)
        self.scripts, self.outputs = sorted(ecf), sorted(out)
        self.r["tree"] = {"directories": dirs + 1, "files": files, "bytes": size, "scripts": len(ecf),
                          "outputs": len(out), "copy_seconds": res["seconds"], "copy_rc": res["rc"]}
        progress(f"{self.scale}: tmpfs copy: {dirs + 1} directories, {files} files, {size / 1e6:.1f} MB "
                 f"({res['seconds']:.1f} s through wffs)")

    # ---------------------------------------------------------------- commands
    def run_command(self, name: str, template: str, path: Path) -> Dict[str, Any]:
        res = run_shell(template.format(m=path), self.cmd_timeout)
        if res["timeout"] or res["rc"] != 0:
            self.r["notes"].append(f"{name} on {path}: rc {res['rc']}{' (timeout)' if res['timeout'] else ''}: "
                                   f"{res['err'][:200]}")
        return res

    def battery(self, ways: Dict[str, Callable[..., Optional[Dict[str, Any]]]]) -> Dict[str, Dict[str, Any]]:
        """Every command, self.rounds times, each way in turn within a round (a fresh mount each): the ways
        compared are measured side by side, in the same noise.  Each way's median round per command (see
        median_round); the tar archive's members are listed in the first round only.  A way's round may
        be None (nothing to measure for that command)."""
        results: Dict[str, Dict[str, Any]] = {way: {} for way in ways}
        for name, template, _ in COMMANDS:
            rounds: Dict[str, List[Dict[str, Any]]] = {way: [] for way in ways}
            for i in range(self.rounds):
                for way, one_round in ways.items():
                    entry = one_round(name, template, first=(i == 0))
                    if entry is not None:
                        rounds[way].append(entry)
            for way, entries in rounds.items():
                if entries:
                    results[way][name] = median_round(entries)
                    if name == "tar":
                        results[way][name]["manifest"] = entries[0]["manifest"]
        return results

    def battery_tmpfs(self) -> Dict[str, Any]:
        return self.battery({"tmpfs": self.round_tmpfs})["tmpfs"]

    def round_tmpfs(self, name: str, template: str, first: bool) -> Dict[str, Any]:
        dropped = drop_caches()
        cold = self.run_command(name, template, self.tmpfs)
        warm = self.run_command(name, template, self.tmpfs)
        entry = {"cold": cold, "warm": warm, "dropped_caches": dropped}
        if name == "tar" and first:
            entry["manifest"] = manifest(self.tmpfs, self.cmd_timeout)
        return entry

    def round_floor(self, name: str, template: str, first: bool) -> Dict[str, Any]:
        counts = self.dir / "logs" / f"floor-{name}.counts.json"
        fp = self.floor(name, counts).start(self.mount_timeout)
        dropped = drop_caches()
        cold = self.run_command(name, template, fp.mnt)
        ops_cold = signal_counts(fp, counts)
        warm = self.run_command(name, template, fp.mnt)
        ops_all = signal_counts(fp, counts)
        entry = {"cold": cold, "warm": warm, "dropped_caches": dropped, "mount_seconds": fp.mount_seconds,
                 "ops_cold": ops_cold, "ops_warm": subtract(ops_all, ops_cold)}
        if name == "tar" and first:
            entry["manifest"] = manifest(fp.mnt, self.cmd_timeout)
        self.note_mount(fp, f"floor {name}")
        fp.stop()
        progress(f"{self.scale}:   floor {name}: cold {fmt_s(cold['seconds'])} s, warm {fmt_s(warm['seconds'])} s")
        return entry

    def round_wffs(self, name: str, template: str, first: bool) -> Dict[str, Any]:
        s0 = stats_snapshot(self.server)
        fp = self.wffs(f"cmd-{name}").start(self.mount_timeout)
        s1 = stats_snapshot(self.server)
        dropped = drop_caches()
        cold = self.run_command(name, template, fp.mnt)
        s2 = stats_snapshot(self.server)
        warm = self.run_command(name, template, fp.mnt)
        s3 = stats_snapshot(self.server)
        entry = {"cold": cold, "warm": warm, "dropped_caches": dropped, "mount_seconds": fp.mount_seconds,
                 "server_mount": stats_delta(s0, s1), "server_cold": stats_delta(s1, s2),
                 "server_warm": stats_delta(s2, s3)}
        if name == "tar" and first:
            entry["manifest"] = manifest(fp.mnt, self.cmd_timeout)
        entry["rss"] = fp.peak_rss()
        self.note_mount(fp, f"wffs {name}")
        fp.stop()
        progress(f"{self.scale}:   wffs {name}: cold {fmt_s(cold['seconds'])} s, warm {fmt_s(warm['seconds'])} s"
                 f" (mount {fp.mount_seconds:.2f} s; server requests cold: "
                 f"{sum(entry['server_cold']['requests'].values())})")
        return entry

    def tools(self) -> Dict[str, Any]:
        """wffs-grep of the aborted nodes' outputs, and of every output, cold (fresh mount) and warm."""
        results = {}
        tool = f"cd {self.wffs_tree} && {PY} -m wffs.tools.grep"
        for name, args in (("abo", "--state abo"), ("all", "")):
            template = f"{tool} ERROR {{m}} {args} | wc -l"
            rounds = []
            for _ in range(self.rounds):
                fp = self.wffs(f"wffs-grep-{name}").start(self.mount_timeout)
                dropped = drop_caches()
                cold = self.run_command(f"wffs-grep {args}", template, fp.mnt)
                warm = self.run_command(f"wffs-grep {args}", template, fp.mnt)
                self.note_mount(fp, f"wffs-grep {name}")
                fp.stop()
                rounds.append({"cold": cold, "warm": warm, "dropped_caches": dropped})
            results[name] = median_round(rounds)
            cold, warm = results[name]["cold"], results[name]["warm"]
            progress(f"{self.scale}:   wffs-grep ERROR MNT {args}: cold {fmt_s(cold['seconds'])} s, "
                     f"warm {fmt_s(warm['seconds'])} s ({cold['out']} lines)")
        return results

    def op_counts(self) -> Dict[str, Any]:
        """How many FUSE operations and backend calls reach wffs for some cold commands (an instrumented
        mount, not timed)."""
        results = {}
        for name in ("find", "ls_lR", "grep", "backup"):
            template = dict((n, t) for n, t, _ in COMMANDS)[name]
            counts = self.dir / "logs" / f"wffs-ops-{name}.json"
            fp = self.wffs(f"ops-{name}", counted=counts).start(self.mount_timeout)
            before = signal_counts(fp, counts, nested=True)
            drop_caches()
            res = self.run_command(name, template, fp.mnt)
            after = signal_counts(fp, counts, nested=True)
            self.run_command(name, template, fp.mnt)  # warm: what the kernel's caches leave to wffs
            warm = signal_counts(fp, counts, nested=True)
            fp.stop()
            results[name] = {"seconds_instrumented": res["seconds"],
                             "counts": subtract(after.get("counts", {}), before.get("counts", {})),
                             "handler_seconds": {k: round(v, 3) for k, v in subtract(
                                 after.get("seconds", {}), before.get("seconds", {})).items()},
                             "counts_warm": subtract(warm.get("counts", {}), after.get("counts", {}))}
        return results

    # ---------------------------------------------------------------- server cost, idle
    def cost_and_idle(self, meanwhile: Callable[[], None]) -> Dict[str, Any]:
        """Requests for a cold mount + find, then for idle_seconds of that mount left alone (sampled every
        5 s, for as long as `meanwhile` runs: things that do not talk to the server)."""
        wire = CountingForwarder(self.server.port).start()  # its bytes: what a network would carry
        CLEANUP.forwarders.append(wire)
        snap = lambda: stats_snapshot(self.server, wire)  # noqa: E731
        s0 = snap()
        fp = self.wffs("cost", via=wire).start(self.mount_timeout)
        s1 = snap()
        drop_caches()
        find = self.run_command("find", "find {m} | wc -l", fp.mnt)
        s2 = snap()
        result = {"mount": stats_delta(s0, s1), "find": stats_delta(s1, s2),
                  "mount_and_find": stats_delta(s0, s2), "find_seconds": find["seconds"],
                  "mount_seconds": fp.mount_seconds}
        samples = [s2]
        stop = threading.Event()

        def sampler():
            while not stop.wait(max(0.1, samples[-1]["time"] + 5.0 - time.time())):
                samples.append(snap())

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        # the timeline goes on past wffs's polling window (62 s after the last use) to show it stop
        horizon = max(self.idle_seconds, WFFS_IDLE_AFTER + 18) if self.idle_seconds >= 60 else self.idle_seconds
        try:
            meanwhile()
            remaining = horizon - (time.time() - s2["time"])
            if remaining > 0:
                progress(f"{self.scale}: idle mount: waiting {remaining:.0f} s more")
                time.sleep(remaining)
        finally:
            stop.set()
            thread.join()
        samples.append(snap())
        within = [s for s in samples if s["time"] - s2["time"] <= self.idle_seconds + 2.5]
        end = within[-1]
        result["idle"] = stats_delta(s2, end)
        result["idle"]["window_seconds"] = end["time"] - s2["time"]
        result["idle_timeline"] = [
            {"t": round(b["time"] - s2["time"], 1), **stats_delta(a, b)["requests"]}
            for a, b in zip(samples, samples[1:])]
        result["idle_total"] = stats_delta(s2, samples[-1])
        after = [s for s in samples if s["time"] - s2["time"] >= WFFS_IDLE_AFTER + 3]
        if len(after) >= 2:
            result["idle_after_polling_stops"] = stats_delta(after[0], after[-1])
        self.note_mount(fp, "cost + idle")
        fp.stop()
        wire.close()
        CLEANUP.forwarders.remove(wire)
        return result

    # ---------------------------------------------------------------- freshness
    def candidates(self, n: int, skip: set) -> List[str]:
        """Complete tasks that ran once (try 1, ECF_TRIES 1, job command `true`): forced aborted they stay
        aborted (a task that never ran would be resubmitted at once, and its job would run), and forced
        complete again they change nothing else. Their state is checked on the server before use."""
        picked: List[str] = []
        if n <= 0:
            return picked
        for plan in self.plans:
            if plan.state == "complete" and plan.ran and plan.path not in skip:
                if not plan.path.startswith("/s0/"):
                    continue
                picked.append(plan.path)
                if len(picked) == n:
                    break
        return picked

    def server_state(self, client, path: str) -> str:
        client.sync_local()
        return str(client.get_defs().find_abs_node(path).get_state())

    def change_and_watch(self, client, mnt: Path, path: str, to: str, ext: str,
                         timeout: float = 30) -> Optional[float]:
        """Force a state on the server; seconds until its status file shows in the mount (None: never)."""
        rel = path.lstrip("/") + "." + ext
        done = self.server.cli(f"--force={to}", path)
        if done.returncode != 0:
            raise RuntimeError(f"ecflow_client --force={to} {path}: {done.stderr.decode(errors='replace')}")
        changed = time.perf_counter()  # the server has applied it once the client returns
        target = str(mnt / rel)
        seen = None
        while time.perf_counter() - changed < timeout:
            if os.path.exists(target):
                seen = time.perf_counter() - changed
                break
            time.sleep(POLL)
        now = self.server_state(client, path)
        if now != to:
            self.r["notes"].append(f"freshness: {path} was forced {to} but is {now} now")
        return seen

    def freshness(self, meanwhile: Callable[[], None]) -> Dict[str, Any]:
        import ecflow

        client = ecflow.Client("localhost", self.server.port)
        k_idle = 0 if self.idle_seconds <= 0 else (10 if self.ntasks <= 10000 else 5)
        wait = IDLE_FRESHNESS_WAIT if self.idle_seconds >= 60 else self.idle_seconds
        idle_tasks = self.candidates(k_idle, set())
        busy_tasks = self.candidates(5, set(idle_tasks))
        for path in idle_tasks + busy_tasks:
            state = self.server_state(client, path)
            if state != "complete":
                raise RuntimeError(f"{path} is {state}, not complete: cannot use it for freshness")
        result: Dict[str, Any] = {"refresh": REFRESH, "poll_seconds": POLL}
        fps: List[FuseProc] = []
        try:
            # (i) idle: one mount per sample, used once (a find), then left alone for > wait s: the
            # first access after that wakes its refresher
            if k_idle:
                progress(f"{self.scale}: freshness: {k_idle} mounts, one find each, then idle {wait:.0f} s")
                for i in range(k_idle):
                    fps.append(self.wffs(f"fresh-{i}"))
                    fps[-1].start(self.mount_timeout)
                last_use = 0.0
                for fp in fps:
                    run_shell(f"find {fp.mnt} > /dev/null", self.cmd_timeout)
                    last_use = time.monotonic()
                meanwhile()
                remaining = wait - (time.monotonic() - last_use)
                if remaining > 0:
                    progress(f"{self.scale}: freshness: mounts idle, waiting {remaining:.0f} s more")
                    time.sleep(remaining)
                idle = []
                for fp, path in zip(fps, idle_tasks):
                    idle.append(self.change_and_watch(client, fp.mnt, path, "aborted", "abo"))
                    self.server.cli("--force=complete", path)
                result["idle"] = summary(idle)
                result["idle"]["idle_before_seconds"] = round(time.monotonic() - last_use, 1)
                result["idle_note"] = ("idle > wffs's 62 s polling window: the refresher was asleep" if
                                       wait > WFFS_IDLE_AFTER else
                                       f"idle only {wait:.0f} s (< 62 s): wffs was still polling")
            # (ii) while a find loop runs on the mount
            busy_fp = fps[0] if fps else self.wffs("fresh-busy").start(self.mount_timeout)
            if not fps:
                fps.append(busy_fp)
            loop = subprocess.Popen(["bash", "-c", f"while :; do find {busy_fp.mnt} > /dev/null; done"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            CLEANUP.procs.append(loop)
            try:
                time.sleep(REFRESH + 1)
                progress(f"{self.scale}: freshness: {2 * len(busy_tasks)} state changes during a find loop")
                rng = random.Random(7)
                busy = []
                for path in busy_tasks:
                    time.sleep(rng.uniform(0, REFRESH))
                    busy.append(self.change_and_watch(client, busy_fp.mnt, path, "aborted", "abo"))
                    time.sleep(rng.uniform(0, REFRESH))
                    busy.append(self.change_and_watch(client, busy_fp.mnt, path, "complete", "com"))
                result["busy"] = summary(busy)
            finally:
                kill_group(loop)
                CLEANUP.procs.remove(loop)
        finally:
            for i, fp in enumerate(fps):
                self.note_mount(fp, "freshness: idle, then a find loop + 10 refreshes" if i == 0 else
                                "freshness: idle")
                fp.stop()
            for path in idle_tasks + busy_tasks:
                self.server.cli("--force=complete", path)
        return result

    # ---------------------------------------------------------------- the ecflow_client way
    def client_way(self) -> Dict[str, Any]:
        import ecflow

        port = str(self.server.port)
        res: Dict[str, Any] = {}
        # list aborted: one request
        runs = [run_shell(f"ecflow_client --host localhost --port {port} --get_state | grep -c 'state:aborted'",
                          120) for _ in range(3)]
        res["aborted"] = {"seconds": [r["seconds"] for r in runs], "median": median([r["seconds"] for r in runs]),
                          "count": runs[0]["out"]}
        c = ecflow.Client("localhost", port)
        rounds = self.client_rounds  # measured in the backup's rounds (see round_client_backup)
        for key in rounds[0] if rounds else ():  # the median round of each way, as for the commands
            runs = sorted((r[key] for r in rounds), key=lambda run: run["seconds"])
            res[key] = dict(runs[(len(runs) - 1) // 2], rounds_seconds=[r[key]["seconds"] for r in rounds])
        drop_caches()  # like wffs's cold grep -r
        # grep the outputs for ERROR via get_file
        started = time.perf_counter()
        hits = 0
        for path in self.outputs:
            try:
                hits += c.get_file(path, "jobout").count("ERROR")
            except (RuntimeError, UnicodeDecodeError):
                pass
        seconds = time.perf_counter() - started
        res["python_grep"] = {"files": len(self.outputs), "seconds": seconds, "matches": hits}
        return res

    def round_client_backup(self, name: str, template: str, first: bool) -> None:
        """One round of the backup the ecflow_client way, in the backup's rounds of the battery (kept in
        self.client_rounds): cold as wffs's cold runs are (caches dropped first: the server reads the
        files from disk, the client's binary too), then warm (at once again); the goals compare cold
        with cold."""
        if name != "backup":
            return None
        import ecflow

        port = str(self.server.port)
        c = ecflow.Client("localhost", port)
        files = [(p, "script") for p in self.scripts] + [(p, "jobout") for p in self.outputs]
        sample = random.Random(3).sample(files, min(CLI_SAMPLE, len(files)))
        res: Dict[str, Any] = {}
        n = len(files)
        for when in ("cold", "warm"):
            suffix = "" if when == "cold" else "_warm"
            if when == "cold":
                drop_caches()
            # one ecflow_client process per file, on a sample
            started = time.perf_counter()
            nbytes = 0
            for path, kind in sample:
                done = subprocess.run(["ecflow_client", "--host", "localhost", "--port", port, f"--file={path}",
                                       kind], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
                nbytes += len(done.stdout)
            seconds = time.perf_counter() - started
            res["cli_per_file" + suffix] = {"sampled": len(sample), "seconds": seconds,
                                            "ms_per_file": 1000 * seconds / len(sample), "files_total": n,
                                            "extrapolated_seconds": seconds / len(sample) * n,
                                            "bytes_sampled": nbytes, "caches_dropped": when == "cold"}
            # one Python client, every file
            if when == "cold":
                drop_caches()
            started = time.perf_counter()
            nbytes = errors = 0
            for path, kind in files:
                try:
                    nbytes += len(c.get_file(path, kind))
                except (RuntimeError, UnicodeDecodeError):
                    errors += 1
            seconds = time.perf_counter() - started
            res["python_get_file" + suffix] = {"files": n, "seconds": seconds, "ms_per_file": 1000 * seconds / n,
                                               "bytes": nbytes, "errors": errors, "caches_dropped": when == "cold"}
        self.client_rounds.append(res)
        progress(f"{self.scale}:   ecflow_client way, backup: {res['cli_per_file']['ms_per_file']:.2f} ms a file "
                 f"cold (a process each), {res['python_get_file']['ms_per_file']:.3f} ms (get_file loop)")
        return None

    # ---------------------------------------------------------------- all of it
    def run(self) -> Dict[str, Any]:
        self.prepare_dir()
        self.start_server()
        self.copy_to_tmpfs()
        batteries: Dict[str, Any] = {}

        def limit():
            progress(f"{self.scale}: tmpfs commands (cold: caches dropped)")
            batteries["tmpfs"] = self.battery_tmpfs()

        if self.idle_seconds > 0:
            progress(f"{self.scale}: server cost: cold mount + find, then {self.idle_seconds:.0f} s idle "
                     "(tmpfs commands run meanwhile: they do not talk to the server)")
            self.r["server_cost"] = self.cost_and_idle(limit)
        else:
            limit()
        progress(f"{self.scale}: floor and wffs commands, round after round (a fresh mount per command; the "
                 "ecflow_client way's backup in the backup's rounds)")
        batteries.update(self.battery({"floor": self.round_floor, "wffs": self.round_wffs,
                                       "client": self.round_client_backup}))
        batteries.pop("client")
        self.r["commands"] = batteries
        progress(f"{self.scale}: wffs-grep (issue 15: the nodes in a state, against grep -r)")
        self.r["wffs_grep"] = self.tools()
        ops: Dict[str, Any] = {}

        def count_ops():
            progress(f"{self.scale}: counting wffs operations of cold commands (instrumented mounts, untimed)")
            ops.update(self.op_counts())

        self.r["freshness"] = self.freshness(count_ops)
        if not ops:
            count_ops()
        self.r["wffs_ops"] = ops
        progress(f"{self.scale}: the ecflow_client way (aborted list, grep)")
        self.r["client"] = self.client_way()
        reference = batteries["tmpfs"]["tar"].pop("manifest")
        self.r["tar_compare"] = compare_manifests(reference, batteries["wffs"]["tar"].pop("manifest"))
        self.r["tar_compare_floor"] = compare_manifests(reference, batteries["floor"]["tar"].pop("manifest"),
                                                        brief=True)
        return self.r

    def finish(self) -> None:
        if self.server is not None:
            self.server.stop()
            if self.server in CLEANUP.servers:
                CLEANUP.servers.remove(self.server)
        tmpfs = getattr(self, "tmpfs", None)
        if tmpfs is not None and mount_table.is_mounted(str(tmpfs)):
            subprocess.run(["umount", str(tmpfs)], stderr=subprocess.DEVNULL)
            if tmpfs in CLEANUP.tmpfs and not mount_table.is_mounted(str(tmpfs)):
                CLEANUP.tmpfs.remove(tmpfs)


def median_round(rounds: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Several rounds of one command as one: the round whose cold run took the median time, with the
    median warm run; every round's times beside (cold_rounds, warm_rounds).  These machines are noisy:
    one round's figure can be off by a third."""
    middle = (len(rounds) - 1) // 2
    entry = dict(sorted(rounds, key=lambda e: e["cold"]["seconds"])[middle])
    entry["warm"] = sorted((e["warm"] for e in rounds), key=lambda w: w["seconds"])[middle]
    entry["cold_rounds"] = [e["cold"]["seconds"] for e in rounds]
    entry["warm_rounds"] = [e["warm"]["seconds"] for e in rounds]
    return entry


def summary(delays: List[Optional[float]]) -> Dict[str, Any]:
    seen = [d for d in delays if d is not None]
    return {"n": len(delays), "missed": len(delays) - len(seen), "median": median(seen),
            "max": max(seen) if seen else None, "all": [None if d is None else round(d, 3) for d in delays]}


def signal_counts(fp: FuseProc, path: Path, nested: bool = False) -> Dict[str, Any]:
    """Ask a counting file system (SIGUSR1) to write its operation counts; read them."""
    try:
        before = path.stat().st_mtime_ns
    except OSError:
        before = None
    fp.signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if path.stat().st_mtime_ns != before:
                time.sleep(0.05)
                return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return {}


def subtract(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, float]:
    return {k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b)) if a.get(k, 0) - b.get(k, 0)}


# =============================================================================== tar archives


def manifest(path: Path, timeout: float) -> Dict[str, Any]:
    """Every member of `tar cf - -C path --exclude ./.server ... .`: type, size, mode, mtime, sha1 of content."""
    proc = subprocess.Popen(["tar", "cf", "-", "-C", str(path), *TAR_EXCLUDE.split(), "."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    CLEANUP.procs.append(proc)
    members = {}
    total = 0

    class Counting:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            nonlocal total
            data = self.f.read(n)
            total += len(data)
            return data

    timer = threading.Timer(timeout, kill_group, [proc])
    timer.start()
    try:
        with tarfile.open(fileobj=Counting(proc.stdout), mode="r|") as tar:
            for m in tar:
                digest = None
                if m.isfile():
                    digest = hashlib.sha1(tar.extractfile(m).read()).hexdigest()
                members[m.name] = (m.type.decode(), m.size, m.mode, int(m.mtime), digest)
        total += len(proc.stdout.read())
        proc.wait()
    finally:
        timer.cancel()
        CLEANUP.procs.remove(proc)
    return {"members": members, "bytes": total, "rc": proc.returncode,
            "err": proc.stderr.read().decode(errors="replace")[:300]}


def compare_manifests(a: Dict[str, Any], b: Dict[str, Any], brief: bool = False) -> Dict[str, Any]:
    """a: the reference (tmpfs copy), b: the mount. Same members and contents? Which headers differ?"""
    ma, mb = a.get("members", {}), b.get("members", {})
    only_a, only_b = sorted(set(ma) - set(mb)), sorted(set(mb) - set(ma))
    common = set(ma) & set(mb)
    content = sorted(n for n in common if (ma[n][0], ma[n][1], ma[n][4]) != (mb[n][0], mb[n][1], mb[n][4]))
    header = sorted(n for n in common if n not in content and ma[n] != mb[n])
    fields = {}
    for n in header:
        for i, field in ((2, "mode"), (3, "mtime")):
            if ma[n][i] != mb[n][i]:
                fields.setdefault(field, []).append(n)
    header_fields = {f: {"n": len(v), "examples": [[n, ma[n], mb[n]] for n in v[:4]]} for f, v in fields.items()}
    clock = [n for n in content if re.fullmatch(r"\./[^/]+\.att", n)]
    out = {"members": [len(ma), len(mb)], "archive_bytes": [a.get("bytes"), b.get("bytes")],
           "only_reference": only_a[:10], "only_mount": only_b[:10], "n_only": [len(only_a), len(only_b)],
           "content_differs": content[:10], "n_content_differs": len(content),
           "header_only_differs": header[:10], "n_header_differs": len(header), "header_fields": header_fields,
           "suite_att_clock_differs": len(clock)}
    out["identical"] = not only_a and not only_b and not content and not header
    out["same_content"] = not only_a and not only_b and len(content) == len(clock)
    if not brief and content:
        out["explanation"] = (
            f"{len(clock)} of the {len(content)} files whose content differs are suite .att files: their clock "
            "variables (ECF_DATE, TIME, ...) change every minute, and the copy is minutes older"
            if clock else "")
    return out


# =============================================================================== reporting


def ecflow_fuse_check() -> Dict[str, Any]:
    """Debian's ecflow_fuse (ECMWF's prototype) is Python 2: run it under Python 3 to record how it stops."""
    if not os.path.exists(ECFLOW_FUSE):
        return {"runnable": False, "reason": f"{ECFLOW_FUSE} not installed"}
    try:
        done = subprocess.run(["/usr/bin/python3", ECFLOW_FUSE, "--help"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return {"runnable": False, "reason": "timed out printing --help"}
    err = done.stderr.decode(errors="replace")
    if "SyntaxError" in err:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        where = next((line for line in lines if line.startswith("File ")), "")
        return {"runnable": False, "reason": f"not runnable: {lines[-1]} ({where})", "rc": done.returncode}
    return {"runnable": done.returncode == 0, "reason": f"rc {done.returncode} (not benchmarked)"}


# =============================================================================== main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="append", choices=sorted(SCALES), help="repeatable; default 10k")
    parser.add_argument("--idle-seconds", type=float, default=60.0,
                        help="idle window for the server cost (0: skip the idle phases)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each cold+warm command (a fresh mount each) and of the client ways; the "
                             "median is reported (default 3)")
    parser.add_argument("--out", type=Path, default=ROOT / "run" / "bench")
    parser.add_argument("--report", metavar="JSON", help="print the tables of a saved run again, and exit")
    parser.add_argument("--wffs", default=str(ROOT), metavar="DIR|REV",
                        help="the wffs to measure: a source tree (default: this checkout, as it is now) or a git "
                             "revision of this repository (e.g. HEAD: its committed wffs/, exported under OUT)")
    args = parser.parse_args(argv)
    scales = args.scale or ["10k"]
    if args.report:
        with open(args.report) as f:
            doc = json.load(f)
        rep = Report()
        for r in doc["results"]:
            r["goals"] = goals(r, doc["idle_seconds"])
            print_scale(rep, r, doc["idle_seconds"])
        per_k_table(rep, doc["results"])
        return 0
    if os.geteuid() != 0:
        print("bench: needs root (tmpfs mount, drop_caches)", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # (SIGINT too: a background job ignores it)
        signal.signal(sig, _on_signal)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lock = open(out / ".lock", "w")  # a second run on the same OUT would remove this one's mounts and files
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"bench: another benchmark is running with --out {out}; wait for it or use another --out",
              file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rep = Report()
    results: List[Dict[str, Any]] = []
    doc: Dict[str, Any] = {"started": stamp, "scales": scales, "idle_seconds": args.idle_seconds,
                           "rounds": max(1, args.rounds),
                           "refresh": REFRESH, "machine": machine(), "results": results}
    wffs_tree, doc["wffs"] = wffs_source(args.wffs, out)
    progress(f"measuring wffs from {wffs_tree} ({doc['wffs'].get('describe', '')})")
    fuse_check = ecflow_fuse_check()
    doc["ecflow_fuse"] = fuse_check
    progress(f"ecflow_fuse: {fuse_check['reason']}")
    status = 0
    try:
        for scale in scales:
            run = ScaleRun(scale, out, args.idle_seconds, wffs_tree, rounds=max(1, args.rounds))
            try:
                r = run.run()
            except BaseException:
                doc["partial"] = run.r  # what this scale had measured, for the JSON
                raise
            finally:
                run.finish()
            r["ecflow_fuse"] = fuse_check
            r["wffs"] = doc["wffs"]
            r["goals"] = goals(r, args.idle_seconds)
            results.append(r)
            progress(f"{scale}: done")
    except BaseException as e:
        status = 1
        doc["error"] = f"{type(e).__name__}: {e}"
        print(f"bench: stopped: {doc['error']}", file=sys.stderr)
        if not isinstance(e, (Exception, SystemExit, KeyboardInterrupt)):
            raise
    finally:
        CLEANUP.run()
    for r in results:
        print_scale(rep, r, args.idle_seconds)
    per_k_table(rep, results)
    doc["total_seconds"] = time.monotonic() - T0
    base = out / f"bench-{stamp}"
    with open(f"{base}.json", "w") as f:
        json.dump(doc, f, indent=1, default=str)
    rep("")
    rep(f"JSON: {base}.json")
    try:
        from bench_plot import plot

        plot(doc, f"{base}.png")
        rep(f"plot: {base}.png")
    except Exception as e:  # matplotlib missing, or anything else: the JSON is saved anyway
        rep(f"plot: not made ({type(e).__name__}: {e}); the JSON has every figure")
    rep(f"total: {doc['total_seconds']:.0f} s")
    with open(f"{base}.txt", "w") as f:
        f.write("\n".join(rep.lines) + "\n")
    for name in ("json", "txt", "png"):
        src = Path(f"{base}.{name}")
        if src.exists():
            shutil.copyfile(src, out / f"latest.{name}")
    return status


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, timeout=30)
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""


def wffs_source(spec: str, out: Path):
    """(tree, description) of the wffs to measure: a directory as it is, or a revision's wffs/ exported."""
    if os.path.isdir(spec):
        tree = Path(spec).resolve()
        commit = git("rev-parse", "--short", "HEAD", cwd=tree)
        dirty = bool(git("status", "--porcelain", "--", "wffs", cwd=tree))
        build_libraries(tree)
        return tree, {"tree": str(tree), "commit": commit, "uncommitted_wffs_changes": dirty,
                      "describe": f"commit {commit or '?'}" + (" + uncommitted changes" if dirty else "")
                      + listings_kept(tree)}
    commit = git("rev-parse", "--short", f"{spec}^{{commit}}")
    if not commit:
        raise SystemExit(f"bench: --wffs {spec}: neither a directory nor a revision of {ROOT}")
    tree = out / f"wffs-{commit}"
    if not (tree / "wffs").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        paths = [p for p in ("wffs", "Makefile", "setup.py")
                 if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}:{p}"]).returncode == 0]
        archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", commit, *paths], stdout=subprocess.PIPE)
        subprocess.run(["tar", "xf", "-", "-C", str(tree)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"bench: git archive {commit} failed")
    build_libraries(tree)
    return tree, {"tree": str(tree), "commit": commit, "uncommitted_wffs_changes": False,
                  "describe": f"commit {commit}, exported" + listings_kept(tree)}


#: wffs's C libraries: the kernel keeps listings (since f76d809); opens answered without Python.
LIBRARIES = ("_dircache", "_fastopen")


def build_libraries(tree: Path) -> None:
    """The C libraries of an exported revision, built as that revision's `make setup` builds them: by pip
    (setup.py: in place, as `pip install -e` does) or, before, by its Makefile.  A revision is measured as
    a user who installed it runs it."""
    if (tree / "setup.py").exists():
        subprocess.run([PY, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree, check=True,
                       stdout=subprocess.DEVNULL)
        return
    targets = [f"wffs/{name}.so" for name in LIBRARIES if (tree / "wffs" / f"{name}.c").exists()]
    if targets:
        subprocess.run(["make", "-s", "-C", str(tree), *targets], check=True)


def built(tree: Path, name: str) -> bool:
    return any((tree / "wffs").glob(f"{name}*.so"))


def listings_kept(tree: Path) -> str:
    said = ("; the kernel keeps listings (wffs/_dircache)" if built(tree, "_dircache")
            else "; the kernel does not keep listings (no wffs/_dircache)")
    if built(tree, "_fastopen"):
        said += "; wffs/_fastopen built (it answers opens without Python with --fast-open, or before that option)"
    return said


def machine() -> Dict[str, Any]:
    info: Dict[str, Any] = {"cpus": os.cpu_count(), "kernel": os.uname().release}
    try:
        with open("/proc/meminfo") as f:
            info["mem_kb"] = int(f.readline().split()[1])
    except OSError:
        pass
    try:
        info["ecflow"] = subprocess.run(["ecflow_client", "--version"], capture_output=True, timeout=10
                                        ).stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


if __name__ == "__main__":
    sys.exit(main())
