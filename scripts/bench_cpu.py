#!/usr/bin/env python3
"""CPU a mount costs per request, in the default configuration and with --fast-open.

A reader opens and reads one file of the demo suite (a task's `.att`, whose content the kernel keeps)
`--rate` times a second for `--seconds`; the CPU time of the mount process and its workers (all their
threads, from /proc/PID/stat) over that spell gives the share of a core the mount used and its CPU per open+read.  On a
shared login node that CPU is everybody's.  Then the same with nobody reading (idle).

    bench_cpu.py [--rate 140] [--seconds 20] [--out run/bench-cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import demo_suite  # noqa: E402
from bench_remote import Mount, save  # noqa: E402
from testbed.devserver import EcflowServer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system time of a mount process and of its workers (its children), all their threads."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for one in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a worker that ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def measure(mnt: Path, pid: int, rate: float, seconds: float) -> dict:
    target = mnt / "demo" / "ok" / "t1.att"
    target.read_bytes()  # its content in the kernel's page cache
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    done, next_at = 0, start
    while time.monotonic() - start < seconds:
        with open(target, "rb") as f:
            f.read()
        done += 1
        next_at += 1 / rate
        pause = next_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    used, wall = cpu_seconds(pid) - start_cpu, time.monotonic() - start
    return {"opens": done, "seconds": round(wall, 2), "core_percent": round(100 * used / wall, 1),
            "cpu_us_per_open_read": round(1e6 * used / done, 1)}


def idle(pid: int, seconds: float) -> dict:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - start
    return {"seconds": round(wall, 2), "core_percent": round(100 * (cpu_seconds(pid) - start_cpu) / wall, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=140.0, help="open+read a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=HERE.parent / "run" / "bench-cpu")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="wffs-bench-cpu-"))
    server = EcflowServer(base / "home")
    server.start()
    figures = {"rate": args.rate}
    try:
        demo_suite.load_demo(server)
        demo_suite.wait_until_settled(server)
        for label, extra in (("default", []), ("--fast-open", ["--fast-open"])):
            name = label.strip("-")
            mount = Mount(server.port, base / name, base / f"{name}.log", base / "cache", *extra)
            try:
                figures[label] = {"reading": measure(mount.path, mount.proc.pid, args.rate, args.seconds),
                                  "idle": idle(mount.proc.pid, min(args.seconds, 10.0))}
                print(f"{label}: {figures[label]}", flush=True)
            finally:
                mount.close()
    finally:
        server.stop()
    save(figures, args.out, "bench-cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
