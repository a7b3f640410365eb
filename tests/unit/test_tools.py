"""wffs.tools on plain directories shaped like a mount (the walk reads only names; grep reads files)."""

from __future__ import annotations

import io
import re

import pytest

from wffs.tools import backup as wb
from wffs.tools.grep import search
from wffs.tools.tree_walk import server_roots, state_code, walk


def make(top, files: dict) -> None:
    for rel, data in files.items():
        path = top / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


ONE_SERVER = {
    ".server/status": b"reachable yes\n", ".server/events": b"", ".server/log": b"log\n",
    "s.abo": b"aborted\n", "s.att": b"", "s.def": b"suite s\n",
    "s/f.abo": b"aborted\n", "s/f.att": b"",
    "s/f/t1.abo": b"aborted\n", "s/f/t1.att": b"", "s/f/t1.out": b"start\nERROR: disk\nend\n",
    "s/f/t2.com": b"complete\n", "s/f/t2.out": b"ERROR but complete\n",
    "s/f/t.v2.abo": b"aborted\n", "s/f/t.v2.out": b"fine\n",
    "s/a.que": b"queued\n", "s/a.que~/x.abo": b"aborted\n", "s/a.que~/x.out": b"ERROR in x\n",
    "other.que": b"queued\n", "other/t.que": b"queued\n", "other/t.out": b"ERROR elsewhere\n",
    "s/a.que.abo": b"aborted\n",
}
NODES = [  # .server/nodes as the mount renders it: path, state, kind, status file
    ("/s", "aborted", "suite", "s.abo"), ("/other", "queued", "suite", "other.que"),
    ("/s/f", "aborted", "family", "s/f.abo"), ("/s/a", "queued", "task", "s/a.que"),
    ("/s/a.que", "aborted", "family", "s/a.que.abo"),
    ("/s/f/t1", "aborted", "task", "s/f/t1.abo"), ("/s/f/t2", "complete", "task", "s/f/t2.com"),
    ("/s/f/t.v2", "aborted", "task", "s/f/t.v2.abo"), ("/s/a.que/x", "aborted", "task", "s/a.que~/x.abo"),
    ("/other/t", "queued", "task", "other/t.que"),
]
ONE_SERVER[".server/nodes"] = "".join("\t".join(n) + "\n" for n in NODES).encode()


def test_walk_names_nodes_kinds_and_states(tmp_path):
    make(tmp_path, ONE_SERVER)
    found = {f.rel: f for f in walk(str(tmp_path))}
    assert ".server/events" not in found  # the mount's own session log
    assert found[".server/log"].kind == "server" and found[".server/log"].node == ""
    t = found["s/f/t.v2.out"]
    assert (t.node, t.kind, t.state) == ("/s/f/t.v2", "out", "abo")
    x = found["s/a.que~/x.out"]  # the clash mark is not part of the node path
    assert (x.node, x.state) == ("/s/a.que/x", "abo")
    assert (found["s/a.que"].node, found["s/a.que"].kind) == ("/s/a", "status")
    assert found["s.def"].kind == "def" and found["s.def"].state == "abo"
    only_s = {f.rel for f in walk(str(tmp_path), suites=["s"])}
    assert "other/t.out" not in only_s and "other.que" not in only_s and ".server/log" in only_s


def test_several_servers(tmp_path):
    make(tmp_path, {f"{srv}/{rel}": data for srv in ("ops", "dev") for rel, data in ONE_SERVER.items()})
    (tmp_path / ".events").write_bytes(b"")
    assert server_roots(str(tmp_path)) == [("dev", "dev"), ("ops", "ops")]
    found = {f.rel: f for f in walk(str(tmp_path))}
    assert found["ops/s/f/t1.out"].node == "ops:/s/f/t1"
    assert ".events" not in found and "ops/.server/events" not in found


def test_not_a_mount(tmp_path):
    with pytest.raises(NotADirectoryError, match="not a wffs mount"):
        server_roots(str(tmp_path))


@pytest.mark.parametrize("text,code", [("abo", "abo"), ("aborted", "abo"), ("suspended", "sus"), ("que", "que")])
def test_state_codes(text, code):
    assert state_code(text) == code


def test_state_code_refuses_nonsense():
    with pytest.raises(ValueError, match="not a state"):
        state_code("broken")


def grep(tmp_path, pattern, **kw):
    out, err = io.BytesIO(), io.StringIO()
    code = search(tmp_path, re.compile(pattern), out=out, err=err, **kw)
    return code, out.getvalue().decode(), err.getvalue()


def test_grep_only_the_nodes_in_the_state(tmp_path):
    make(tmp_path, ONE_SERVER)
    assert grep(tmp_path, rb"ERROR", states={"abo"}) == (0, "/s/a.que/x:1:ERROR in x\n/s/f/t1:2:ERROR: disk\n", "")
    assert grep(tmp_path, rb"ERROR", states={"abo"}, list_only=True)[1] == "/s/a.que/x\n/s/f/t1\n"
    assert grep(tmp_path, rb"ERROR", list_only=True)[1].split() == ["/other/t", "/s/a.que/x", "/s/f/t1", "/s/f/t2"]
    assert grep(tmp_path, rb"ERROR", suites=["other"], list_only=True)[1] == "/other/t\n"
    assert grep(tmp_path, rb"nothing", states={"abo"}) == (1, "", "")
    code, out, _ = grep(tmp_path, rb"suite", kinds=("def", "out"))
    assert (code, out) == (0, "/s.def:1:suite s\n")


def test_grep_reports_unreadable_files_and_goes_on(tmp_path):
    make(tmp_path, ONE_SERVER)
    (tmp_path / "s/f/t1.out").unlink()
    (tmp_path / "s/f/t1.out").mkdir()  # there, but cannot be read as a file (root reads even mode 0)
    code, out, err = grep(tmp_path, rb"ERROR", states={"abo"})
    assert code == 2 and "s/f/t1.out" in err and out == "/s/a.que/x:1:ERROR in x\n"


def test_backup_names(tmp_path):
    for name in ("2026-11-26T010203", "2026-11-26T010204.2", "2026-11-26T010205.incomplete", ".in-progress-x",
                 "latest", "2026-11-26T010206"):
        (tmp_path / name).mkdir()
    for name in ("2026-11-26T010203", "2026-11-26T010204.2"):
        (tmp_path / name / wb.MANIFEST).write_text("path\tstate\tsize\tsha256\n")
    assert [p.name for p in wb.complete_backups(tmp_path)] == ["2026-11-26T010203", "2026-11-26T010204.2"]
    assert wb.complete_backups(tmp_path / "nowhere") == []
