"""Figures of the fault and load tests (operations that failed, recovery times, latencies).

Tests call `record(test, **figures)`; the session prints them at the end and writes them to
run/reliability.json, where docs/reliability.rst takes its figures from.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "run" / "reliability.json"
FIGURES: dict[str, dict] = {}


def record(test: str, **figures) -> None:
    FIGURES[test] = figures


def write_report() -> Optional[Path]:
    if not FIGURES:
        return None
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    old.update(FIGURES)
    REPORT.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
    return REPORT


def percentile(values, q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Outcome:
    command: str
    started: float
    seconds: float
    rc: Optional[int]  # None: killed at its deadline (a hang)
    error: str


@dataclass
class CommandLoop:
    """Shell commands run over and over in a thread, each with a deadline, until stopped."""

    commands: list
    deadline: float
    outcomes: list = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(c,), daemon=True) for c in self.commands]

    def start(self) -> "CommandLoop":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> "CommandLoop":
        self._stop.set()
        for t in self._threads:
            t.join(self.deadline + 10)
        return self

    def _loop(self, command: str) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=self.deadline)
                rc, error = done.returncode, done.stderr.decode(errors="replace").strip().splitlines()
                error = error[0] if error else ""
            except subprocess.TimeoutExpired:
                rc, error = None, f"no answer in {self.deadline:g} s"
            self.outcomes.append(Outcome(command, started, time.monotonic() - started, rc, error))
            self._stop.wait(0.05)

    # ---- figures -------------------------------------------------------------------------------------
    def hung(self) -> list:
        return [o for o in self.outcomes if o.rc is None]

    def failed(self, since: float = 0.0, until: float = float("inf")) -> list:
        """Runs that failed and were started in [since, until)."""
        return [o for o in self.outcomes if o.rc != 0 and since <= o.started < until]

    def first_success_after(self, moment: float, command: str) -> Optional[float]:
        """Seconds from `moment` until a run of `command` started after it succeeded (its end)."""
        ends = [o.started + o.seconds for o in self.outcomes
                if o.command == command and o.rc == 0 and o.started >= moment]
        return min(ends) - moment if ends else None

    def summary(self) -> dict:
        return {"runs": len(self.outcomes), "failed": len(self.failed()), "hung": len(self.hung()),
                "longest_s": round(max((o.seconds for o in self.outcomes), default=0.0), 2)}
