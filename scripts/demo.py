#!/usr/bin/env python3
"""Run the wffs demo: a real ecflow_server with the demo suite, mounted.

    demo.py start --dir DIR   server (home DIR/home) + suite /demo + mount on DIR/mnt
    demo.py stop  --dir DIR   unmount, stop the server and its jobs

DIR/state.json records what runs, so `stop` works from another process and
both commands are idempotent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # demo_suite, and wffs from a checkout

from demo_suite import SUITE, load_demo, wait_until_settled  # noqa: E402
from testbed.devserver import EcflowServer, free_port, is_devserver, kill_jobs, ping, stop_server  # noqa: E402

STATE = "state.json"
#: where wffs-grep and wffs-backup are (the venv of `make demo`)
BIN = os.path.dirname(os.path.abspath(sys.executable))


# ---------------------------------------------------------------- helpers


def _unescape_mount_field(field: str) -> str:
    """/proc/self/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def is_mounted(path: Path) -> bool:
    """Look in the mount table: os.path.ismount() is False on a dead FUSE mount."""
    target = str(Path(path).absolute())
    try:
        with open("/proc/self/mounts") as f:
            return any(_unescape_mount_field(line.split()[1]) == target for line in f if line.strip())
    except OSError:
        return False


def read_state(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / STATE).read_text())
    except (OSError, ValueError):
        return None


def demo_running(state: dict | None) -> bool:
    """The server recorded in state.json still runs and answers."""
    return bool(state) and is_devserver(state["pid"], Path(state["home"])) and ping(state["port"], timeout=5)


def wffs_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess | None:
    """Run `python -m wffs.cli ARGS`; None when it cannot run at all."""
    cmd = [sys.executable, "-m", "wffs.cli", *args]
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"wffs demo: {' '.join(cmd)} failed: {exc}", file=sys.stderr)
        return None


def force_unmount(mnt: Path) -> None:
    """Last resort for a mount the wffs CLI could not remove (e.g. a dead one)."""
    for tool in ("fusermount3", "fusermount"):
        if shutil.which(tool):
            subprocess.run([tool, "-u", "-z", str(mnt)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return
    subprocess.run(["umount", "-l", str(mnt)], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- start


def start(run_dir: Path) -> int:
    """Start server, suite and mount unless a demo already runs in run_dir."""
    run_dir.mkdir(parents=True, exist_ok=True)
    mnt = run_dir / "mnt"
    state = read_state(run_dir)
    if demo_running(state):
        print(f"wffs demo already running: server localhost:{state['port']}, mounted on {mnt}")
        print("Stop it with: make stop")
        return 0
    if state or is_mounted(mnt):
        stop(run_dir, quiet=True)  # leftovers of a demo that died

    server = EcflowServer(run_dir / "home", free_port())
    server.start(stop_at_exit=False)
    try:
        load_demo(server)
        wait_until_settled(server, timeout=60)
    except BaseException:
        server.stop()
        raise
    (run_dir / STATE).write_text(json.dumps(
        {"host": server.host, "port": server.port, "pid": server.pid, "home": str(server.home),
         "mnt": str(mnt)}, indent=2) + "\n")

    mnt.mkdir(exist_ok=True)
    sys.stdout.flush()
    done = wffs_cli("mount", server.host, str(server.port), str(mnt))
    mounted = done is not None and done.returncode == 0 and is_mounted(mnt)
    print_usage(server, mnt, mounted)
    return 0


def print_usage(server: EcflowServer, mnt: Path, mounted: bool) -> None:
    """What to try: the point of the demo is that ordinary tools just work."""
    s = f"{mnt}/{SUITE}"
    where = f"mounted on {mnt}" if mounted else f"NOT mounted: `wffs mount localhost {server.port} {mnt}` failed"
    tries = [
        (f"ls {s} {s}/fail", "families are directories, tasks are files"),
        (f"find {mnt} -name '*.abo'", "what has aborted?"),
        (f"cat {s}/fail/crash.out", "its job output, with the error"),
        (f"grep -r ERROR {mnt}", "every error in every output"),
        (f"cat {s}/deps/never.att", "attributes of a task that stays queued"),
        (f"cat {s}/ok/t1.man", "a task's manual"),
        (f"cat {s}/deps/never.why", "why it is still waiting"),
        (f"{BIN}/wffs-grep ERROR {mnt} --state abo", "errors in the outputs of aborted tasks only"),
        (f"{BIN}/wffs-backup {mnt} {mnt.parent}/backups -v", "a dated backup (run it twice: hard links)"),
    ]
    width = max(len(cmd) for cmd, _ in tries)
    lines = "\n".join(f"  {cmd:<{width}}  # {why}" for cmd, why in tries)
    print(f"""
wffs demo: ecflow_server on localhost:{server.port} (ECF_HOME {server.home}),
suite /{SUITE} {where}

Try:
{lines}

Stop it with: make stop
""")


# ---------------------------------------------------------------- stop


def stop(run_dir: Path, quiet: bool = False) -> int:
    """Unmount, stop the recorded server and its jobs, forget the state."""
    mnt = run_dir / "mnt"
    said = []
    if is_mounted(mnt):
        wffs_cli("umount", str(mnt))
        if is_mounted(mnt):
            force_unmount(mnt)
        said.append(f"unmounted {mnt}")
    state = read_state(run_dir)
    if state:
        home = Path(state["home"])
        was_running = is_devserver(state["pid"], home)
        stop_server(state["port"], state["pid"], home)
        if was_running:
            said.append(f"stopped ecflow_server on localhost:{state['port']}")
        (run_dir / STATE).unlink()
    elif (run_dir / "home").is_dir():
        kill_jobs(run_dir / "home")  # jobs of a server whose state file is gone
    if said and not quiet:
        print("wffs demo: " + ", ".join(said))
    return 0


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--dir", required=True, type=Path, help="where the demo keeps its server, mount and state")
    args = parser.parse_args(argv)
    run_dir = Path(os.path.abspath(args.dir))
    return start(run_dir) if args.command == "start" else stop(run_dir)


if __name__ == "__main__":
    sys.exit(main())
