#!/usr/bin/env python3
"""Load a large generated suite set of mixed states on a running ecflow_server.

    gen_suite.py --port P [--host localhost] [--suites 10 --families 20 --tasks 50] --home DIR

Nodes are /s<i>/f<j>/t<k>. No real job runs: most tasks get defstatus
complete, ~1% defstatus suspended, ~7% stay queued (on a trigger on a sibling
that never completes, or on the date 1.1.2099), and a few complete ones carry
triggers too. ~10% "ran once": they have no defstatus and the job command
`true`, so at begin the server submits them (writing the real job file
<task>.job1 and counting try 1) and nothing executes; then they are forced
complete, or aborted (~2% of all tasks), and a job output is written where
their ECF_JOBOUT points (<task>.1). Every aborted output and a few others
contain `ERROR: something failed`. Every task gets a script under DIR.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from demo_suite import suite_variables, write_includes  # noqa: E402
from testbed.devserver import EcflowServer  # noqa: E402

ERROR_LINE = "ERROR: something failed"
RAN_FRACTION = 0.10


@dataclass
class Plan:
    """What one task will look like once loaded."""

    path: str
    state: str  # complete | aborted | suspended | queued
    trigger: str = ""
    ran: bool = False  # has a job and a job output (try 1)
    error: bool = False  # its output contains ERROR_LINE


@dataclass
class Result:
    tasks: int
    states: Dict[str, int]
    with_output: int
    seconds: float
    plans: List[Plan] = field(repr=False, default_factory=list)


# ---------------------------------------------------------------- planning


def plan_tasks(suites: int, families: int, tasks: int, seed: int = 0) -> List[Plan]:
    """Decide each task's state, trigger and output (deterministic per seed)."""
    rng = random.Random(seed)
    plans = []
    for s in range(suites):
        for f in range(families):
            blocked: List[int] = []  # tasks of this family that never complete
            for t in range(tasks):
                plan = _plan_one(rng, f"/s{s}/f{f}/t{t}", t, blocked)
                if plan.state in ("queued", "suspended"):
                    blocked.append(t)
                plans.append(plan)
    return plans


def _plan_one(rng: random.Random, path: str, index: int, blocked: List[int]) -> Plan:
    r = rng.random()
    if r < 0.02:
        state = "aborted"
    elif r < 0.03:
        state = "suspended"
    elif r < 0.10:
        state = "queued"
    else:
        state = "complete"
    # aborted tasks all ran; so do enough complete ones to make ~10% in all
    ran = state == "aborted" or state == "complete" and rng.random() < (RAN_FRACTION - 0.02) / 0.90
    trigger = ""
    if state == "queued" and blocked:
        trigger = f"t{rng.choice(blocked)} == complete"  # waits on one that never completes
    elif state == "complete" and not ran and index > 0 and rng.random() < 0.03:
        trigger = f"t{rng.randrange(index)} == complete"  # decoration: complete by defstatus
    error = ran and (state == "aborted" or rng.random() < 0.05)
    return Plan(path, state, trigger, ran, error)


# ---------------------------------------------------------------- definition


def build_defs(plans: List[Plan], home: Path, port: int):
    """One Defs holding every planned task."""
    import ecflow

    defs = ecflow.Defs()
    nodes: Dict[str, Any] = {}
    for plan in plans:
        _, s, f, t = plan.path.split("/")
        if s not in nodes:
            nodes[s] = defs.add_suite(s)
            suite_variables(nodes[s], home, port)
        if f"{s}/{f}" not in nodes:
            nodes[f"{s}/{f}"] = nodes[s].add_family(f)
        task = nodes[f"{s}/{f}"].add_task(t)
        _configure(ecflow, task, plan)
    return defs


def _configure(ecflow: Any, task: Any, plan: Plan) -> None:
    if plan.trigger:
        task.add_trigger(plan.trigger)
    if plan.ran:
        # no defstatus: submitted at begin, which writes the job; `true` runs nothing
        task.add_variable("ECF_JOB_CMD", "true")
    elif plan.state == "queued":
        # held by its trigger or by a date that never comes (ECF_DUMMY_TASK
        # would stay queued too, but its try number grows at every submission pass)
        if not plan.trigger:
            task.add_date(1, 1, 2099)
    elif plan.state == "suspended":
        task.add_defstatus(ecflow.DState.suspended)
    else:
        task.add_defstatus(ecflow.DState.complete)
    task.add_label("info", "")
    if plan.path.endswith("/t0"):
        task.add_meter("progress", 0, 100, 100 if plan.state == "complete" else 0)
        task.add_event("done")


# ---------------------------------------------------------------- files


def write_scripts(plans: List[Plan], home: Path) -> None:
    """A runnable .ecf for every task, so `.ecf` and requeues work."""
    write_includes(home)
    for plan in plans:
        script = home / f"{plan.path.lstrip('/')}.ecf"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "%include <head.h>\n"
            f'echo "{plan.path}: generated task"\n'
            "%include <tail.h>\n")


def output_text(plan: Plan, rng: random.Random) -> str:
    """A plausible job output of 20-200 lines, with the error line if planned."""
    lines = [f"+ {plan.path} try 1 starting", f"+ export ECF_NAME={plan.path}"]
    lines += [f"step {i}: processed {rng.randrange(1000, 99999)} records" for i in range(rng.randrange(20, 200))]
    if plan.error:
        lines.insert(rng.randrange(2, len(lines)), ERROR_LINE)
    lines.append("job failed with status 1" if plan.state == "aborted" else "+ ecflow_client --complete")
    return "\n".join(lines) + "\n"


def write_outputs(client: Any, plans: List[Plan], seed: int = 0, seen_at=lambda path: path) -> None:
    """Write each run task's output where the server's ECF_JOBOUT points (`seen_at` maps a path of the
    server's to where this machine sees it)."""
    rng = random.Random(seed + 1)
    client.sync_local()
    defs = client.get_defs()
    for plan in plans:
        if not plan.ran:
            continue
        out = seen_at(Path(_generated(defs.find_abs_node(plan.path), "ECF_JOBOUT")))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(output_text(plan, rng))


def _generated(node: Any, name: str) -> str:
    import ecflow

    variables = ecflow.VariableList()
    node.get_generated_variables(variables)
    for var in variables:
        if var.name() == name:
            return var.value()
    raise KeyError(f"{node.get_abs_node_path()} has no generated {name}")


# ---------------------------------------------------------------- loading


def _client_and_port(client_or_port: Any, host: str):
    """(ecflow.Client, port) from a port, an EcflowServer or a Client."""
    import ecflow

    if isinstance(client_or_port, int):
        return ecflow.Client(host, client_or_port), client_or_port
    if isinstance(client_or_port, EcflowServer):
        return client_or_port.client(), client_or_port.port
    return client_or_port, int(client_or_port.get_port())


def _force_ran(client: Any, plans: List[Plan], timeout: float = 60) -> None:
    """Once begin has submitted the 'ran' tasks, force them to their state.

    (Not `client.run(list)`: on 5.9.2 it resubmitted some tasks many times.)
    """
    import ecflow

    ran = [p for p in plans if p.ran]
    if not ran:
        return
    _wait_submitted(client, [p.path for p in ran], timeout)
    for state in ("complete", "aborted"):
        paths = [p.path for p in ran if p.state == state]
        if paths:
            client.force_state(paths, getattr(ecflow.State, state))


def _wait_submitted(client: Any, paths: List[str], timeout: float) -> None:
    """The server writes the job file and counts the try on submission."""
    deadline = time.monotonic() + timeout
    while True:
        client.sync_local()
        defs = client.get_defs()
        pending = [p for p in paths if str(defs.find_abs_node(p).get_state()) != "submitted"]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(pending)} tasks not submitted, e.g. {pending[:3]}")
        time.sleep(0.2)


def generate(client_or_port: Any, home: Path, suites: int = 10, families: int = 20, tasks: int = 50,
             host: str = "localhost", seed: int = 0, files_dir: Path | None = None) -> Result:
    """Load and begin s0..s<suites-1> on the server; return what was made.

    client_or_port: an ecflow.Client, an EcflowServer or a port on `host`. Suites of the same
    names are replaced. Nothing but `true` is ever executed.  files_dir: where this machine sees the
    server's `home` (a server whose files are elsewhere, EcflowServer(files_at=...)).
    """
    started = time.monotonic()
    home = Path(home).resolve()
    files_dir = Path(files_dir).resolve() if files_dir else home

    def seen_at(path: Path) -> Path:
        return files_dir / path.relative_to(home)

    client, port = _client_and_port(client_or_port, host)
    plans = plan_tasks(suites, families, tasks, seed)
    write_scripts(plans, files_dir)
    client.load(build_defs(plans, home, port), True)
    for s in range(suites):
        client.begin_suite(f"s{s}", True)
    _force_ran(client, plans)
    write_outputs(client, plans, seed, seen_at)
    return Result(tasks=len(plans), states=dict(Counter(p.state for p in plans)),
                  with_output=sum(p.ran for p in plans), seconds=time.monotonic() - started, plans=plans)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--suites", type=int, default=10)
    parser.add_argument("--families", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, required=True, help="ECF_HOME of the generated suites")
    args = parser.parse_args(argv)
    result = generate(args.port, args.home, args.suites, args.families, args.tasks, args.host, args.seed)
    states = ", ".join(f"{n} {s}" for s, n in sorted(result.states.items()))
    print(f"loaded {result.tasks} tasks ({states}; {result.with_output} with job output)"
          f" on {args.host}:{args.port} in {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
