"""wffs.backend.ecflow.backend.EcflowBackend.read_many: a server whose files are not here is read by several
workers at once; node texts and local files stay with the main worker.  (Stand-in workers: what is
tested is the split and the merge, not ecFlow.)"""

from __future__ import annotations

import trio

from wffs.backend.base import ServerUnavailable
from wffs.backend.ecflow.backend import EcflowBackend


class StandIn:
    def __init__(self, fail: bool = False):
        self.calls, self.fail = [], fail

    async def call(self, op, items, micros=None, patience=None):
        if op == "manual_micros":  # the main worker: which tasks' manuals may come from their script
            self.micros_asked = list(items)
            return {path: "%" for path in items if not path.endswith("5")}
        self.calls.append((op, list(items)))
        self.micros = micros
        if self.fail:
            raise ServerUnavailable("no answer")
        return {item: f"{item[0]} {item[1]}".encode() for item in items}

    async def stop(self):
        pass


def backend(local: bool, failing=()):
    b = EcflowBackend("localhost", 3141)
    b.files_local = local
    b.worker = StandIn()
    b.readers = [StandIn(fail=i in failing) for i in range(b.READERS)]
    return b


ITEMS = [(f"/s/f/t{i}", kind) for i in range(6) for kind in ("ecf", "man")] + [("/s/f", "why"), ("/s/f", "def")]


def test_remote_files_are_shared_among_the_readers():
    b = backend(local=False)
    found = trio.run(b.read_many, ITEMS)
    assert found == {item: f"{item[0]} {item[1]}".encode() for item in ITEMS}
    assert b.worker.calls == [("read_many", [("/s/f", "why"), ("/s/f", "def")])]
    asked = [item for reader in b.readers for op, chunk in reader.calls for item in chunk]
    assert sorted(asked) == sorted(ITEMS[:-2]) and all(op == "fetch_many" for r in b.readers for op, _ in r.calls)
    assert all(len(r.calls) == 1 for r in b.readers)
    for reader in b.readers:  # a task's script and manual go to one reader, with the micros of its tasks
        paths = {path for path, _ in reader.calls[0][1]}
        assert reader.micros == {path: "%" for path in paths if not path.endswith("5")}
        assert all((p, "ecf") in reader.calls[0][1] and (p, "man") in reader.calls[0][1] for p in paths)
    assert b.worker.micros_asked == sorted({path for path, _ in ITEMS[:-2]})


def test_a_reader_that_fails_leaves_its_files_out():
    b = backend(local=False, failing={1})
    found = trio.run(b.read_many, ITEMS)
    assert set(found) == set(ITEMS) - set(b.readers[1].calls[0][1])


def test_local_files_and_single_files_stay_with_the_worker():
    b = backend(local=True)
    assert trio.run(b.read_many, ITEMS).keys() == set(ITEMS)
    assert b.worker.calls == [("read_many", ITEMS)] and not any(r.calls for r in b.readers)
    b = backend(local=False)
    trio.run(b.read_many, ITEMS[:1] + ITEMS[-2:])
    assert len(b.worker.calls) == 1 and not any(r.calls for r in b.readers)
