"""Why a node is not running, worked out from the worker's copy of the definition (runs in the worker).

ecFlow's `why` is computed by the client from a definition it downloads: `ecflow_client --group="get;
why=PATH"` costs a full download and a process per node, and the 5.9 Python binding has no why.  The
worker already holds a synced definition, so it follows ecFlow's rules itself, in ecFlow's wording, for
the reasons that hold a node: the server not running, a suspended node on the way down, a trigger that
is false (each node it names shown with its state, as ecFlow does), a time dependency, a full limit.
"""

from __future__ import annotations

import posixpath
import re

import ecflow

KINDS = {ecflow.Suite: "SUITE", ecflow.Family: "FAMILY", ecflow.Alias: "ALIAS"}
WAITING = ("queued", "unknown")
#: Words of a trigger expression that are not node paths.
KEYWORDS = {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "complete", "queued", "aborted",
            "active", "submitted", "unknown", "suspended", "set", "clear", "true", "false"}
TOKEN = re.compile(r"(?<![\w./:])([A-Za-z_.][\w.]*(?:/[\w.]+)*|/[\w.]+(?:/[\w.]+)*)(?![\w/:(])")


def kind_of(node) -> str:
    return next((k for cls, k in KINDS.items() if isinstance(node, cls)), "TASK")


def resolve(defs, node, token: str):
    """The node a trigger names: absolute, or relative to the node's parent (as ecFlow resolves it)."""
    if token.startswith("/"):
        path = token
    else:
        parent = node.get_parent()
        base = parent.get_abs_node_path() if parent is not None else "/"
        path = posixpath.normpath(posixpath.join(base, token))
    return defs.find_abs_node(path)


def annotated(defs, node, expression: str) -> str:
    """The expression with each node it names followed by that node's state: `a(suspended) == complete`."""
    def one(match):
        token = match.group(1)
        if token in KEYWORDS or token.isdigit():
            return token
        other = resolve(defs, node, token)
        return f"{token}({display_state(other)})" if other is not None else token

    return TOKEN.sub(one, expression)


def display_state(node) -> str:
    return "suspended" if node.is_suspended() else str(node.get_state())


def reasons_for(defs, node) -> list[str]:
    kind, path, state = kind_of(node), node.get_abs_node_path(), str(node.get_state())
    out = []
    if node.is_suspended():
        out.append(f"{kind}:{path} is suspended")
    if state not in WAITING:
        return out
    trigger = node.get_trigger()
    if trigger is not None and not node.evaluate_trigger():
        expression = annotated(defs, node, trigger.get_expression())
        out.append(f"{kind} {path}({state}) expression ({expression}) is false")
    if any(list(attrs) for attrs in (node.times, node.todays, node.dates, node.days, node.crons)):
        out.append(f"{kind} {path}({state}) is time dependent")
    for inlimit in node.inlimits:
        holder, limit = find_limit(defs, node, inlimit)
        if limit is not None and limit.value() >= limit.limit():
            out.append(f"limit {holder}:{limit.name()} is full ({limit.value()} of {limit.limit()} in use)")
    return out


def find_limit(defs, node, inlimit):
    """The Limit an inlimit refers to: on the node named by its path, else the nearest ancestor's."""
    holder = resolve(defs, node, inlimit.path_to_node()) if inlimit.path_to_node() else None
    candidates = [holder] if holder is not None else []
    if holder is None:
        n = node
        while n is not None:
            candidates.append(n)
            n = n.get_parent()
    for n in candidates:
        for limit in n.limits:
            if limit.name() == inlimit.name():
                return n.get_abs_node_path(), limit
    return None, None


def why(defs, node) -> bytes:
    """Every reason that holds the node, from the server down through its ancestors to the node."""
    lines = []
    server_state = str(defs.get_server_state())
    if server_state != "RUNNING":
        lines.append(f"The server is {server_state}: it submits no jobs")
    chain = []
    n = node
    while n is not None:
        chain.append(n)
        n = n.get_parent()
    for n in reversed(chain):
        lines.extend(reasons_for(defs, n))
    if not lines:
        lines.append(f"{kind_of(node)} {node.get_abs_node_path()}({display_state(node)}) "
                     "is not held by a trigger, a time, a limit or a suspension")
    return ("\n".join(lines) + "\n").encode()
