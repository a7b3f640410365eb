"""The ecFlow 5.13 mirror line, parsed, resolved and normalised (pure; no I/O).

    [mirror] --name NAME --remote_path /s/f/t [--remote_host H] [--remote_port P] [--polling SECONDS]
             [--ssl] [--remote_auth FILE]
    [mirror] --name NAME --remote_cylc WORKFLOW_ID --remote_path /CYCLE/TASK [--polling SECONDS]

The second form (wffs's own) follows a task of a Cylc 8 workflow on this machine (its state as the
mount shows it; an expired Cylc task aborts the mirror); --remote_path may also be the task's path in a
mount of the workflow, /CYCLE/FAMILY/.../TASK.  Options take their value as the next word or after `=`; `--auth` is accepted for `--remote_auth`.
`%VAR%` references are resolved against the node's variables, and missing options default to the
variables ecFlow documents (ECF_MIRROR_REMOTE_HOST, _PORT, _POLLING, _AUTH), then to ecFlow's defaults.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from typing import Callable, Optional

from wffs.backend.base import MirrorLineError

DEFAULT_HOST = "localhost"
DEFAULT_PORT = "3141"
DEFAULT_POLLING = "120"
MIN_POLLING = 1
#: Node names as ecFlow accepts them: letters, digits, underscore and dot, not starting with a dot.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*\Z")
VARIABLE = re.compile(r"%([A-Za-z0-9_]*)%")
OFF_WORDS = ("", "off")

VALUE_OPTIONS = {
    "--name": "name",
    "--remote_path": "remote_path",
    "--remote_host": "remote_host",
    "--remote_port": "remote_port",
    "--polling": "polling",
    "--remote_auth": "remote_auth",
    "--auth": "remote_auth",
    "--remote_cylc": "remote_cylc",
}
FLAG_OPTIONS = {"--ssl": "ssl"}
#: The variable each option defaults to when the line leaves it out.
DEFAULT_VARIABLES = {
    "remote_host": "ECF_MIRROR_REMOTE_HOST",
    "remote_port": "ECF_MIRROR_REMOTE_PORT",
    "polling": "ECF_MIRROR_REMOTE_POLLING",
    "remote_auth": "ECF_MIRROR_REMOTE_AUTH",
}
#: A Cylc workflow id and the parts of a Cylc task path (cycle points may hold '-', '+', ':').
CYLC_WORKFLOW = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/-]*\Z")
CYLC_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+:-]*\Z")
BUILTIN_DEFAULTS = {"remote_host": DEFAULT_HOST, "remote_port": DEFAULT_PORT, "polling": DEFAULT_POLLING}


@dataclass(frozen=True)
class MirrorSpec:
    name: str
    remote_path: str
    remote_host: Optional[str] = None
    remote_port: Optional[str] = None
    polling: Optional[str] = None
    ssl: bool = False
    remote_auth: Optional[str] = None
    remote_cylc: Optional[str] = None

    def line(self) -> str:
        """The normalised line: fixed option order, values quoted only where needed."""
        words = ["mirror", "--name", self.name]
        if self.remote_cylc is not None:
            words += ["--remote_cylc", self.remote_cylc]
        words += ["--remote_path", self.remote_path]
        for option in ("remote_host", "remote_port", "polling"):
            value = getattr(self, option)
            if value is not None:
                words += [f"--{option}", value]
        if self.ssl:
            words.append("--ssl")
        if self.remote_auth is not None:
            words += ["--remote_auth", self.remote_auth]
        return " ".join(shlex.quote(w) for w in words)


@dataclass(frozen=True)
class Resolved:
    """A mirror with every value known and checked."""

    name: str
    remote_path: str
    remote_host: str
    remote_port: int
    polling: int
    ssl: bool
    remote_auth: Optional[str]
    remote_cylc: Optional[str] = None  # a Cylc workflow id: then remote_host is "" and remote_port 0

    @property
    def remote(self) -> str:
        if self.remote_cylc:
            return f"cylc://{self.remote_cylc}"
        return f"{self.remote_host}:{self.remote_port}"


def is_off(text: str) -> bool:
    """An empty line or `off` clears the mirror."""
    return text.strip().lower() in OFF_WORDS


def parse(text: str) -> MirrorSpec:
    """The spec in one line of text; MirrorLineError for anything malformed."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) != 1:
        raise MirrorLineError("expected one mirror line" if lines else "empty mirror line")
    try:
        words = shlex.split(lines[0])
    except ValueError as e:
        raise MirrorLineError(f"cannot split the line into words: {e}") from None
    if words and words[0] == "mirror":
        words = words[1:]
    values: dict = {}
    i = 0
    while i < len(words):
        word = words[i]
        option, eq, inline = word.partition("=")
        if option in FLAG_OPTIONS and not eq:
            if FLAG_OPTIONS[option] in values:
                raise MirrorLineError(f"{option} given twice")
            values[FLAG_OPTIONS[option]] = True
            i += 1
            continue
        if option not in VALUE_OPTIONS:
            raise MirrorLineError(f"unknown option {word!r}" if word.startswith("-") else f"unexpected word {word!r}")
        key = VALUE_OPTIONS[option]
        if key in values:
            raise MirrorLineError(f"{option} given twice")
        if eq:
            value = inline
            i += 1
        else:
            if i + 1 >= len(words):
                raise MirrorLineError(f"{option} needs a value")
            value = words[i + 1]
            i += 2
        if not value or value.startswith("--"):
            raise MirrorLineError(f"{option} needs a value")
        values[key] = value
    for required in ("name", "remote_path"):
        if required not in values:
            raise MirrorLineError(f"--{required} is required")
    spec = MirrorSpec(**values)
    check_static(spec)
    return spec


def check_static(spec: MirrorSpec) -> None:
    """Checks that need no variables (values holding %VAR% are checked once resolved)."""
    if spec.remote_cylc is not None:
        check_cylc_static(spec)
        return
    if not VARIABLE.search(spec.name):
        check_name(spec.name)
    if not VARIABLE.search(spec.remote_path):
        check_remote_path(spec.remote_path)
    if spec.remote_port is not None and not VARIABLE.search(spec.remote_port):
        check_port(spec.remote_port)
    if spec.polling is not None and not VARIABLE.search(spec.polling):
        check_polling(spec.polling)
    if spec.remote_host is not None and not VARIABLE.search(spec.remote_host):
        check_host(spec.remote_host)


def check_cylc_static(spec: MirrorSpec) -> None:
    others = [o for o in ("remote_host", "remote_port", "remote_auth") if getattr(spec, o) is not None]
    if others or spec.ssl:
        raise MirrorLineError(f"--remote_cylc takes no --{(others or ['ssl'])[0]}: a Cylc workflow is found by its id")
    if not VARIABLE.search(spec.name):
        check_name(spec.name)
    if not VARIABLE.search(spec.remote_cylc):
        check_cylc_workflow(spec.remote_cylc)
    if not VARIABLE.search(spec.remote_path):
        check_cylc_path(spec.remote_path)
    if spec.polling is not None and not VARIABLE.search(spec.polling):
        check_polling(spec.polling)


def check_cylc_workflow(workflow: str) -> None:
    if not CYLC_WORKFLOW.match(workflow) or ".." in workflow.split("/"):
        raise MirrorLineError(f"--remote_cylc {workflow!r}: not a Cylc workflow id (as in ~/cylc-run)")


def check_cylc_path(path: str) -> None:
    parts = path.split("/")
    if not path.startswith("/") or len(parts) < 3 or not all(CYLC_PART.match(p) for p in parts[1:]):
        raise MirrorLineError(f"--remote_path {path!r}: a Cylc task is /CYCLE/TASK (or /CYCLE/FAMILY/.../TASK)")


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise MirrorLineError(f"--name {name!r}: use letters, digits, '_' and '.' (not first)")


def check_remote_path(path: str) -> None:
    parts = path.split("/")
    if not path.startswith("/") or len(parts) < 2 or not all(NAME.match(p) for p in parts[1:]):
        raise MirrorLineError(f"--remote_path {path!r}: must be an absolute node path such as /suite/family/task")


def check_port(port: str) -> int:
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise MirrorLineError(f"--remote_port {port!r}: must be a number from 1 to 65535")
    return int(port)


def check_polling(polling: str) -> int:
    if not (polling.isascii() and polling.isdigit()) or int(polling) < MIN_POLLING:
        raise MirrorLineError(f"--polling {polling!r}: must be a whole number of seconds, at least {MIN_POLLING}")
    return int(polling)


def check_host(host: str) -> None:
    if not host or not re.fullmatch(r"[A-Za-z0-9_.:\[\]-]+", host):
        raise MirrorLineError(f"--remote_host {host!r}: not a host name or address")


def substitute(value: str, lookup: Callable[[str], Optional[str]]) -> str:
    def one(match):
        name = match.group(1)
        if not name:
            return "%"  # %% is a literal percent sign, as in ecFlow
        found = lookup(name)
        if found is None:
            raise MirrorLineError(f"%{name}% is not defined for this node")
        return found

    return VARIABLE.sub(one, value)


def resolve(spec: MirrorSpec, lookup: Callable[[str], Optional[str]]) -> Resolved:
    """Fill in defaults and %VAR% from the node's variables, and check every value."""
    if spec.remote_cylc is not None:
        return resolve_cylc(spec, lookup)
    filled = {}
    for key in ("remote_host", "remote_port", "polling", "remote_auth"):
        value = getattr(spec, key)
        if value is None:
            value = lookup(DEFAULT_VARIABLES[key])
        if value is None or value == "":
            value = BUILTIN_DEFAULTS.get(key)
        filled[key] = value
    spec = replace(spec, **filled)
    name = substitute(spec.name, lookup)
    path = substitute(spec.remote_path, lookup)
    host = substitute(spec.remote_host, lookup)
    port = substitute(spec.remote_port, lookup)
    polling = substitute(spec.polling, lookup)
    auth = substitute(spec.remote_auth, lookup) if spec.remote_auth else None
    check_name(name)
    check_remote_path(path)
    check_host(host)
    return Resolved(name, path, host, check_port(port), check_polling(polling), spec.ssl, auth or None)


def resolve_cylc(spec: MirrorSpec, lookup: Callable[[str], Optional[str]]) -> Resolved:
    polling = spec.polling
    if polling is None:
        polling = lookup(DEFAULT_VARIABLES["polling"]) or DEFAULT_POLLING
    name = substitute(spec.name, lookup)
    workflow = substitute(spec.remote_cylc, lookup)
    path = substitute(spec.remote_path, lookup)
    polling = substitute(polling, lookup)
    check_name(name)
    check_cylc_workflow(workflow)
    check_cylc_path(path)
    return Resolved(name, path, "", 0, check_polling(polling), False, None, remote_cylc=workflow)
