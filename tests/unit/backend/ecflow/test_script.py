"""wffs.backend.ecflow.script: a manual taken from the script on disk only when it is exactly the server's.

The expected values are what ecFlow 5.9.2's `ecflow_client --file PATH manual` returned for the same
scripts (less the newline the command appends); None means only the server can tell.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wffs.backend.ecflow import script as ecf_script
from wffs.backend.ecflow.script import IncludeCheck, directive, manual_of

SERVER_SAID = [
    (b"%manual\nman text\n  indented\n%end\necho bye\n", b"man text\n  indented\n"),
    (b"%manual\nfirst\n%end\necho\n%manual\nsecond\n%end\n", b"first\nsecond\n"),
    (b"echo hi\n", b""),
    (b"%manual\n%end\necho\n", b""),
    (b"%manual\r\nwin\r\n%end\r\n", b"win\r\n"),
    (b"%comment\nc\n%end\n%manual\nm\n%end\n", b"m\n"),
    (b"%manual   \nsp\n%end  \n", b"sp\n"),
]
ONLY_THE_SERVER = [
    b"%manual\nindented %V%\n%end\n",  # variables are substituted in manuals
    b"%manual\nlast",  # unterminated: the server refuses it
    b"%manual\n%manual\n%end\n%end\n",
    b"%end\n",
    b"%nopp\necho\n%end\n",
    b"%ecfmicro #\n",
    b"%includeonce <x.h>\n",
    b"%include <missing.h>\n%manual\nm\n%end\n",  # no such include: the server fails, we do not guess
]


def manual(script, tmp_path, **kw):
    return manual_of(script, script_dir=str(tmp_path), include_dirs=[str(tmp_path / "include")],
                     ecf_home=str(tmp_path), **kw)


@pytest.mark.parametrize("script,expected", SERVER_SAID)
def test_what_the_server_said(script, expected, tmp_path):
    assert manual(script, tmp_path) == expected


@pytest.mark.parametrize("script", ONLY_THE_SERVER)
def test_left_to_the_server(script, tmp_path):
    assert manual(script, tmp_path) is None


def test_includes_without_directives_add_nothing(tmp_path):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "head.h").write_bytes(b"echo head %ECF_NAME%\n")
    assert manual(b"%include <head.h>\n%manual\nmine\n%end\n", tmp_path) == b"mine\n"


def test_one_check_of_many_scripts_looks_at_each_include_once(tmp_path, monkeypatch):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "head.h").write_bytes(b"echo head\n")
    (tmp_path / "include" / "manh.h").write_bytes(b"%manual\nfrom include\n%end\n")
    looked_at = []
    real = ecf_script._has_directives
    monkeypatch.setattr(ecf_script, "_has_directives", lambda path: looked_at.append(path) or real(path))
    where = dict(script_dir=str(tmp_path / "s"), include_dirs=[str(tmp_path / "include")], ecf_home=str(tmp_path))
    check = IncludeCheck()
    for _ in range(50):  # the scripts of a suite: the same includes
        assert check.harmless([b"<head.h>"], **where)
        assert not check.harmless([b"<head.h>", b"<manh.h>"], **where)
    assert sorted(set(looked_at)) == sorted(looked_at)  # each candidate file once
    assert str(tmp_path / "include" / "head.h") in looked_at
    (tmp_path / "include" / "head.h").write_bytes(b"%manual\nnow one\n%end\n")  # edited between syncs
    assert check.harmless([b"<head.h>"], **where)  # this pass keeps what it saw
    assert not IncludeCheck().harmless([b"<head.h>"], **where)  # the next pass sees the edit


def test_an_include_with_a_manual_is_left_to_the_server(tmp_path):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "manh.h").write_bytes(b"%manual\nfrom include\n%end\n")
    assert manual(b"%include <manh.h>\n%manual\nmine\n%end\n", tmp_path) is None
    # any candidate with directives counts, wherever the server would look first
    (tmp_path / "include" / "head.h").write_bytes(b"echo\n")
    (tmp_path / "head.h").write_bytes(b"%comment\nx\n%end\n")
    assert manual(b"%include <head.h>\n", tmp_path) is None


def test_another_micro_character_is_left_to_the_server(tmp_path):
    assert manual(b"#manual\nm\n#end\n", tmp_path, micro="#") is None


def test_variable_lines_are_not_directives():
    assert directive(b"%ECF_HOME%/bin/run") == (None, b"")
    assert directive(b"  %include <head.h>  ") == (b"include", b"<head.h>")


@given(st.binary(max_size=200))
def test_any_script_gives_bytes_or_none(script):
    result = manual_of(script, script_dir="/nonexistent", include_dirs=[], ecf_home="/nonexistent")
    assert result is None or isinstance(result, bytes)
