"""wffs.config: the several-servers TOML file; every error names the file and the line to fix."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wffs.config import ConfigError, ServerConfig, load, parse

SOURCE = "/home/u/.config/wffs/servers.toml"

VALID = """\
# two servers
[servers.local]
host = "localhost"
port = 3141

[servers.ops]
host = "ecflow-ops.example"
port = 3142
ssl = true                       # optional
user = "ops"                     # optional
auth = "~/.config/wffs/ops.json" # optional
"""


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, SOURCE)
    return str(info.value)


def line_of(message: str) -> int:
    """The line number an error names, right after the file name."""
    assert message.startswith(SOURCE), message
    m = re.match(re.escape(SOURCE) + r"(?:, line (\d+)|:.*\(at line (\d+), column \d+\))", message)
    assert m, f"no line number in {message!r}"
    return int(m.group(1) or m.group(2))


# ---- valid files ---------------------------------------------------------------------------------------
def test_valid_file():
    assert parse(VALID, SOURCE) == [
        ServerConfig("local", "localhost", 3141),
        ServerConfig("ops", "ecflow-ops.example", 3142, ssl=True, user="ops", auth="~/.config/wffs/ops.json"),
    ]
    local = parse(VALID)[0]
    assert (local.ssl, local.user, local.auth) == (False, None, None)


def test_names_keep_the_file_order_and_may_be_quoted():
    text = '[servers.zz]\nhost = "a"\nport = 1\n[servers."a.b-c+1"]\nhost = "b"\nport = 65535\n'
    assert [(c.name, c.port) for c in parse(text)] == [("zz", 1), ("a.b-c+1", 65535)]


def test_load_reads_the_file(tmp_path):
    path = tmp_path / "servers.toml"
    path.write_text(VALID)
    assert [c.name for c in load(str(path))] == ["local", "ops"]
    path.write_text(VALID + "[servers.x]\nhost = 'h'\nport = 0\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}, line 14")):
        load(str(path))


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nosuch.toml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load(str(missing))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[servers.a]\nhost = '\xff'\n")
    with pytest.raises(ConfigError, match=re.escape(str(binary)) + ".*UTF-8"):
        load(str(binary))


# ---- errors name the file and the line -------------------------------------------------------------------
def test_toml_syntax_error():
    message = error('[servers.a]\nhost = "h"\nport = \n')
    assert line_of(message) == 3
    assert line_of(error('[servers.a]\nhost = "unterminated\nport = 1\n')) == 2


def test_unknown_key():
    message = error(VALID + "hots = 'typo'\n")
    assert line_of(message) == 12 and "'hots'" in message and "servers.ops" in message
    assert line_of(error('[servers.a]\nhost = "h"\nport = 1\n\n[servers.b]\nhost = "h"\nport = 2\nsssl = true\n')) == 8
    # a sub-table is an unknown key too
    assert "'extra'" in error('[servers.a]\nhost = "h"\nport = 1\n[servers.a.extra]\nx = 1\n')


@pytest.mark.parametrize("key, value, line", [
    ("port", '"3141"', 3), ("port", "3141.0", 3), ("port", "true", 3), ("host", "42", 2),
    ("ssl", '"yes"', 4), ("user", "1", 4), ("auth", "[]", 4),
])
def test_wrong_type(key, value, line):
    lines = ['[servers.a]', 'host = "h"', 'port = 1']
    if key in ("host", "port"):
        lines[line - 1] = f"{key} = {value}"
    else:
        lines.append(f"{key} = {value}")
    message = error("\n".join(lines) + "\n")
    assert line_of(message) == line and key in message and "must be" in message


@pytest.mark.parametrize("missing", ["host", "port"])
def test_missing_host_or_port(missing):
    table = {"host": 'host = "h"', "port": "port = 1"}
    del table[missing]
    text = '[servers.ok]\nhost = "h"\nport = 1\n\n[servers.bad]\nuser = "u"\n' + "\n".join(table.values()) + "\n"
    message = error(text)
    assert line_of(message) == 5  # the table that lacks it
    assert f"needs {missing}" in message and "servers.bad" in message


@pytest.mark.parametrize("port", [0, -1, 65536, 10 ** 9])
def test_bad_port(port):
    message = error(f'[servers.a]\nhost = "h"\n# comment\nport = {port}\n')
    assert line_of(message) == 4 and str(port) in message


def test_empty_host():
    assert line_of(error('[servers.a]\nport = 1\nhost = "  "\n')) == 3


@pytest.mark.parametrize("name", ['".hidden"', '".."', '"a/b"', '""', '"a b"', '"é"', '"-x"', "'a;b'"])
def test_bad_server_name(name):
    message = error(f'[servers.ok]\nhost = "h"\nport = 1\n\n[servers.{name}]\nhost = "h"\nport = 1\n')
    assert line_of(message) == 5 and "name" in message


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "[servers]\n", "servers = 5\n", "servers = []\n"])
def test_no_servers(text):
    message = error(text)
    assert message.startswith(SOURCE) and "servers" in message


@pytest.mark.parametrize("text, line", [
    ('[servers.a]\nhost = "h"\nport = 1\n\n[global]\nrefresh = 2\n', 5),
    ('refresh = 2\n\n[servers.a]\nhost = "h"\nport = 1\n', 1),
    ('[servers.a]\nhost = "h"\nport = 1\n[server.b]\nhost = "h"\nport = 2\n', 4),  # a typo of servers
])
def test_unknown_top_level_section(text, line):
    message = error(text)
    assert "unknown" in message
    assert line_of(message) == line


@pytest.mark.parametrize("text, line", [
    ('[servers]\nlocal = {host = "h", port = 0}\n', 2),  # an inline table
    ('servers.a.host = "h"\nservers.a.port = 0\n', 2),  # dotted keys
    ('[servers]\na = 5\n', 2),  # not a table
    ('[[servers.a]]\nhost = "h"\nport = 1\n', 1),  # an array of tables
])
def test_other_toml_forms_name_a_real_line(text, line):
    assert line_of(error(text)) == line  # never "line 0"


def test_a_line_that_cannot_be_found_is_not_named():
    message = error('[servers."a\\u002fb"]\nhost = "h"\nport = 1\n')  # an escape in the name ('a/b')
    assert message.startswith(SOURCE) and "a/b" in message
    assert "line 0" not in message  # line 1, or no line at all


def test_line_numbers_count_only_newlines():
    # U+2028 and U+0085 are allowed in TOML comments and strings; only \n ends a TOML line
    text = '# a\u2028comment\n[servers.a]\nuser = "x\u0085y"\nhost = "h"\nport = 0\n'
    assert line_of(error(text)) == 5


def test_crlf_line_numbers():
    assert line_of(error('[servers.a]\r\nhost = "h"\r\n\r\nport = 0\r\n')) == 4


# ---- any text: configs or a ConfigError -------------------------------------------------------------------
FRAGMENTS = st.sampled_from([
    "[servers.a]", "[servers.b]", '[servers."x y"]', "[servers]", "[other]", "[[servers.c]]", "[servers.a.sub]",
    'host = "h"', "host = 1", 'host = ""', "port = 3141", "port = 0", 'port = "1"', "port = 70000",
    "ssl = true", 'ssl = "no"', 'user = "u"', 'auth = "~/a.json"', "extra = 1", "servers = 1",
    'a = {host = "h", port = 1}', "servers.d.host = 'h'", "# comment", "", "=", "[", '"', "host =",
])


def check(text: str) -> None:
    try:
        configs = parse(text, SOURCE)
    except ConfigError as e:
        assert str(e).startswith(SOURCE)
    else:
        assert configs and all(isinstance(c, ServerConfig) for c in configs)
        assert all(0 < c.port < 65536 and c.host.strip() for c in configs)


@settings(max_examples=300)
@given(text=st.text())
def test_arbitrary_text(text):
    check(text)


@settings(max_examples=300)
@given(lines=st.lists(FRAGMENTS, max_size=12))
def test_arbitrary_config_like_text(lines):
    check("\n".join(lines) + "\n")
