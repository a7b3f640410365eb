"""scripts/bench.py reads what a real ecflow_server counted (--stats): the server cost of issue 11."""

from __future__ import annotations

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
