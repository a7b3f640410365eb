"""wffs.events: the append-only event logs (docs/layout.rst, "Event logs") and which changes go in them."""

from __future__ import annotations

import calendar
import re
import time
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from wffs import layout
from wffs.events import EventLog, state_changes

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CODES = sorted(layout.CODE_STATES)


def lines(log: EventLog) -> list[list[str]]:
    return [line.split("\t") for line in log.read(0, len(log)).decode().split("\n")[:-1]]


# ---- lines ------------------------------------------------------------------------------------------
def test_line_format_without_server():
    log = EventLog()
    log.add("/s/f/t", "que", "act", when=0)
    assert log.read(0, len(log)) == b"1970-01-01T00:00:00Z\t/s/f/t\tque\tact\n"
    assert log.changed_at == 0


def test_line_format_with_server():
    log = EventLog()
    when = calendar.timegm((2024, 2, 29, 23, 59, 58))
    log.add("/s/t", "act", "abo", server="ops", when=when + 0.9)
    assert log.read(0, len(log)) == b"2024-02-29T23:59:58Z\tops\t/s/t\tact\tabo\n"
    assert log.changed_at == when + 0.9


def test_time_is_now_in_utc_by_default():
    log = EventLog()
    before = time.time()
    log.add("/s", "que", "com")
    after = time.time()
    [[stamp, path, old, new]] = lines(log)
    assert ISO_UTC.fullmatch(stamp)
    assert int(before) <= calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) <= after
    assert (path, old, new) == ("/s", "que", "com")
    assert before <= log.changed_at <= after


def test_empty_log():
    log = EventLog()
    assert len(log) == 0
    assert log.read(0, 4096) == b""
    assert log.read(10, 10) == b""
    assert log.changed_at == 0.0


def test_non_utf8_node_names_are_kept_as_bytes():
    log = EventLog()
    log.add("/s/t\udcff", "que", "act", when=0)  # os.fsdecode of b"/s/t\xff"
    assert log.read(0, len(log)).split(b"\t")[1] == b"/s/t\xff"


# ---- reading an append-only log ----------------------------------------------------------------------
def test_read_at_offsets():
    log = EventLog()
    log.add("/a", "que", "act", when=0)
    first = log.read(0, len(log))
    assert log.read(0, 5) == first[:5]
    assert log.read(5, 1000) == first[5:]
    assert log.read(len(first), 100) == b""  # at the end: nothing, never blocks
    log.add("/b", "act", "com", server="x", when=60)
    assert len(log) > len(first)
    assert log.read(0, len(first)) == first  # what was read stays the same
    assert log.read(len(first), 1000) == b"1970-01-01T00:01:00Z\tx\t/b\tact\tcom\n"  # tail -f sees the new line
    assert log.changed_at == 60


@given(events=st.lists(st.tuples(st.text(alphabet="/abc._0", min_size=1, max_size=12),
                                 st.sampled_from(CODES), st.sampled_from(CODES),
                                 st.none() | st.sampled_from(["local", "ops"]),
                                 st.integers(min_value=0, max_value=4_000_000_000)), max_size=20),
       offset=st.integers(min_value=0, max_value=2000), size=st.integers(min_value=0, max_value=2000))
def test_log_is_the_concatenation_of_its_lines(events, offset, size):
    log = EventLog()
    expected = b""
    for path, old, new, server, when in events:
        before = log.read(0, len(log))
        log.add(path, old, new, server=server, when=when)
        assert log.read(0, len(before)) == before
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        expected += "\t".join([stamp] + ([server] if server else []) + [path, old, new]).encode() + b"\n"
    assert len(log) == len(expected)
    assert log.read(offset, size) == expected[offset:offset + size]
    for fields in lines(log):
        assert ISO_UTC.fullmatch(fields[0]) and len(fields) in (4, 5)


# ---- which changes are state changes -----------------------------------------------------------------
def node(path, state, suspended=False):
    return SimpleNamespace(path=path, state=state, suspended=suspended)


def test_state_changes():
    changed = [
        (None, node("/s/new", "queued")),  # added: not a state change
        (node("/s/gone", "active"), None),  # removed: neither
        (node("/s/a", "queued"), node("/s/a", "active")),
        (node("/s/b", "complete"), node("/s/b", "complete")),  # same state (e.g. new attributes)
        (node("/s/c", "aborted"), node("/s/c", "aborted", suspended=True)),  # suspended counts as sus
        (node("/s/d", "active", suspended=True), node("/s/d", "complete", suspended=True)),  # sus both times
        (node("/s/e", "queued", suspended=True), node("/s/e", "queued")),  # resumed
        (node("/s/f", "halted"), node("/s/f", "queued")),  # unrecognised: unk
    ]
    assert list(state_changes(changed)) == [
        ("/s/a", "que", "act"),
        ("/s/c", "abo", "sus"),
        ("/s/e", "sus", "que"),
        ("/s/f", "unk", "que"),
    ]
    assert list(state_changes([])) == []


@given(old=st.tuples(st.sampled_from(sorted(layout.STATE_CODES)), st.booleans()),
       new=st.tuples(st.sampled_from(sorted(layout.STATE_CODES)), st.booleans()))
def test_state_change_iff_the_status_file_changes(old, new):
    got = list(state_changes([(node("/n", *old), node("/n", *new))]))
    before, after = layout.status_code(*old), layout.status_code(*new)
    assert got == ([] if before == after else [("/n", before, after)])
