"""wffs.backend.ecflow.local_proof: the disk is the server's only when its log here ends as the server says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wffs.backend.ecflow import local_proof
from wffs.backend.ecflow.local_proof import prove

LOG = [f"MSG:[14:{m:02d}:{s:02d} 3.12.2026] --news=1 0 1 :root" for m in range(3) for s in range(60)]


def server_says(lines):
    return lambda: "\n".join(lines[-local_proof.LOG_LINES:]) + "\n"


def written(tmp_path, lines, name="vm.3141.ecf.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_servers_own_log_proves_it(tmp_path):
    path = written(tmp_path, LOG)
    decision = prove("auto", {"ECF_LOG": str(path)}, server_says(LOG))
    assert decision.local and decision.render() == f"local ({path} here ends with the server's last log lines)"


def test_lines_written_after_the_request_do_not_matter(tmp_path):
    path = written(tmp_path, LOG + ["MSG:[14:03:00 3.12.2026] --sync_full=0 :root"] * 3)
    assert prove("auto", {"ECF_LOG": str(path)}, server_says(LOG)).local


def test_a_stale_copy_is_not_the_server(tmp_path):
    path = written(tmp_path, LOG[:-30])
    decision = prove("auto", {"ECF_LOG": str(path)}, server_says(LOG))
    assert not decision.local and "is not the server's log" in decision.why


def test_a_relative_log_is_below_ecf_home(tmp_path):
    written(tmp_path, LOG)
    assert prove("auto", {"ECF_LOG": "vm.3141.ecf.log", "ECF_HOME": str(tmp_path)}, server_says(LOG)).local


def test_no_log_here(tmp_path):
    decision = prove("auto", {"ECF_LOG": str(tmp_path / "none.log"), "ECF_HOME": str(tmp_path)}, server_says(LOG))
    assert decision.render() == f"server (its log {tmp_path / 'none.log'} cannot be read here: No such file or directory)"


def test_no_ecf_log_named():
    assert not prove("auto", {}, server_says(LOG)).local


def test_a_server_that_fails_to_answer_proves_nothing(tmp_path):
    path = written(tmp_path, LOG)

    def fails():
        raise RuntimeError("connection refused")

    decision = prove("auto", {"ECF_LOG": str(path)}, fails)
    assert not decision.local and "connection refused" in decision.why


def test_an_empty_server_log(tmp_path):
    path = written(tmp_path, LOG)
    assert not prove("auto", {"ECF_LOG": str(path)}, lambda: "\n\n").local


@pytest.mark.parametrize("mode, local", [("local", True), ("server", False)])
def test_the_user_may_decide(tmp_path, mode, local):
    def never():
        raise AssertionError("no proof is asked for")

    decision = prove(mode, {"ECF_LOG": str(tmp_path / "none")}, never)
    assert decision.local is local and decision.why == f"--files {mode}"


def test_only_the_end_of_a_big_log_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(local_proof, "TAIL_BYTES", 4096)
    path = written(tmp_path, ["x" * 100] * 1000 + LOG)
    assert prove("auto", {"ECF_LOG": str(path)}, server_says(LOG)).local
    path = written(tmp_path, LOG + ["x" * 100] * 1000)
    assert not prove("auto", {"ECF_LOG": str(path)}, server_says(LOG)).local


@given(st.lists(st.sampled_from("abc"), max_size=8), st.lists(st.sampled_from("abc"), min_size=1, max_size=3))
def test_contains_run(haystack, needle):
    expected = any(haystack[i:i + len(needle)] == needle for i in range(len(haystack)))
    assert local_proof.contains_run(haystack, needle) == expected
    assert local_proof.contains_run(haystack + needle, needle)
