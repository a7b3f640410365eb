"""Render everything the server knows about one ecFlow node as `.att` text (runs in the worker).

One `key value` line per fact, grouped under headings, so people can read it and `grep -r` finds it:
state and since, flags, the node's own definition lines (trigger, complete, time, cron, late, limits,
labels, meters, events, repeat, defstatus, autocancel ...) with current values, then the node's own
variables, the generated ones and the inherited ones (marked with where they come from).
"""

from __future__ import annotations

from typing import Optional

import ecflow

FLAG_NAMES = sorted(n for n in ecflow.FlagType.names if n != "not_set")

#: A suite's clock variables change every minute: they are shown in the suite's own .att only, so that a
#: clock tick does not change (and re-render) every node below it.
CLOCK_VARIABLES = frozenset({"ECF_DATE", "YYYY", "DOW", "DOY", "DATE", "DAY", "DD", "MM", "MONTH",
                             "ECF_CLOCK", "ECF_TIME", "ECF_JULIAN", "TIME"})


def flags_of(node) -> list[str]:
    flag = node.get_flag()
    return [n for n in FLAG_NAMES if flag.is_set(ecflow.FlagType.names[n])]


#: The job password lets whoever knows it act as the job (--init, --complete ...): never shown.
SECRET_VARIABLES = frozenset({"ECF_PASS"})
HIDDEN = "(hidden)"


def shown(pairs) -> list[tuple[str, str]]:
    return [(n, HIDDEN if n in SECRET_VARIABLES and v else v) for n, v in pairs]


def own_variables(node) -> list[tuple[str, str]]:
    return [(v.name(), v.value()) for v in node.variables]


def generated_variables(node) -> list[tuple[str, str]]:
    """What the server would generate now.  The client's copy computes them once and keeps them: after an
    incremental sync a task's ECF_TRYNO, ECF_JOB and ECF_JOBOUT could still name an earlier try (seen on
    ECMWF's ecflow_ui test suite), so they are worked out again from what the sync brought."""
    node.update_generated_variables()
    vl = ecflow.VariableList()
    node.get_generated_variables(vl)
    return [(v.name(), v.value()) for v in vl]


def inheritable_variables(node) -> tuple:
    """What a node passes down to its descendants' .att (own and generated, less the clock)."""
    return tuple(own_variables(node)) + tuple(
        (n, v) for n, v in generated_variables(node) if n not in CLOCK_VARIABLES)


def definition_lines(node) -> list[str]:
    """The node's own definition (attributes, not children), as ecFlow prints it, without variables."""
    lines = []
    for line in str(node).splitlines()[1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith(("edit ", "end", "#")):
            continue
        kw = stripped.split()[0]
        if kw in ("task", "family", "alias"):
            break
        lines.append(stripped)
    return lines


def current_values(node) -> list[str]:
    """Values that change while the suite runs: labels, meters, events, repeat."""
    out = []
    for label in node.labels:
        value = label.new_value() or label.value()
        out.append(f"label {label.name()} {value!r}")
    for meter in node.meters:
        out.append(f"meter {meter.name()} {meter.value()} (min {meter.min()} max {meter.max()})")
    for event in node.events:
        name = event.name() or str(event.number())
        out.append(f"event {name} {'set' if event.value() else 'clear'}")
    repeat = node.get_repeat()
    if not repeat.empty():
        out.append(f"repeat {repeat.name()} {repeat.value()} ({repeat})")
    return out


def current_state(node) -> dict:
    """Labels, meters and events by name, as a mirror compares and copies them."""
    return {
        "labels": {lb.name(): lb.new_value() or lb.value() for lb in node.labels},
        "meters": {m.name(): m.value() for m in node.meters},
        "events": {(e.name() or str(e.number())): bool(e.value()) for e in node.events},
    }


def visible_variables(node, server_vars) -> dict:
    """Every variable the node sees, nearest definition first (as ecFlow resolves %VAR%)."""
    found = {}
    chain = [node]
    parent = node.get_parent()
    while parent is not None:
        chain.append(parent)
        parent = parent.get_parent()
    for n in chain:
        for name, value in own_variables(n) + generated_variables(n):
            found.setdefault(name, value)
    for name, value in server_vars:
        found.setdefault(name, value)
    return found


class Inheritance:
    """What each ancestor passes down, computed once per ancestor for a whole delta (not per node)."""

    def __init__(self, server_vars):
        self.server = [(n, v, "the server") for n, v in shown(server_vars)]
        self._below: dict = {}  # ancestor path -> [(name, value, origin)] visible below it, nearest first

    def visible_below(self, node) -> list:
        path = node.get_abs_node_path()
        found = self._below.get(path)
        if found is None:
            parent = node.get_parent()
            further = self.visible_below(parent) if parent is not None else self.server
            found = [(n, v, path) for n, v in shown(inheritable_variables(node))] + further
            self._below[path] = found
        return found

    def lines(self, node, seen: set) -> list[str]:
        """Variables a node inherits (nearest definition wins), not shadowed by its own."""
        parent = node.get_parent()
        out = []
        for name, value, origin in (self.visible_below(parent) if parent is not None else self.server):
            if name not in seen:
                seen.add(name)
                out.append(f"{name} = {value}    # inherited from {origin}")
        return out


def render(node, kind: str, state: str, suspended: bool, since: str, inheritance: Inheritance,
           generated: Optional[list] = None) -> bytes:
    """A node's .att; `generated`: its generated variables, when the caller has them already."""
    lines = [f"path {node.get_abs_node_path()}", f"kind {kind}", f"state {state}"]
    if suspended:
        lines.append("suspended yes")
    lines.append(f"since {since or 'unknown'}")
    if kind in ("task", "alias"):
        lines.append(f"try {node.get_int_try_no()}")
        reason = node.get_aborted_reason()
        if reason:
            lines.append(f"aborted_reason {reason}")
    lines.append(f"flags {' '.join(flags_of(node)) or '-'}")
    lines.append("")
    lines.append("# definition")
    lines.extend(definition_lines(node))
    values = current_values(node)
    if values:
        lines.append("")
        lines.append("# current values")
        lines.extend(values)
    own = shown(own_variables(node))
    gen = shown(generated if generated is not None else generated_variables(node))
    seen = {n for n, _ in own} | {n for n, _ in gen}
    lines.append("")
    lines.append("# variables")
    lines.extend(f"{n} = {v}" for n, v in own)
    lines.append("")
    lines.append("# generated variables")
    lines.extend(f"{n} = {v}" for n, v in gen)
    lines.append("")
    lines.append("# inherited variables (a suite's clock variables are in the suite's .att)")
    lines.extend(inheritance.lines(node, seen))
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
