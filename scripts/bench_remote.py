#!/usr/bin/env python3
"""Remote cost: wffs on a server whose files this machine cannot see, over a link that delays each
direction by --delay seconds, against the ecflow_client way through the same link.  Each figure comes
with the number of server requests it cost (connections through the link: ecFlow's client opens one per
request).

    bench_remote.py [--families 20 --tasks 50] [--delay 0.005] [--out run/bench-remote]

The server runs in a mount namespace of its own (EcflowServer(files_at=...)), so the mount reads every
file through the server, as it does for a remote one.  Needs root (unshare, mount).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import gen_suite  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402
from wffs import mount_table  # noqa: E402
from testbed.devserver import EcflowServer  # noqa: E402
from wffs.vfs import SETTLE_SECONDS  # noqa: E402

BIN = Path(sys.executable).parent


class Mount:
    def __init__(self, port: int, path: Path, log: Path, cache: Path, *extra: str):
        """A mount whose disk cache (XDG_CACHE_HOME) is `cache`: a new directory for a cold mount."""
        self.path = path
        path.mkdir(parents=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "wffs.cli", "mount", "localhost", str(port), str(path),
                                      "--foreground", "--log", str(log), *extra], stdin=subprocess.DEVNULL,
                                     start_new_session=True, env={**os.environ, "XDG_CACHE_HOME": str(cache)})
        if not mount_table.wait_mounted(str(path), 120, alive=lambda: self.proc.poll() is None):
            raise RuntimeError(f"no mount at {path}: see {log}")

    def close(self) -> None:
        mount_table.unmount(str(self.path), timeout=10) or mount_table.unmount(str(self.path), lazy=True)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def timed(proxy: LatencyProxy, argv: list, **kw) -> dict:
    """Seconds and server requests of one command (shell pipelines as ["bash", "-c", ...])."""
    before, start = proxy.connections, time.monotonic()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    figure = {"seconds": round(time.monotonic() - start, 3), "requests": proxy.connections - before,
              "exit": done.returncode}
    if done.returncode != 0:
        figure["stderr"] = done.stderr.decode(errors="replace")[-300:]
    return figure


def client_way(proxy: LatencyProxy, plans) -> dict:
    """What a backup costs with one `ecflow_client --file` process per file, through the same link."""
    before, start, files = proxy.connections, time.monotonic(), 0
    for plan in plans:
        for kind in ("script",) + (("job", "jobout") if plan.ran else ()):
            subprocess.run(["ecflow_client", "--host=localhost", f"--port={proxy.port}", f"--file={plan.path}",
                            kind, "100000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            files += 1
    seconds = time.monotonic() - start
    return {"seconds": round(seconds, 3), "requests": proxy.connections - before, "files": files,
            "ms_per_file": round(1000 * seconds / files, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=int, default=1)
    parser.add_argument("--families", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.005, help="seconds each direction is delayed")
    parser.add_argument("--out", type=Path, default=HERE.parent / "run" / "bench-remote")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="wffs-bench-remote-"))
    server = EcflowServer(base / "home", files_at=base / "real")
    server.start()
    figures = {"delay_s": args.delay}
    opened = []
    try:
        made = gen_suite.generate(server, server.home, suites=args.suites, families=args.families,
                                  tasks=args.tasks, files_dir=server.files_dir)
        figures["tasks"], figures["with_output"] = made.tasks, made.with_output
        settled = time.time()
        print(f"loaded {made.tasks} tasks, {made.with_output} with job output; link delay {args.delay} s each way",
              flush=True)
        # as on a server whose runs ended a while ago: an output that ended less than SETTLE_SECONDS ago may
        # still be written, so it is read again at every refresh and not kept on disk
        time.sleep(max(0.0, settled + SETTLE_SECONDS + 1 - time.time()))
        with LatencyProxy(server.port, args.delay) as proxy:
            def mounted(name: str, cache_of: str = "") -> Path:
                """Mount `name`, with the disk cache mount `cache_of` left (else an empty one of its own)."""
                cache = base / "cache" / (cache_of or name)
                opened.append(Mount(proxy.port, base / name, base / f"{name}.log", cache))
                return opened[-1].path

            def both(name: str, mnt: Path, command: str) -> None:
                for when in ("cold", "warm"):
                    figures[f"{name} {when}"] = timed(proxy, ["bash", "-c", command.format(mnt=mnt)])
                    print(f"{name} {when}: {figures[f'{name} {when}']}", flush=True)

            mnt = mounted("a")
            both("find", mnt, "find {mnt} | wc -l")
            both("ls -lR", mnt, "ls -lR {mnt}")
            both("grep -r --include=*.out", mounted("b"), "grep -r ERROR --include='*.out' {mnt}; true")
            both("backup", mounted("c"), f"{BIN}/wffs-backup {{mnt}} {base}/backups")
            figures["ecflow_client --file, one process a file"] = client_way(proxy, made.plans)
            print(f"ecflow_client way: {figures['ecflow_client --file, one process a file']}", flush=True)
            opened.pop(0).close()  # the first mount ends; the second finds what it kept on disk
            figures["second mount ls -lR"] = timed(proxy, ["ls", "-lR", str(mounted("d", cache_of="a"))])
            print(f"second mount ls -lR: {figures['second mount ls -lR']}", flush=True)
    finally:
        for mount in opened:
            mount.close()
        server.stop()
    save(figures, args.out, "bench-remote")
    return 0


def save(figures: dict, directory: Path, name: str) -> None:
    """The figures as JSON in `directory`, named by `name` and the time."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / time.strftime(f"{name}-%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"JSON: {out}")


if __name__ == "__main__":
    sys.exit(main())
