"""wffs.cli argument handling (no mounting) and wffs.mount_table._unescape."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from wffs import __version__
from wffs.cli import failure_reason, main, parse_size, resolve_target
from wffs.mount_table import _unescape


# ---- parse_size -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, size", [
    ("0", 0), ("1", 1), ("100", 100), ("64M", 64 << 20), ("64m", 64 << 20), ("64MB", 64 << 20),
    ("64mb", 64 << 20), ("1k", 1024), ("1K", 1024), ("1kB", 1024), ("2G", 2 << 30), ("2g", 2 << 30),
    ("10b", 10), ("10B", 10), (" 5M ", 5 << 20), ("5 M", 5 << 20), ("007k", 7 << 10),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", " ", "M", "-1", "1.5M", "1T", "1MiB", "64 MB extra", "1e6", "one", "1MM",
                                  "0x10", "+5"])
def test_parse_size_rejects(text):
    with pytest.raises(click.BadParameter):
        parse_size(text)


@given(st.integers(0, 10**6), st.sampled_from(["", "k", "K", "m", "M", "g", "G"]), st.sampled_from(["", "b", "B"]))
def test_parse_size_property(n, unit, b):
    assert parse_size(f"{n}{unit}{b}") == n * {"": 1, "k": 1024, "m": 1 << 20, "g": 1 << 30}[unit.lower()]


# ---- resolve_target ---------------------------------------------------------------------------------
@pytest.fixture
def no_ecf_env(monkeypatch):
    monkeypatch.delenv("ECF_HOST", raising=False)
    monkeypatch.delenv("ECF_PORT", raising=False)


def test_three_args(no_ecf_env, monkeypatch):
    assert resolve_target(("ecflow1", "3142", "/mnt")) == ("ecflow1", 3142, "/mnt")
    monkeypatch.setenv("ECF_HOST", "envhost")
    monkeypatch.setenv("ECF_PORT", "4000")
    assert resolve_target(("ecflow1", "3142", "/mnt")) == ("ecflow1", 3142, "/mnt")  # explicit wins


def test_one_arg_defaults(no_ecf_env):
    assert resolve_target(("/mnt",)) == ("localhost", 3141, "/mnt")


def test_one_arg_from_env(no_ecf_env, monkeypatch):
    monkeypatch.setenv("ECF_HOST", "envhost")
    monkeypatch.setenv("ECF_PORT", "4000")
    assert resolve_target(("/mnt",)) == ("envhost", 4000, "/mnt")


def test_two_args_host(no_ecf_env, monkeypatch):
    assert resolve_target(("ecflow1", "/mnt")) == ("ecflow1", 3141, "/mnt")
    monkeypatch.setenv("ECF_PORT", "4000")
    monkeypatch.setenv("ECF_HOST", "envhost")
    assert resolve_target(("ecflow1", "/mnt")) == ("ecflow1", 4000, "/mnt")


def test_two_args_port(no_ecf_env, monkeypatch):
    assert resolve_target(("3142", "/mnt")) == ("localhost", 3142, "/mnt")
    monkeypatch.setenv("ECF_HOST", "envhost")
    monkeypatch.setenv("ECF_PORT", "4000")
    assert resolve_target(("3142", "/mnt")) == ("envhost", 3142, "/mnt")


@pytest.mark.parametrize("port", ["abc", "0", "65536", "99999", "-1", "31 41", "", "3141x", "1e3"])
def test_bad_port(no_ecf_env, port):
    with pytest.raises(click.BadParameter):
        resolve_target(("host", port, "/mnt"))


@pytest.mark.parametrize("port", ["1", "65535", "3141"])
def test_port_bounds(no_ecf_env, port):
    assert resolve_target(("host", port, "/mnt"))[1] == int(port)


def test_bad_port_from_env(no_ecf_env, monkeypatch):
    monkeypatch.setenv("ECF_PORT", "notaport")
    with pytest.raises(click.BadParameter):
        resolve_target(("/mnt",))
    with pytest.raises(click.BadParameter):
        resolve_target(("host", "/mnt"))


def test_non_ascii_digit_port_is_a_bad_parameter(no_ecf_env):
    for port in ["\u00b2", "\u2460", "3\u00b9"]:  # '²', '①', '3¹': str.isdigit() is True, int() fails
        with pytest.raises(click.BadParameter):
            resolve_target(("host", port, "/mnt"))
        try:  # as HOST MNT or as PORT MNT, but a usage error either way, not a ValueError traceback
            resolve_target((port, "/mnt"))
        except click.BadParameter:
            pass


@pytest.mark.parametrize("args", [(), ("a", "1", "/mnt", "extra")])
def test_wrong_number_of_args(args):
    with pytest.raises(click.UsageError):
        resolve_target(args)


# ---- the command ------------------------------------------------------------------------------------
def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"wffs, version {__version__}"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    result = CliRunner().invoke(main, [flag])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    assert "mount" in result.output and "umount" in result.output


def test_mount_help():
    result = CliRunner().invoke(main, ["mount", "--help"])
    assert result.exit_code == 0
    for option in ("--foreground", "--refresh", "--timeout", "--max-file-size", "--debug", "--log"):
        assert option in result.output
    assert "[HOST] [PORT] MOUNTPOINT" in result.output


def test_mount_bad_port_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["mount", "host", "notaport", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a port number" in result.output


def test_mount_bad_size_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["mount", "--max-file-size", "lots", "host", "3141", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a size" in result.output


def test_mount_missing_directory(tmp_path):
    result = CliRunner().invoke(main, ["mount", "host", "3141", str(tmp_path / "nosuch")])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'nosuch'}: no such directory: make an empty one (mkdir {tmp_path / 'nosuch'})\n"


def test_mount_on_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "kept").write_text("x")
    result = CliRunner().invoke(main, ["mount", "host", "3141", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "is not empty" in result.output


def test_failure_reason_prefers_what_fuse_said(tmp_path):
    log = tmp_path / "m.log"
    log.write_text("an older mount's line: fuse: old\n")
    start = log.stat().st_size
    with log.open("a") as f:
        f.write("2026-12-03 INFO wffs: mounting a\nfuse: failed to exec fusermount3: Permission denied\n"
                "2026-12-03 ERROR wffs.mount: /m was not mounted: fuse_session_mount failed\n")
    assert failure_reason(str(log), start) == "fuse: failed to exec fusermount3: Permission denied"


def test_failure_reason_falls_back_to_the_error_then_the_last_line(tmp_path):
    log = tmp_path / "m.log"
    log.write_text("2026-12-03 ERROR wffs.mount: /m was not mounted: it failed\nlast words\n")
    assert failure_reason(str(log), 0) == "wffs.mount: /m was not mounted: it failed"
    log.write_text("one line\nlast words\n")
    assert failure_reason(str(log), 0) == "last words"
    assert failure_reason(str(log), log.stat().st_size) == "the mount process ended without a word"


def test_mount_needs_a_mountpoint():
    result = CliRunner().invoke(main, ["mount"])
    assert result.exit_code == 2


# ---- /proc/mounts escapes ---------------------------------------------------------------------------
@pytest.mark.parametrize("field, path", [
    ("/home/me/ecf", "/home/me/ecf"),
    ("/home/me/my\\040mount", "/home/me/my mount"),
    ("/a\\011b\\012c", "/a\tb\nc"),
    ("/back\\134slash", "/back\\slash"),
    ("/x\\134040", "/x\\040"),  # a backslash followed by the text 040
    ("/\\040\\040", "/  "),
    ("", ""),
])
def test_unescape(field, path):
    assert _unescape(field) == path


def kernel_escape(path: str) -> str:
    """What the kernel writes in /proc/self/mounts for a path (fs/proc_namespace.c: mangle)."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


@given(st.text(alphabet=st.sampled_from("ab/ \t\n\\0145")))
def test_unescape_inverts_the_kernel(path):
    assert _unescape(kernel_escape(path)) == path
