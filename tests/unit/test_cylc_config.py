"""Issue 14: Cylc workflows in the several-servers config, on the command line and in mirror lines."""

from __future__ import annotations

import pytest

from wffs import cli
from wffs.backend.cylc.backend import workflow_of
from wffs.config import ConfigError, ServerConfig, parse
from wffs.mirror_line import MirrorLineError, parse as parse_line, resolve

SOURCE = "servers.toml"


def test_config_with_a_cylc_workflow():
    servers = parse('[servers.ops]\nhost = "h"\nport = 3141\n\n[servers.model]\ncylc = "my/flow"\n', SOURCE)
    assert servers == [ServerConfig("ops", "h", 3141), ServerConfig("model", "", 0, cylc="my/flow")]


@pytest.mark.parametrize("table, words, line", [
    ('cylc = "wf"\nhost = "h"', "takes no host", 3),
    ('cylc = "wf"\nport = 1', "takes no host, port", 3),
    ('cylc = "wf"\nssl = true', "takes no", 3),
    ('cylc = "../x"', "is not a workflow id", 2),
    ('cylc = ""', "is not a workflow id", 2),
    ('cylc = "a b"', "is not a workflow id", 2),
    ('cylc = 3', "cylc must be a str", 2),
])
def test_config_rejects_bad_cylc_entries(table, words, line):
    with pytest.raises(ConfigError) as info:
        parse(f"[servers.model]\n{table}\n", SOURCE)
    assert words in str(info.value) and str(info.value).startswith(f"{SOURCE}, line {line}:"), str(info.value)


@pytest.mark.parametrize("target, workflow", [("cylc://wf", "wf"), ("cylc://my/flow/run1", "my/flow/run1"),
                                              ("cylc://wf/", "wf")])
def test_cylc_targets(target, workflow):
    assert workflow_of(target) == workflow


@pytest.mark.parametrize("target", ["cylc://", "cylc://a/../b", "cylc://a b", "wf", "http://wf"])
def test_bad_cylc_targets(target):
    with pytest.raises(ValueError):
        workflow_of(target)


def test_mount_usage_errors(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    result = runner.invoke(cli.main, ["mount", "cylc://wf", "3141", str(tmp_path)])
    assert result.exit_code == 2 and "cylc://WORKFLOW_ID MOUNTPOINT" in result.output
    result = runner.invoke(cli.main, ["mount", "cylc://a/../b", str(tmp_path)])
    assert result.exit_code == 2 and "is not cylc://WORKFLOW_ID" in result.output


LINE = "mirror --name A --remote_cylc my/flow --remote_path /1/held_one --polling 5"


def test_mirror_line_with_a_cylc_remote():
    spec = parse_line("--remote_path /1/held_one --remote_cylc=my/flow --name A --polling 5")
    assert spec.line() == LINE
    resolved = resolve(spec, {}.get)
    assert resolved.remote_cylc == "my/flow" and resolved.remote == "cylc://my/flow"
    assert resolved.remote_path == "/1/held_one" and resolved.polling == 5
    assert parse_line(spec.line()) == spec  # normalised lines read back the same


def test_mirror_line_cylc_variables_and_defaults():
    variables = {"WF": "my/flow", "CYCLE": "20260101T0000Z", "ECF_MIRROR_REMOTE_POLLING": "7"}
    resolved = resolve(parse_line("mirror --name A --remote_cylc %WF% --remote_path /%CYCLE%/FAM/a"),
                       variables.get)
    assert (resolved.remote_cylc, resolved.remote_path, resolved.polling) == ("my/flow", "/20260101T0000Z/FAM/a", 7)
    resolved = resolve(parse_line("mirror --name A --remote_cylc wf --remote_path /1/t"), {}.get)
    assert resolved.polling == 120  # ecFlow's default, as for an ecFlow remote


@pytest.mark.parametrize("line, words", [
    ("mirror --name A --remote_cylc wf --remote_path /1/t --remote_host h", "takes no --remote_host"),
    ("mirror --name A --remote_cylc wf --remote_path /1/t --remote_port 3141", "takes no --remote_port"),
    ("mirror --name A --remote_cylc wf --remote_path /1/t --ssl", "takes no --ssl"),
    ("mirror --name A --remote_cylc wf --remote_path /1", "a Cylc task is /CYCLE/TASK"),
    ("mirror --name A --remote_cylc wf --remote_path 1/t", "a Cylc task is /CYCLE/TASK"),
    ("mirror --name A --remote_cylc ../wf --remote_path /1/t", "not a Cylc workflow id"),
    ("mirror --name A --remote_cylc wf --remote_cylc wf2 --remote_path /1/t", "given twice"),
    ("mirror --name A --remote_cylc --remote_path /1/t", "needs a value"),
])
def test_bad_cylc_mirror_lines(line, words):
    with pytest.raises(MirrorLineError) as info:
        parse_line(line)
    assert words in str(info.value)


def test_ecflow_lines_are_unchanged():
    spec = parse_line("mirror --name A --remote_path /s/f/t --remote_host h --remote_port 3142")
    assert spec.remote_cylc is None
    assert spec.line() == "mirror --name A --remote_path /s/f/t --remote_host h --remote_port 3142"
    assert resolve(spec, {}.get).remote == "h:3142"
