"""wffs.mirrors against small fakes: polls and pushes, backoff, control-file writes, status, loops."""

from __future__ import annotations

import re
import time

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from tests.fakes import FakeMirrorLocal, FakeRemote
from wffs.backend.base import NotProvided, ServerUnavailable
from wffs.mirror_line import MirrorLineError, parse
from wffs.mirrors import MAX_BACKOFF, Mirrors, MirrorStatus

TASK = "/s/t"
LINE = "mirror --name t --remote_path /r/t --remote_host rhost --remote_port 4000 --polling 10"
POLLING = 10.0
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


class World:
    """A local server with one task, remotes by host name, and a Mirrors driving them."""

    def __init__(self, *, local_state="queued", remote_state="queued", local_values=None, remote_values=None,
                 mirror=None, variables=None):
        self.local = FakeMirrorLocal()
        self.local.add(TASK, local_state, mirror=mirror, variables=variables, **(local_values or {}))
        self.remote = FakeRemote("rhost:4000")
        self.remote.add("/r/t", remote_state, **(remote_values or {}))
        self.remotes = {"rhost": self.remote}
        self.resolved = []  # every Resolved a backend was asked for
        self.refreshes = 0
        self.mirrors = Mirrors(self.local, self.local.snapshot, self.remote_for, self.refresh_local)

    def remote_for(self, resolved):
        self.resolved.append(resolved)
        return self.remotes[resolved.remote_host]

    async def refresh_local(self):
        self.refreshes += 1
        await trio.lowlevel.checkpoint()

    async def poll(self, status, delay=None):
        return await self.mirrors._poll_once(status, delay)


def run(fn):
    trio.run(fn)


def run_mock(fn):
    """Run with a virtual clock that jumps ahead whenever every task sleeps: polling seconds cost nothing."""
    trio.run(fn, clock=MockClock(autojump_threshold=0))


def remote_calls(remote, path="/r/t"):
    return sum(1 for c in remote.calls if c == ("node_state", path))


# ---- one poll -------------------------------------------------------------------------------------------
def test_poll_pushes_the_state_when_it_differs():
    async def main():
        w = World(local_state="queued", remote_state="active")
        status = MirrorStatus(TASK, LINE)
        before = time.time()
        assert await w.poll(status) == POLLING
        assert w.local.writes() == [("set_state", TASK, "active")]
        assert w.local.tasks[TASK]["state"] == "active"
        assert (status.status, status.last_error, status.remote_state) == ("ok", "", "active")
        assert status.last_polled >= before and status.last_changed >= before
        assert w.refreshes == 1  # compared with a fresh local view
        r = w.resolved[0]
        assert (r.remote_host, r.remote_port, r.remote_path, r.polling) == ("rhost", 4000, "/r/t", 10)
    run(main)


def test_poll_pushes_nothing_when_equal_and_is_idempotent():
    async def main():
        values = {"labels": {"l": "x"}, "meters": {"m": 3}, "events": {"e": True}}
        w = World(local_state="complete", remote_state="complete", local_values=values, remote_values=values)
        status = MirrorStatus(TASK, LINE)
        assert await w.poll(status) == POLLING
        assert w.local.writes() == []
        assert status.status == "ok" and status.last_changed == 0.0 and status.last_polled > 0

        w.remote.nodes["/r/t"]["state"] = "aborted"
        w.remote.nodes["/r/t"]["labels"]["l"] = "y"
        await w.poll(status)
        assert w.local.writes() == [("set_state", TASK, "aborted"), ("set_values", TASK, {"l": "y"}, {}, {})]
        changed = status.last_changed
        assert changed > 0
        for _ in range(3):  # the same remote again: nothing more is written
            assert await w.poll(status) == POLLING
        assert len(w.local.writes()) == 2 and status.last_changed == changed
        assert [c for c in w.local.calls if c[0] == "variables"] == [("variables", TASK)]  # resolved once
    run(main)


def test_poll_pushes_only_values_both_sides_have_that_differ():
    async def main():
        w = World(local_state="active", remote_state="active",
                  local_values={"labels": {"same": "s", "diff": "old", "local_only": "x"},
                                "meters": {"same": 1, "diff": 2, "local_only": 3},
                                "events": {"same": True, "diff": False, "local_only": True}},
                  remote_values={"labels": {"same": "s", "diff": "new", "remote_only": "y"},
                                 "meters": {"same": 1, "diff": 7, "remote_only": 9},
                                 "events": {"same": True, "diff": True, "remote_only": False}})
        status = MirrorStatus(TASK, LINE)
        await w.poll(status)
        assert w.local.writes() == [("set_values", TASK, {"diff": "new"}, {"diff": 7}, {"diff": True})]
        t = w.local.tasks[TASK]
        assert t["labels"] == {"same": "s", "diff": "new", "local_only": "x"}
        assert "remote_only" not in t["meters"] and t["events"]["local_only"] is True
        await w.poll(status)
        assert len(w.local.writes()) == 1
    run(main)


def test_poll_pushes_one_kind_alone():
    async def main():
        w = World(local_values={"meters": {"m": 0}, "events": {"e": False}},
                  remote_values={"meters": {"m": 0}, "events": {"e": True}})
        await w.poll(MirrorStatus(TASK, LINE))
        assert w.local.writes() == [("set_values", TASK, {}, {}, {"e": True})]
    run(main)


VALUES = st.fixed_dictionaries({
    "labels": st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["", "x", "y"])),
    "meters": st.dictionaries(st.sampled_from("abcd"), st.integers(0, 3)),
    "events": st.dictionaries(st.sampled_from("abcd"), st.booleans()),
})
STATES = st.sampled_from(["unknown", "queued", "submitted", "active", "complete", "aborted"])


@settings(max_examples=150, deadline=None)
@given(STATES, VALUES, STATES, VALUES)
def test_poll_makes_the_common_part_equal_then_writes_nothing(local_state, mine, remote_state, theirs):
    async def main():
        w = World(local_state=local_state, remote_state=remote_state, local_values=mine, remote_values=theirs)
        status = MirrorStatus(TASK, LINE)
        await w.poll(status)
        writes = w.local.writes()
        assert (("set_state", TASK, remote_state) in writes) == (local_state != remote_state)
        for call in writes:
            if call[0] == "set_values":
                assert any(call[2:])  # never called with nothing to change
                for kind, changes in zip(("labels", "meters", "events"), call[2:]):
                    assert all(k in mine[kind] and mine[kind][k] != v == theirs[kind][k] for k, v in changes.items())
        t = w.local.tasks[TASK]
        assert t["state"] == remote_state
        for kind in ("labels", "meters", "events"):
            assert t[kind] == {k: theirs[kind].get(k, v) for k, v in mine[kind].items()}
        assert (status.last_changed > 0) == bool(writes)
        await w.poll(status)
        assert w.local.writes() == writes
    run(main)


def test_unreachable_remote_backs_off_doubling_up_to_a_cap():
    async def main():
        w = World(remote_state="active")
        w.remote.down = True
        status = MirrorStatus(TASK, LINE)
        delays, delay = [], None
        for _ in range(8):
            delay = await w.poll(status, delay)
            delays.append(delay)
            assert status.status == "error" and "connection refused" in status.last_error
        assert MAX_BACKOFF == 60
        assert delays == [20, 40, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
        assert w.local.writes() == [] and status.last_polled == 0.0
        w.remote.down = False  # back: the normal polling again, the error forgotten
        assert await w.poll(status, delay) == POLLING
        assert (status.status, status.last_error, status.remote_state) == ("ok", "", "active")
        assert w.local.writes() == [("set_state", TASK, "active")]
    run(main)


def test_backoff_never_polls_sooner_than_polling():
    async def main():
        w = World()
        w.remote.down = True
        line = LINE.replace("--polling 10", "--polling 1000")  # longer than MAX_BACKOFF already
        status, delay = MirrorStatus(TASK, line), None
        for _ in range(4):
            delay = await w.poll(status, delay)
            assert delay == 1000
        line = LINE.replace("--polling 10", "--polling 1")
        status, delay, delays = MirrorStatus(TASK, line), None, []
        for _ in range(12):
            delay = await w.poll(status, delay)
            delays.append(delay)
        assert delays[:4] == [2, 4, 8, 16] and max(delays) == MAX_BACKOFF == delays[-1]
        assert all(b == min(2 * a, MAX_BACKOFF) for a, b in zip(delays, delays[1:]))
    run(main)


def test_missing_remote_node_is_an_error_status():
    async def main():
        w = World()
        del w.remote.nodes["/r/t"]
        status = MirrorStatus(TASK, LINE)
        assert await w.poll(status) == 2 * POLLING
        assert status.status == "error" and "/r/t" in status.last_error
        assert w.local.writes() == []
    run(main)


def test_missing_local_task_is_an_error_status():
    async def main():
        w = World(remote_state="active")
        status = MirrorStatus(TASK, LINE)
        await w.poll(status)  # resolved while the task existed
        w.remote.nodes["/r/t"]["state"] = "complete"
        del w.local.tasks[TASK]
        await w.poll(status)
        assert status.status == "error" and TASK in status.last_error
        assert w.local.writes() == [("set_state", TASK, "active")]
    run(main)


def test_local_server_down_is_an_error_status():
    async def main():
        w = World(remote_state="active")
        status = MirrorStatus(TASK, LINE)
        await w.poll(status)
        w.remote.nodes["/r/t"]["state"] = "complete"
        w.local.down = True
        assert await w.poll(status) == 2 * POLLING
        assert status.status == "error" and "local:3141" in status.last_error
        w.local.down = False
        await w.poll(status)
        assert status.status == "ok" and w.local.tasks[TASK]["state"] == "complete"
    run(main)


def test_unresolvable_line_is_an_error_status_until_the_variable_exists():
    async def main():
        w = World(remote_state="active")
        status = MirrorStatus(TASK, LINE.replace("rhost", "%RHOST%"))
        delay = await w.poll(status)
        assert delay > 0 and status.status == "error" and "%RHOST%" in status.last_error
        assert w.remote.calls == [] and w.local.writes() == [] and status.resolved is None
        w.local.tasks[TASK]["variables"]["RHOST"] = "rhost"
        assert await w.poll(status, delay) == POLLING
        assert status.status == "ok" and status.resolved.remote == "rhost:4000"
        assert w.local.writes() == [("set_state", TASK, "active")]
    run(main)


def test_garbage_stored_line_is_an_error_status():
    async def main():
        w = World()
        status = MirrorStatus(TASK, "mirror --name t --remote_path")
        assert await w.poll(status) > 0
        assert status.status == "error" and "--remote_path" in status.last_error
    run(main)


# ---- control-file writes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["mirror --name t", "--name t --remote_path /r/t --remote_port 0",
                                  "--name t --remote_path /r/t --bogus", "mirror --name 't --remote_path /r/t",
                                  LINE + "\n" + LINE])
def test_write_rejects_a_bad_line_and_calls_nothing(text):
    async def main():
        w = World()
        before = time.time()
        with pytest.raises(MirrorLineError) as e:
            await w.mirrors.write(TASK, text)
        when, path, reason = w.mirrors.rejected
        assert when >= before and path == TASK and reason == str(e.value)
        assert w.local.calls == [] and w.mirrors.status == {}
    run(main)


def test_write_rejects_a_line_that_does_not_resolve():
    async def main():
        w = World()
        with pytest.raises(MirrorLineError) as e:
            await w.mirrors.write(TASK, "--name t --remote_path /r/t --remote_port %NOPE%")
        assert "%NOPE%" in str(e.value) and w.mirrors.rejected[2] == str(e.value)
        assert w.local.calls == [("variables", TASK)]  # read to resolve, nothing written
        w.local.tasks[TASK]["variables"]["NOPE"] = "abc"  # defined, but not a port
        with pytest.raises(MirrorLineError):
            await w.mirrors.write(TASK, "--name t --remote_path /r/t --remote_port %NOPE%")
        assert w.local.writes() == [] and w.local.tasks[TASK]["mirror"] is None
    run(main)


def test_write_stores_the_normalised_line():
    async def main():
        w = World()
        await w.mirrors.write(TASK, "--polling=10 --remote_port 4000 --remote_host=rhost --remote_path /r/t "
                                    "--name t\n")
        assert w.local.writes() == [("set_mirror", TASK, LINE)]
        assert w.local.tasks[TASK]["mirror"] == LINE
        assert w.mirrors.rejected is None
        assert w.mirrors.status == {}  # nothing is polled until run() hosts the loops
    run(main)


@pytest.mark.parametrize("text", ["off", "", "  OFF \n", "\n"])
def test_write_off_clears(text):
    async def main():
        w = World(mirror=LINE)
        await w.mirrors.write(TASK, text)
        assert w.local.writes() == [("clear_mirror", TASK)]
        assert w.local.tasks[TASK]["mirror"] is None and w.mirrors.rejected is None
    run(main)


def test_clear_calls_clear_mirror():
    async def main():
        w = World(mirror=LINE)
        await w.mirrors.clear(TASK)
        assert w.local.calls == [("clear_mirror", TASK)]
    run(main)


def test_write_with_the_local_server_down_is_not_a_rejection():
    async def main():
        w = World()
        w.local.down = True
        with pytest.raises(ServerUnavailable):
            await w.mirrors.write(TASK, LINE)
        assert w.mirrors.rejected is None and w.local.writes() == []
    run(main)


def test_write_a_missing_task_is_not_provided():
    async def main():
        w = World()
        with pytest.raises(NotProvided):
            await w.mirrors.write("/s/nothing", LINE)
    run(main)


# ---- status rendering -------------------------------------------------------------------------------------
def test_render_after_a_poll():
    async def main():
        w = World(remote_state="active")
        line = parse(LINE + " --ssl --auth /home/me/auth.json").line()
        status = MirrorStatus(TASK, line)
        w.mirrors.status[TASK] = status
        await w.poll(status)
        lines = w.mirrors.render(TASK).decode().splitlines()
        assert lines[0] == line
        assert lines[1:4] == ["status ok", "remote rhost:4000 /r/t (polling every 10 s, ssl, auth /home/me/auth.json)",
                              "remote_state active"]
        assert re.fullmatch(f"last_polled {ISO}", lines[4]) and re.fullmatch(f"last_changed {ISO}", lines[5])
        assert lines[6:] == ["last_error -"]
        assert w.mirrors.render(TASK).endswith(b"\n")

        w.remote.down = True
        await w.poll(status)
        text = w.mirrors.render(TASK).decode()
        assert "status error\n" in text and "last_error rhost:4000: connection refused\n" in text
        assert "remote_state active\n" in text  # the last known one
    run(main)


def test_render_a_configured_mirror_not_yet_followed():
    w = World(mirror=LINE)
    assert w.mirrors.render(TASK).decode().splitlines() == [
        LINE, "status pending", "remote ? ?", "remote_state unknown", "last_polled never", "last_changed never",
        "last_error -"]


def test_render_all():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        w.local.add("/s/a", "complete", mirror=LINE.replace("/r/t", "/r/gone"))
        w.local.add("/s/plain")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(1)
            with pytest.raises(MirrorLineError):
                await w.mirrors.write("/s/plain", "--name x --remote_path relative")
            text = w.mirrors.render_all().decode()
            nursery.cancel_scope.cancel()
        assert text.endswith("\n")
        lines = text.splitlines()
        assert lines[0] == "# PATH\tSTATUS\tREMOTE\tREMOTE_PATH\tREMOTE_STATE\tLAST_POLLED\tLAST_CHANGED\tLAST_ERROR"
        rows = [ln.split("\t") for ln in lines[1:3]]
        assert all(len(r) == 8 for r in rows)
        assert [r[:5] for r in rows] == [["/s/a", "error", "rhost:4000", "/r/gone", "unknown"],
                                         ["/s/t", "ok", "rhost:4000", "/r/t", "active"]]
        assert rows[0][5:7] == ["never", "never"] and "/r/gone" in rows[0][7]
        assert re.fullmatch(ISO, rows[1][5]) and re.fullmatch(ISO, rows[1][6]) and rows[1][7] == "-"
        assert re.fullmatch(rf"# last rejected write: {ISO} /s/plain\.mirror: --remote_path 'relative': .*",
                            lines[3])
        assert len(lines) == 4
    run_mock(main)


def test_render_all_with_nothing_mirrored():
    w = World()
    assert w.mirrors.render_all() == b"# PATH\tSTATUS\tREMOTE\tREMOTE_PATH\tREMOTE_STATE\tLAST_POLLED\t" \
                                     b"LAST_CHANGED\tLAST_ERROR\n"


# ---- the loops, as the snapshot says ------------------------------------------------------------------------
def test_follow_snapshot_before_run_does_nothing():
    w = World(mirror=LINE)
    w.mirrors.follow_snapshot()
    assert w.mirrors.status == {} and w.remote.calls == []


def test_run_follows_every_configured_mirror_every_polling_seconds():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        w.local.add("/s/u", mirror=LINE.replace("/r/t", "/r/u").replace("--polling 10", "--polling 4"))
        w.remote.add("/r/u", "complete")
        w.local.add("/s/plain")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(25)  # polls at 0, 10, 20 and at 0, 4, ..., 24
            assert sorted(w.mirrors.status) == ["/s/t", "/s/u"]
            assert remote_calls(w.remote, "/r/t") == 3 and remote_calls(w.remote, "/r/u") == 7
            assert w.local.tasks["/s/t"]["state"] == "active" and w.local.tasks["/s/u"]["state"] == "complete"
            assert w.local.tasks["/s/plain"]["state"] == "queued"
            assert sorted(w.local.writes()) == [("set_state", "/s/t", "active"), ("set_state", "/s/u", "complete")]
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_follow_snapshot_stops_a_loop_whose_mirror_is_gone():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(1)
            status = w.mirrors.status[TASK]
            assert status.status == "ok" and remote_calls(w.remote) == 1
            w.mirrors.follow_snapshot()  # nothing changed: the same loop goes on, no extra poll
            await trio.sleep(5)
            assert w.mirrors.status[TASK] is status and remote_calls(w.remote) == 1
            w.local.tasks[TASK]["mirror"] = None  # e.g. cleared by another mount
            w.mirrors.follow_snapshot()
            assert TASK not in w.mirrors.status
            await trio.sleep(100)
            assert remote_calls(w.remote) == 1
            assert b"status ok" not in w.mirrors.render(TASK)
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_follow_snapshot_restarts_a_loop_whose_line_changed():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        other = FakeRemote("other:4000")
        other.add("/x/y", "aborted")
        w.remotes["other"] = other
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(1)
            assert w.local.tasks[TASK]["state"] == "active"
            new = parse(LINE.replace("rhost", "other").replace("/r/t", "/x/y").replace("10", "3")).line()
            w.local.tasks[TASK]["mirror"] = new
            w.mirrors.follow_snapshot()
            await trio.sleep(0.5)
            assert w.mirrors.status[TASK].line == new and w.mirrors.status[TASK].remote == "other:4000"
            assert w.local.tasks[TASK]["state"] == "aborted"
            await trio.sleep(30)
            assert remote_calls(w.remote) == 1 and remote_calls(other, "/x/y") == 11  # 1, 4, ..., 31
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_write_and_clear_while_running():
    async def main():
        w = World(remote_state="active")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(1)
            assert w.mirrors.status == {}
            await w.mirrors.write(TASK, "--name t --remote_path /r/t --remote_host rhost --remote_port 4000 "
                                        "--polling=10")
            await trio.sleep(0.5)
            assert w.mirrors.status[TASK].line == LINE and w.mirrors.status[TASK].status == "ok"
            assert w.local.tasks[TASK]["state"] == "active"
            w.mirrors.follow_snapshot()  # the server now says the same: the loop is kept
            await trio.sleep(5)
            assert remote_calls(w.remote) == 1
            await w.mirrors.write(TASK, "off")
            assert TASK not in w.mirrors.status and w.local.tasks[TASK]["mirror"] is None
            await trio.sleep(100)
            assert remote_calls(w.remote) == 1
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_loop_backs_off_while_the_remote_is_down_then_resumes():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        w.remote.down = True
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(100)  # tries at 0, 20, 60
            assert remote_calls(w.remote) == 3 and w.mirrors.status[TASK].status == "error"
            w.remote.down = False
            await trio.sleep(25)  # the next try at 120 (60 + the 60 s cap), then every 10 s
            assert remote_calls(w.remote) == 4 and w.mirrors.status[TASK].status == "ok"
            await trio.sleep(20)  # 130, 140
            assert remote_calls(w.remote) == 6
            assert w.local.writes() == [("set_state", TASK, "active")]
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_a_bad_stored_line_does_not_end_run():
    async def main():
        w = World(remote_state="active", mirror="mirror --name t --remote_path")
        w.local.add("/s/ok", mirror=LINE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(1)
            assert w.mirrors.status[TASK].status == "error"
            assert w.mirrors.status["/s/ok"].status == "ok"
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_two_mounts_of_one_server_do_not_fight():
    async def main():
        w = World(remote_state="active", mirror=LINE,
                  local_values={"labels": {"l": "a"}}, remote_values={"labels": {"l": "b"}})
        second = Mirrors(w.local, w.local.snapshot, w.remote_for, w.refresh_local)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            await trio.sleep(3)
            nursery.start_soon(second.run)  # a second mount, a little later
            await trio.sleep(49)  # t=52: polls at 0, 10, ..., 50 and at 3, 13, ..., 43
            assert remote_calls(w.remote) == 6 + 5
            assert w.local.writes() == [("set_state", TASK, "active"), ("set_values", TASK, {"l": "b"}, {}, {})]
            w.remote.nodes["/r/t"]["state"] = "complete"
            await trio.sleep(10)
            assert w.local.writes()[2:] == [("set_state", TASK, "complete")]  # whichever polls first
            assert second.status[TASK].status == w.mirrors.status[TASK].status == "ok"
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_two_mounts_polling_in_lockstep_write_the_same_once_each():
    async def main():
        w = World(remote_state="active", mirror=LINE)
        second = Mirrors(w.local, w.local.snapshot, w.remote_for, w.refresh_local)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(w.mirrors.run)
            nursery.start_soon(second.run)
            await trio.sleep(55)
            # both compared before either wrote: the same value twice, harmless, and never again
            assert w.local.writes() == [("set_state", TASK, "active")] * 2
            nursery.cancel_scope.cancel()
    run_mock(main)


def test_run_with_real_sleeps_is_cancelled_promptly():
    async def main():
        w = World(remote_state="active", mirror=LINE.replace("--polling 10", "--polling 1"))
        with trio.move_on_after(0.2):
            await w.mirrors.run()
        assert w.mirrors.status[TASK].status == "ok" and remote_calls(w.remote) == 1
    started = time.monotonic()
    run(main)
    assert time.monotonic() - started < 1
