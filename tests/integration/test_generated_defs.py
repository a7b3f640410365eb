"""Definitions generated from ecFlow's grammar (defs_grammar), 200 a run, loaded into a real server and
mounted: per node one status file with the server's state, every file readable with st_size equal to what
is read (no EIO anywhere), `.server/suites.def` loads into a fresh server and gives the same nodes, and
`tar` of the mount exits 0 with nothing on stderr.
"""

from __future__ import annotations

import os
from pathlib import Path

import ecflow

from wffs import layout
from testbed.devserver import EcflowServer

from . import defs_grammar
from .mounting import Mount, run

COUNT = 200


def nodes_of(port: int) -> dict:
    """{path: (kind, displayed state)} of every node a fresh client sees (aliases included)."""
    client = ecflow.Client("localhost", str(port))
    client.sync_local()
    found = {}

    def walk(node):
        kind = type(node).__name__.lower()
        state = "suspended" if node.is_suspended() else str(node.get_state())
        found[node.get_abs_node_path()] = (kind, state)
        kids = list(node.nodes) if kind in ("suite", "family") else list(node.aliases) if kind == "task" else []
        for kid in kids:
            walk(kid)

    for suite in client.get_defs().suites:
        walk(suite)
    return found


def directory_of(mnt: Path, path: str) -> Path:
    """The mount's directory holding a node's files (a directory may end with CLASH_MARK)."""
    here = mnt
    for part in layout.node_components(path)[:-1]:
        here = here / part if (here / part).is_dir() else here / (part + layout.CLASH_MARK)
        assert here.is_dir(), (path, here)
    return here


def differences(got: dict, expected: dict, made: list, suites_def: bytes) -> str:
    """What a failed reload lacks or adds, with the generated text and the mount's text of those suites."""
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    changed = sorted(p for p in set(got) & set(expected) if got[p] != expected[p])
    suites = {p.split("/")[1] for p in missing + extra + changed}
    text = suites_def.decode(errors="replace")
    parts = [f"missing {missing[:20]}, extra {extra[:20]}, kind changed {changed[:20]}"]
    for suite in sorted(suites)[:2]:
        generated = next((s.text for s in made if s.name == suite), "?")
        start = text.find(f"suite {suite}\n")
        served = text[start:text.find("endsuite", start) + 8] if start >= 0 else "(not in suites.def)"
        parts.append(f"--- generated {suite}:\n{generated}\n--- .server/suites.def has:\n{served}")
    return "\n".join(parts)


def test_generated_definitions_on_a_real_server(tmp_path_factory):
    made = defs_grammar.generate(COUNT)
    assert len({s.name for s in made}) == COUNT
    covered = set().union(*(s.kinds for s in made))
    assert covered == defs_grammar.KINDS, f"this run's definitions lack {defs_grammar.KINDS - covered}"
    base = tmp_path_factory.mktemp("generated")
    server = EcflowServer(base / "home")
    server.start()
    try:
        head = defs_grammar.definition([])  # the externs and the shared limits suite
        files = [base / "limits.def"]
        files[0].write_text(head)
        externs = "".join(line + "\n" for line in head.splitlines() if line.startswith("extern "))
        for suite in made:
            files.append(base / f"{suite.name}.def")
            files[-1].write_text(externs + suite.text)
        for path in files:
            done = server.cli(f"--load={path}")
            assert done.returncode == 0, done.stderr.decode()[-600:]
        assert server.cli("--halt=yes").returncode == 0  # defstatus applies at begin; no job is submitted
        assert server.cli("--begin").returncode == 0
        truth = nodes_of(server.port)
        assert len(truth) >= COUNT * 2

        with Mount.start(server.port, base / "mnt", refresh=1.0) as mount:
            mnt = mount.path
            for path, (kind, state) in truth.items():
                name = path.rsplit("/", 1)[1]
                here = directory_of(mnt, path)
                codes = [e[len(name) + 1:] for e in os.listdir(here)
                         if e.startswith(name + ".") and e[len(name) + 1:] in layout.CODE_STATES]
                assert codes == [layout.STATE_CODES[state]], (path, kind, state, codes)
                assert (here / f"{name}.att").read_bytes().startswith(f"path {path}\n".encode())

            count = 0
            for dirpath, _dirs, names in os.walk(mnt):
                for name in names:
                    file = Path(dirpath, name)
                    data = file.read_bytes()  # any OSError (EIO) fails the test
                    assert file.stat().st_size == len(data), file
                    count += 1
            assert count > len(truth) * 2

            suites_def = (mnt / ".server" / "suites.def").read_bytes()
            tar = run(["bash", "-o", "pipefail", "-c", f"tar cf - -C {mnt} . | wc -c"], timeout=120)
            assert tar.returncode == 0 and tar.stderr == b"", tar.stderr.decode()
    finally:
        server.stop()

    again = EcflowServer(base / "again")
    again.start()
    try:
        reloaded = base / "suites.def"
        reloaded.write_bytes(suites_def)
        done = again.cli(f"--load={reloaded}")
        assert done.returncode == 0, done.stderr.decode()
        # aliases are not part of a definition as ecflow_client --get prints it either (they are made by --alias)
        reloaded_nodes = {p: k for p, (k, _s) in nodes_of(again.port).items()}
        expected = {p: k for p, (k, _s) in truth.items() if k != "alias"}
        assert reloaded_nodes == expected, differences(reloaded_nodes, expected, made, suites_def)
    finally:
        again.stop()
