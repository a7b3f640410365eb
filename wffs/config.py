"""The several-servers config file (docs/usage.rst): TOML, one [servers.NAME] table per server.

    [servers.ops]
    host = "ecflow-ops.example"
    port = 3142
    ssl = true                       # optional
    user = "ops"                     # optional
    auth = "~/.config/wffs/ops.json" # optional: {"username": ..., "password": ...}

    [servers.model]
    cylc = "my/workflow"             # a Cylc 8 workflow (its id, as in ~/cylc-run) instead of host/port

Errors name the file and the line, so that a user can fix them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Optional

#: A server's directory name under the mount point: no slash, no leading dot (that is for wffs's own).
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*\Z")
KEYS = {"host": str, "port": int, "ssl": bool, "user": str, "auth": str, "cylc": str}
#: What a Cylc workflow's table may hold besides `cylc`.
CYLC_KEYS = ("cylc",)
REQUIRED = ("host", "port")


class ConfigError(ValueError):
    """The config cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    host: str
    port: int
    ssl: bool = False
    user: Optional[str] = None
    auth: Optional[str] = None
    cylc: Optional[str] = None  # a Cylc workflow id: then host and port are unused ("" and 0)


def _lines(text: str) -> list[str]:
    """TOML lines: only \\n ends one (str.splitlines would also split at U+2028, \\x85, \\x1c ...)."""
    return text.split("\n")


def _key(name: str) -> str:
    """A key as it may be written: bare or quoted."""
    return r"(?:" + re.escape(name) + r"|\"" + re.escape(name) + r"\"|'" + re.escape(name) + r"')"


def _at(source: str, line: int) -> str:
    return f"{source}, line {line}" if line else source


def table_line(text: str, name: str) -> int:
    """The line where servers.NAME is defined (a [servers.NAME] or [[servers.NAME]] header, a
    `NAME = {...}` under [servers], or a dotted `servers.NAME.key`), 1-based; 0 if it cannot be found."""
    key = _key(name)
    patterns = [r"^\s*\[\[?\s*servers\s*\.\s*" + key + r"\s*[\].]",
                r"^\s*" + key + r"\s*=",
                r"^\s*servers\s*\.\s*" + key + r"\s*[.=]"]
    lines = _lines(text)
    for pattern in patterns:
        for number, line in enumerate(lines, 1):
            if re.match(pattern, line):
                return number
    return 0


def section_line(text: str, name: str) -> int:
    """The line of a top-level [NAME] table (or [NAME.x], [[NAME]]) or `NAME = ...` key; 0 if not found."""
    key = _key(name)
    for number, line in enumerate(_lines(text), 1):
        if re.match(r"^\s*\[\[?\s*" + key + r"\s*[\].]", line) or re.match(r"^\s*" + key + r"\s*[.=]", line):
            return number
    return 0


def key_line(text: str, name: str, key: str) -> int:
    """The line where a key of [servers.NAME] is set, else the table's line."""
    start = table_line(text, name)
    lines = _lines(text)
    if start:
        for number in range(start + 1, len(lines) + 1):
            line = lines[number - 1]
            if re.match(r"^\s*\[", line):
                break
            if re.match(r"^\s*" + _key(key) + r"\s*=", line):
                return number
        for number in range(start, len(lines) + 1):  # inline table or dotted keys
            if re.search(r"[{,.]\s*" + _key(key) + r"\s*=", lines[number - 1]):
                return number
    return start


def parse(text: str, source: str = "config") -> list[ServerConfig]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: {e}") from None  # tomllib says "(at line N, column M)"
    unknown = sorted(set(data) - {"servers"})
    if unknown:
        raise ConfigError(f"{_at(source, section_line(text, unknown[0]))}: unknown section [{unknown[0]}]; "
                          "servers go in [servers.NAME] tables")
    servers = data.get("servers")
    if not isinstance(servers, dict) or not servers:
        raise ConfigError(f"{source}: no [servers.NAME] table")
    configs = []
    for name, table in servers.items():
        where = _at(source, table_line(text, name))
        if not NAME.match(name):
            raise ConfigError(f"{where}: [servers.{name}]: a server name is a directory name: letters, "
                              "digits, '_', '.', '+', '-', not starting with '.'")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: servers.{name} must be a table")
        for key, value in table.items():
            at = _at(source, key_line(text, name, key))
            if key not in KEYS:
                raise ConfigError(f"{at}: [servers.{name}]: unknown key {key!r} (known: {', '.join(KEYS)})")
            if type(value) is not KEYS[key]:
                raise ConfigError(f"{at}: [servers.{name}] {key} must be a {KEYS[key].__name__}")
        if "cylc" in table:
            configs.append(_cylc_server(text, source, name, table))
            continue
        for key in REQUIRED:
            if key not in table:
                raise ConfigError(f"{where}: [servers.{name}] needs {key} = ...")
        if not 0 < table["port"] < 65536:
            raise ConfigError(f"{_at(source, key_line(text, name, 'port'))}: [servers.{name}] port "
                              f"{table['port']} is not from 1 to 65535")
        if not table["host"].strip():
            raise ConfigError(f"{_at(source, key_line(text, name, 'host'))}: [servers.{name}] host is empty")
        configs.append(ServerConfig(name, table["host"], table["port"], table.get("ssl", False),
                                    table.get("user"), table.get("auth")))
    return configs


def _cylc_server(text: str, source: str, name: str, table: dict) -> ServerConfig:
    at = _at(source, key_line(text, name, "cylc"))
    other = sorted(set(table) - set(CYLC_KEYS))
    if other:
        raise ConfigError(f"{_at(source, key_line(text, name, other[0]))}: [servers.{name}] {other[0]}: "
                          "a Cylc workflow (cylc = ...) takes no host, port, ssl, user or auth")
    workflow = table["cylc"].strip().strip("/")
    if not workflow or ".." in workflow.split("/") or not re.fullmatch(r"[A-Za-z0-9_.+/-]+", workflow):
        raise ConfigError(f"{at}: [servers.{name}] cylc {table['cylc']!r} is not a workflow id")
    return ServerConfig(name, "", 0, cylc=workflow)


def load(path: str) -> list[ServerConfig]:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse(text, path)
