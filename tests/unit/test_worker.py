"""wffs.backend.worker.WorkerProcess against a stand-in worker (tests/unit/echo_worker.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import trio

from wffs.backend.base import NotProvided, ServerUnavailable
from wffs.backend.worker import WorkerProcess

MODULE = "tests.unit.echo_worker"


def alive(pid: int) -> bool:
    """Running (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def wait_dead(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        await trio.sleep(0.02)
    return True


def with_worker(test, timeout: float = 5.0, module: str = MODULE):
    """Run `await test(worker)` in trio; always stop the worker, and kill any process the test started."""
    pids = []

    async def main():
        w = WorkerProcess(module, [], timeout, "test-worker")
        try:
            await test(w, pids)
        finally:
            await w.stop()

    try:
        trio.run(main)
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_ok_answers_from_one_process():
    async def test(w, pids):
        assert w.starts == 0 and w.proc is None  # started on first use
        assert await w.call("echo", "hello") == "hello"
        value = {"full": True, "records": [{"att": b"\xff\x00", "children": ("a", "b")}], "removed": []}
        assert await w.call("echo", value) == value
        assert await w.call("echo", None) is None
        pid = await w.call("pid")
        pids.append(pid)
        assert pid == w.proc.pid
        for i in range(20):
            assert await w.call("echo", i) == i
        assert await w.call("pid") == pid
        assert w.starts == 1
    with_worker(test)


def test_error_answers():
    async def test(w, pids):
        with pytest.raises(NotProvided, match="no job for /s/t"):
            await w.call("raise", "missing", "no job for /s/t")
        with pytest.raises(ServerUnavailable, match="connection refused"):
            await w.call("raise", "unavailable", "connection refused")
        with pytest.raises(ServerUnavailable, match="ZeroDivisionError"):
            await w.call("raise", "bug", "ZeroDivisionError: division by zero")
        with pytest.raises(ServerUnavailable, match="unknown op"):
            await w.call("nosuchop")
        assert await w.call("echo", 1) == 1
        assert w.starts == 1  # an error answer is not a reason to restart
    with_worker(test)


def test_a_call_whose_worker_reports_progress_is_known_to_have_been_answered():
    async def sampled(w, op, *args) -> list:
        """w.server_answered every 10 ms from before the call until it returned."""
        seen = []

        async def watch():
            while True:
                seen.append(w.server_answered)
                await trio.sleep(0.01)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            await trio.sleep(0.05)
            await w.call(op, *args)
            nursery.cancel_scope.cancel()
        return seen

    async def test(w, pids):
        seen = await sampled(w, "report", "the server answered", 0.5)
        assert seen[0] is False and seen.count(True) > 10  # from its report until its answer
        assert not w.server_answered  # not after it
        assert True not in await sampled(w, "sleep", 0.3)  # a call that reports nothing
    with_worker(test)


def test_timeout_raises_and_the_next_call_gets_a_fresh_worker():
    async def test(w, pids):
        first = await w.call("pid")
        pids.append(first)
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable, match="no answer"):
            await w.call("sleep", 30, timeout=0.3)
        assert 0.25 < time.monotonic() - t0 < 3
        assert w.proc is None
        assert await wait_dead(first, 2)
        assert await w.call("echo", "again") == "again"
        assert w.starts == 2
        second = await w.call("pid")
        pids.append(second)
        assert second != first
    with_worker(test)


def test_default_timeout_applies():
    async def test(w, pids):
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable):
            await w.call("sleep", 30)
        assert 0.25 < time.monotonic() - t0 < 3
        assert await w.call("echo", 2) == 2
        assert w.starts == 2
    with_worker(test, timeout=0.3)


def test_stuck_worker_is_killed():
    async def test(w, pids):
        pid = await w.call("pid")
        pids.append(pid)
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable):
            await w.call("stuck", 30, timeout=0.3)  # ignores its closed stdin: must be killed
        assert time.monotonic() - t0 < 1.0  # at once: not given the second a worker asked to end gets
        assert await wait_dead(pid, 3)
        assert await w.call("echo", "x") == "x"
        assert w.starts == 2
    with_worker(test)


def test_worker_that_exits_raises_at_once():
    async def test(w, pids):
        pid = await w.call("pid")
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable):
            await w.call("crash")
        assert time.monotonic() - t0 < 3  # well before the 10 s timeout: EOF is noticed
        assert await wait_dead(pid, 2)
        assert await w.call("echo", "back") == "back"
        assert w.starts == 2
    with_worker(test, timeout=10)


def test_worker_that_cannot_start():
    async def test(w, pids):
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable):
            await w.call("echo", 1)
        assert time.monotonic() - t0 < 5
        assert w.proc is None
    with_worker(test, timeout=10, module="tests.unit.no_such_worker_module")


def test_worker_that_closes_its_pipe_but_lingers_is_killed():
    """EOF on the answer pipe makes the call stop the worker; stopping must finish (kill) even though
    the call's own deadline expires while stop() is waiting for the worker to exit."""
    async def test(w, pids):
        pid = await w.call("pid")
        pids.append(pid)
        with pytest.raises(ServerUnavailable):
            await w.call("mute", 30, timeout=0.5)
        assert w.proc is None
        assert await wait_dead(pid, 2.5), "worker still running after the call gave it up"
        assert await w.call("echo", 3) == 3
        assert w.starts == 2
    with_worker(test)


def test_busy_worker_refuses_a_second_caller_without_killing():
    async def test(w, pids):
        pid = await w.call("pid")
        results = {}

        async def slow():
            results["slow"] = await w.call("sleep", 0.6, timeout=5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(slow)
            await trio.sleep(0.1)
            t0 = time.monotonic()
            with pytest.raises(ServerUnavailable, match="busy"):
                await w.call("echo", "me too", timeout=0.2)
            assert time.monotonic() - t0 < 0.5
        assert results == {"slow": 0.6}
        assert await w.call("pid") == pid
        assert w.starts == 1
    with_worker(test)


def test_calls_are_answered_in_turn():
    async def test(w, pids):
        results = []

        async def caller(i):
            results.append((i, await w.call("echo", i)))

        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(caller, i)
        assert sorted(results) == [(i, i) for i in range(10)]
        assert w.starts == 1
    with_worker(test)


def test_stop_then_call_starts_again():
    async def test(w, pids):
        pid = await w.call("pid")
        await w.stop()
        await w.stop()  # harmless twice
        assert w.proc is None
        assert await wait_dead(pid, 2)
        assert await w.call("echo", "up") == "up"
        assert w.starts == 2
    with_worker(test)


def test_a_call_that_reported_the_server_answered_may_take_its_patience():
    async def test(w, pids):
        pids.append(await w.call("pid", timeout=5))  # started (Python's start is not the call's to wait for)
        t0 = time.monotonic()
        assert await w.call("report", "the server answered", 1.0, patience=5) == 1.0
        assert time.monotonic() - t0 > 0.9
        assert w.starts == 1
    with_worker(test, timeout=0.3)


def test_a_call_that_reported_nothing_gets_only_the_timeout_whatever_its_patience():
    """A hung server answers nothing: a batch of reads or a first sync must not hold the worker (and
    every caller waiting for it) for the patience allowed to a slow server."""
    async def test(w, pids):
        t0 = time.monotonic()
        with pytest.raises(ServerUnavailable, match="no answer in 0.3 s"):
            await w.call("sleep", 30, patience=30)
        assert time.monotonic() - t0 < 1.5
        with pytest.raises(ServerUnavailable, match="no answer in 2 s"):
            await w.call("report", "the server answered", 30, patience=2)  # answered, then hung
    with_worker(test, timeout=0.3)


def test_calls_waiting_behind_one_that_got_no_answer_fail_at_once():
    """Each would otherwise start a fresh worker and wait --timeout of its own on the same hung server."""
    async def test(w, pids):
        await w.call("pid")
        failed = []

        async def waiting(i):
            t0 = time.monotonic()
            try:
                await w.call("echo", i)  # (given 5 s to get its turn: it is not refused as busy)
            except ServerUnavailable as e:
                failed.append((i, time.monotonic() - t0, str(e)))

        async def hung():
            with pytest.raises(ServerUnavailable):
                await w.call("sleep", 30, timeout=0.5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(hung)
            await trio.sleep(0.1)
            for i in range(3):
                nursery.start_soon(waiting, i)
        assert [i for i, _, _ in sorted(failed)] == [0, 1, 2]  # each would have got a fresh worker
        assert all(seconds < 2 and "no answer in 0.5 s" in text for _, seconds, text in failed), failed
        assert await w.call("echo", "later") == "later"  # a call that came after it: a fresh worker
        assert w.starts == 2
    with_worker(test, timeout=5)
