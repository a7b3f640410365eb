"""Hypothesis strategies for ecFlow definitions, written from the grammar ecFlow documents (the definition
file reference of ecFlow 5): every node kind and attribute 5.9.2 accepts, with names that clash on
purpose (dots, digits, a family named like a sibling task's file).

A generated suite is text plus the attribute kinds it used; `definition()` joins suites with the externs
and the shared limits suite they refer to.  Nothing here is anyone's definition file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

#: Every attribute kind the generator can write: the test checks that a run covered them all.
KINDS = frozenset({
    "edit", "label", "meter", "event", "limit", "inlimit", "inlimit -n", "inlimit -s", "inlimit value",
    "inlimit other suite", "trigger", "complete", "time", "today", "date", "day", "cron", "cron -w",
    "cron -d", "cron -m", "cron last", "cron relative", "late", "repeat integer", "repeat string", "repeat enumerated", "repeat date",
    "repeat datelist", "repeat day", "defstatus", "autocancel", "autoarchive", "autorestore", "zombie",
    "queue", "generic", "extern", "clock", "alias", "verify",
})

LIMITS_SUITE = "limits_shared"
SHARED_LIMITS = ("cpu", "io")
#: extern'd nodes and limits: referred to, never defined
EXTERN_NODE = "/elsewhere/f/t"
EXTERN_LIMIT = "/elsewhere:lim"

NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
NAME_REST = NAME_START + "."
STATES = ("queued", "complete", "aborted", "suspended", "submitted", "active", "unknown")
HH_MM = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")
DURATION = st.tuples(st.integers(0, 9), st.integers(0, 59)).map(lambda t: f"+{t[0]:02d}:{t[1]:02d}")
LATER = st.tuples(st.integers(1, 9), st.integers(0, 59)).map(lambda t: f"+{t[0]:02d}:{t[1]:02d}")
YMD = st.tuples(st.integers(2020, 2030), st.integers(1, 12), st.integers(1, 28)).map(
    lambda t: f"{t[0]}{t[1]:02d}{t[2]:02d}")
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
LABEL_TEXT = st.text(alphabet="abc xyz-_/:.,0123456789", max_size=12).map(lambda s: s.strip())


@dataclass
class Suite:
    name: str
    text: str
    kinds: set = field(default_factory=set)
    nodes: list = field(default_factory=list)  # every node path, suite first


def node_name(draw, taken: set) -> str:
    """A fresh sibling name; some on purpose like another sibling's file name (`t.att`, `t.1`)."""
    while True:
        if taken and draw(st.integers(0, 4)) == 0:
            base = draw(st.sampled_from(sorted(taken))).split(".")[0]
            name = base + "." + draw(st.sampled_from(["att", "que", "1", "def", "ecf", "out", "x"]))
        else:
            first = draw(st.sampled_from(NAME_START))
            name = first + draw(st.text(alphabet=NAME_REST, max_size=6))
        if name not in taken and not name.endswith(".") and ".." not in name:
            taken.add(name)
            return name


@st.composite
def time_attr(draw, keyword: str) -> str:
    form = draw(st.integers(0, 2))
    if form == 0:
        return f"{keyword} {draw(HH_MM)}"
    if form == 1:
        return f"{keyword} {draw(DURATION)}"
    start, end = sorted([draw(st.integers(0, 11)), draw(st.integers(12, 23))])
    return f"{keyword} {start:02d}:00 {end:02d}:00 {draw(st.sampled_from(['00:15', '00:30', '01:00']))}"


@st.composite
def cron_attr(draw):
    parts, kinds = ["cron"], {"cron"}
    if draw(st.booleans()):  # week days; "5L": the last Friday of the month
        picked = draw(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=3,
                               unique_by=lambda t: t[0]))  # a day once: plain, or its last of the month
        days = sorted(f"{d}L" if last else str(d) for d, last in picked)
        parts.append("-w " + ",".join(days))
        kinds |= {"cron -w"} | ({"cron last"} if any(d.endswith("L") for d in days) else set())
    if draw(st.booleans()):  # days of the month; "L": the last one
        days = sorted(draw(st.sets(st.sampled_from([str(d) for d in range(1, 29)] + ["L"]), min_size=1, max_size=3)))
        parts.append("-d " + ",".join(days))
        kinds |= {"cron -d"} | ({"cron last"} if "L" in days else set())
    if draw(st.booleans()):
        parts.append("-m " + ",".join(map(str, sorted(draw(st.sets(st.integers(1, 12), min_size=1, max_size=3))))))
        kinds.add("cron -m")
    form = draw(st.integers(0, 2))
    if form == 0:
        parts.append(draw(HH_MM))
    elif form == 1:  # relative to the suite's begin
        parts.append(f"+00:{draw(st.integers(1, 30)):02d} 23:00 01:00")
        kinds.add("cron relative")
    else:
        parts.append(f"00:{draw(st.integers(0, 30)):02d} 23:00 {draw(st.sampled_from(['00:30', '01:00']))}")
    return " ".join(parts), kinds


@st.composite
def repeat_attr(draw, is_suite: bool):
    var = draw(WORD).upper() + "_R"
    form = draw(st.sampled_from((["day"] if is_suite else []) + ["integer", "string", "enumerated", "date",
                                                                  "datelist"]))
    if form == "integer":
        start, span, step = draw(st.integers(0, 5)), draw(st.integers(0, 20)), draw(st.integers(1, 3))
        text = draw(st.sampled_from([f"repeat integer {var} {start} {start + span} {step}",
                                     f"repeat integer {var} {start + span} {start} -{step}"]))
    elif form in ("string", "enumerated"):
        values = draw(st.lists(WORD, min_size=1, max_size=4, unique=True))
        text = f"repeat {form} {var} " + " ".join(f'"{v}"' for v in values)
    elif form == "date":
        start = draw(YMD)
        text = f"repeat date {var} {start} {int(start) + draw(st.integers(0, 20))} 1"
        text = text if int(text.split()[4]) % 100 <= 28 else f"repeat date {var} {start} {start} 1"
    elif form == "datelist":
        text = f"repeat datelist {var} " + " ".join(draw(st.lists(YMD, min_size=1, max_size=3)))
    else:
        text = f"repeat day {draw(st.integers(1, 3))}"
    return text, {f"repeat {form}"}


def expression(draw, siblings: list, names_of_events: dict) -> str:
    """A trigger/complete expression over sibling nodes (relative), a path, an event, a meter, an extern."""
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        form = draw(st.integers(0, 4))
        if form == 0 or not siblings:
            terms.append(f"{EXTERN_NODE} == complete")
        else:
            other = draw(st.sampled_from(siblings))
            other = "./" + other  # a name may start with a digit: a path is never read as a number
            if form == 1:
                terms.append(f"{other} {draw(st.sampled_from(['==', '!=']))} {draw(st.sampled_from(STATES[:3]))}")
            elif form == 2 and names_of_events.get(other[2:], {}).get("event"):
                terms.append(f"{other}:{draw(st.sampled_from(names_of_events[other[2:]]['event']))}")
            elif form == 3 and names_of_events.get(other[2:], {}).get("meter"):
                terms.append(f"{other}:{draw(st.sampled_from(names_of_events[other[2:]]['meter']))} ge 3")
            else:
                terms.append(f"{other} == complete")
    joiner = draw(st.sampled_from([" and ", " or "]))
    return joiner.join(f"({t})" if len(terms) > 1 else t for t in terms)


@st.composite
def attributes(draw, kind: str, path: str, suite_limits: list, siblings: list, known: dict):
    """The attribute lines of one node, and the kinds used; `known[name]` gets its events and meters."""
    lines, kinds = [], set()
    own = {"event": [], "meter": []}

    def maybe(p: int = 3) -> bool:
        return draw(st.integers(0, p)) == 0

    for variable in draw(st.sets(WORD, max_size=2)):
        lines.append(f"edit {variable.upper()}_V '{draw(LABEL_TEXT)}'")
        kinds.add("edit")
    if maybe():
        lines.append(f'label {draw(WORD)}_l "{draw(LABEL_TEXT)}"')
        kinds.add("label")
    if maybe():
        name = draw(WORD) + "_m"
        lo = draw(st.integers(0, 5))
        hi = lo + draw(st.integers(1, 50))
        lines.append(f"meter {name} {lo} {hi}" + (f" {hi}" if draw(st.booleans()) else ""))
        own["meter"].append(name)
        kinds.add("meter")
    if maybe():
        name = draw(WORD) + "_e"
        number = draw(st.integers(0, 9))
        form = draw(st.sampled_from([f"event {name}", f"event {number} {name}", f"event {name} set", f"event {number}"]))
        lines.append(form)
        own["event"].append(name if name in form else str(number))
        kinds.add("event")
    if maybe() and kind != "task":
        name = draw(WORD) + "_lim"
        lines.append(f"limit {name} {draw(st.integers(3, 10))}")
        suite_limits.append((path, name))
        kinds.add("limit")
    if maybe(2):
        option = draw(st.sampled_from(["", "-n ", "-s "]))
        form = draw(st.integers(0, 2))
        if form == 0 and suite_limits:
            where, name = draw(st.sampled_from(suite_limits))
            target = f"{where}:{name}"
        elif form == 1:
            target = f"/{LIMITS_SUITE}:{draw(st.sampled_from(SHARED_LIMITS))}"
            kinds.add("inlimit other suite")
        else:
            target = EXTERN_LIMIT
            kinds.add("extern")
        value = f" {draw(st.integers(1, 3))}" if draw(st.booleans()) else ""
        lines.append(f"inlimit {option}{target}{value}")
        kinds |= {"inlimit", f"inlimit {option.strip()}" if option else "inlimit", *(["inlimit value"] if value else [])}
    timed = kind != "suite"  # a suite has no trigger, complete or time dependencies
    if timed and maybe():
        lines.append(f"trigger {expression(draw, siblings, known)}")
        kinds.add("trigger")
    if timed and maybe(5):
        lines.append(f"complete {expression(draw, siblings, known)}")
        kinds.add("complete")
    for keyword in ("time", "today"):
        if timed and maybe(5):
            lines.append(draw(time_attr(keyword)))
            kinds.add(keyword)
    if timed and maybe(5):
        lines.append(draw(st.sampled_from([
            f"date {draw(st.integers(1, 28))}.{draw(st.integers(1, 12))}.{draw(st.integers(2020, 2030))}",
            f"date *.{draw(st.integers(1, 12))}.*", "date 1.*.*"])))
        kinds.add("date")
    if timed and maybe(5):
        lines.append("day " + draw(st.sampled_from(["monday", "tuesday", "wednesday", "thursday", "friday",
                                                      "saturday", "sunday"])))
        kinds.add("day")
    if timed and maybe(5):
        text, used = draw(cron_attr())
        lines.append(text)
        kinds |= used
    if maybe(5):
        parts = draw(st.lists(st.sampled_from(["-s", "-a", "-c"]), min_size=1, max_size=3, unique=True))
        late = []
        for p in parts:
            late.append(f"{p} {draw(DURATION) if p != '-a' else draw(HH_MM)}")
        lines.append("late " + " ".join(late))
        kinds.add("late")
    if kind != "task" and "cron" not in kinds and maybe(2):  # one loop a node
        text, used = draw(repeat_attr(kind == "suite"))
        lines.append(text)
        kinds |= used
    if maybe(4):
        lines.append(f"defstatus {draw(st.sampled_from(STATES))}")
        kinds.add("defstatus")
    # an hour at least: a node cancelled or archived during the test would change under it
    later = st.sampled_from([draw(LATER), str(draw(st.integers(1, 9))), draw(LATER)[1:]])
    if maybe(6):
        lines.append("autocancel " + draw(later))
        kinds.add("autocancel")
    elif kind != "task" and maybe(6):
        lines.append("autoarchive " + draw(st.sampled_from([draw(later), f"{draw(st.integers(1, 9))} -i"])))
        kinds.add("autoarchive")
    families = [n for n in siblings if known.get(n, {}).get("kind") == "family"]  # what autorestore takes
    if families and maybe(3):
        parent = path.rsplit("/", 1)[0]
        lines.append("autorestore " + " ".join(f"{parent}/{n}" for n in sorted(
            draw(st.sets(st.sampled_from(families), min_size=1, max_size=2)))))
        kinds.add("autorestore")
    if maybe(6):
        ztype = draw(st.sampled_from(["user", "ecf", "path", "ecf_pid", "ecf_passwd", "ecf_pid_passwd"]))
        action = draw(st.sampled_from(["fob", "fail", "remove", "adopt", "block", "kill"]))
        cmds = ",".join(sorted(draw(st.sets(st.sampled_from(
            ["init", "event", "meter", "label", "wait", "abort", "complete", "queue"]), max_size=3))))
        lifetime = str(draw(st.integers(60, 7200))) if draw(st.booleans()) else ""
        lines.append(f"zombie {ztype}:{action}:{cmds}:{lifetime}")
        kinds.add("zombie")
    if maybe(6):
        lines.append(f"queue {draw(WORD)}_q " + " ".join(draw(st.lists(WORD, min_size=1, max_size=4))))
        kinds.add("queue")
    if maybe(6):
        lines.append(f"generic {draw(WORD)}_g " + " ".join(draw(st.lists(WORD, min_size=0, max_size=3))))
        kinds.add("generic")
    if kind == "task" and maybe(8):
        lines.append(f"verify {draw(st.sampled_from(['complete', 'aborted']))}:{draw(st.integers(1, 3))}")
        kinds.add("verify")
    return lines, kinds, own


@st.composite
def node_block(draw, kind: str, name: str, parent: str, depth: int, suite_limits: list, nodes: list,
               siblings: list, known: dict):
    path = f"{parent}/{name}" if parent else f"/{name}"
    nodes.append(path)
    lines, kinds, own = draw(attributes(kind, path, suite_limits, siblings, known))
    known[name] = {**own, "kind": kind}
    if kind == "suite" and draw(st.integers(0, 4)) == 0:
        lines.insert(0, draw(st.sampled_from(["clock real", "clock hybrid", "clock real 1.1.2026",
                                              "clock hybrid 15.6.2026 +01:00"])))
        kinds.add("clock")
    body = [f"  {line}" for line in lines]
    if kind == "task":
        if draw(st.integers(0, 8)) == 0:  # aliases: a task's own nodes, laid out like tasks
            alias = f"{name}_alias"
            nodes.append(f"{path}/{alias}")
            body += [f"  alias {alias}", '    label why "an alias"', "  endalias"]
            kinds.add("alias")
        return [f"task {name}"] + body, kinds
    taken, children = set(), []
    count = draw(st.integers(1 if depth < 2 else 0, 4 if depth < 2 else 2))
    child_known: dict = {}
    for _ in range(count):
        child_kind = draw(st.sampled_from(["task", "task", "family"])) if depth < 2 else "task"
        child_name = node_name(draw, taken)
        child_lines, child_kinds = draw(node_block(child_kind, child_name, path, depth + 1, suite_limits, nodes,
                                                   list(children), child_known))
        children.append(child_name)
        kinds |= child_kinds
        body += [f"  {line}" for line in child_lines]
    end = "endsuite" if kind == "suite" else "endfamily"
    return [f"{kind} {name}"] + body + [end], kinds


@st.composite
def suites(draw, count: int):
    made, taken = [], {LIMITS_SUITE}
    for i in range(count):
        name = f"g{i}_" + node_name(draw, set())
        taken.add(name)
        nodes, suite_limits = [], []
        if draw(st.booleans()):  # a limit of the suite itself, that its nodes may use
            suite_limits.append((f"/{name}", "own"))
        lines, kinds = draw(node_block("suite", name, "", 0, suite_limits, nodes, [], {}))
        if suite_limits and suite_limits[0] == (f"/{name}", "own"):
            lines.insert(1, "  limit own 4")
            kinds.add("limit")
        made.append(Suite(name, "\n".join(lines) + "\n", kinds, nodes))
    return made


def generate(count: int) -> list:
    """`count` suites, each drawn by hypothesis on its own (one example holds one suite: hypothesis
    bounds the size of an example), named g0_... g<count-1>_... so that they can share a server."""
    from hypothesis import HealthCheck, Phase, given, settings

    made = []

    @settings(max_examples=count, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(suites(1))
    def collect(drawn):
        (suite,) = drawn
        name = f"g{len(made)}_" + suite.name.split("_", 1)[1]
        text = suite.text.replace(f"suite {suite.name}\n", f"suite {name}\n", 1).replace(f"/{suite.name}", f"/{name}")
        made.append(Suite(name, text, suite.kinds, [name.join(p.split(suite.name, 1)) for p in suite.nodes]))

    while len(made) < count:  # hypothesis may stop early on examples it deems alike
        collect()
    return made[:count]


def definition(made: list) -> str:
    """The whole definition file: externs, the shared limits suite, then the generated suites."""
    head = [f"extern {EXTERN_NODE}", f"extern {EXTERN_LIMIT}", f"suite {LIMITS_SUITE}"]
    head += [f"  limit {n} 10" for n in SHARED_LIMITS] + ["endsuite"]
    return "\n".join(head) + "\n" + "".join(s.text for s in made)
