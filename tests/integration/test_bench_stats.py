"""scripts/bench.py reads what a real ecflow_server counted (--stats): the server cost of issue 11."""

from __future__ import annotations

import subprocess

import bench  # scripts/, put on sys.path by conftest


def test_requests_counted_by_a_real_server(scratch_server):
    before = bench.stats_snapshot(scratch_server)
    for _ in range(3):
        assert scratch_server.cli("--ping").returncode == 0
    client = scratch_server.client()
    client.sync_local()  # the whole definition: what a mount asks for once
    client.news_local()
    client.news_local()
    delta = bench.stats_delta(before, bench.stats_snapshot(scratch_server))
    assert delta["requests"] == {"Ping": 3, "Sync full": 1, "News": 2}  # its own --stats left out
    assert delta["server_bytes_written"] > 0


def test_bytes_on_the_wire_through_the_counting_forwarder(scratch_server):
    """(The ecFlow clients run as processes here: the Python binding holds the GIL while it waits for an
    answer, which would stop the forwarder's thread in this process.)"""
    import ecflow
    from bench_wire import CountingForwarder

    defs = ecflow.Defs()
    for i in range(20):
        defs.add_suite(f"s{i}").add_family("f").add_task("t")
    scratch_server.client().load(defs)
    wire = CountingForwarder(scratch_server.port).start()
    try:
        before = bench.stats_snapshot(scratch_server, wire)
        for args in (["--ping"], ["--get"]):
            done = subprocess.run(["ecflow_client", "--host", "localhost", "--port", str(wire.port), *args],
                                  capture_output=True, timeout=30)
            assert done.returncode == 0, done.stderr
        after = bench.stats_snapshot(scratch_server, wire)
    finally:
        wire.close()
    delta = bench.stats_delta(before, after)
    assert delta["requests"] == {"Ping": 1, "Get full definition": 1}  # (the --stats probes: not counted)
    assert delta["wire"]["connections"] == 2  # the ecFlow client connects once per request
    assert 0 < delta["wire"]["to_server"] < 2000  # two small requests
    assert delta["wire"]["from_server"] > len(done.stdout)  # the definition came back through it
