"""wffs.backend.protocol: length-prefixed pickle frames between the mount and its worker."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wffs.backend import protocol

# What crosses the pipe: requests (op, args), answers ('ok', value) / ('err', kind, text), deltas.
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
DELTA = {"full": False, "removed": ["/s/gone"], "server": {"state": "RUNNING", "suites": ["s"]},
         "records": [{"path": "/s/t", "kind": "task", "state": "active", "suspended": False, "since": 1.5,
                      "att": b"\xff\x00att", "children": ("a",), "files": {"out": (None, 0.0)}}]}


def pop_all(buf: protocol.FrameBuffer) -> list:
    out = []
    while True:
        try:
            out.append(buf.pop())
        except LookupError:
            return out


def test_frame_layout():
    frame = protocol.encode(("ok", b"x"))
    (length,) = struct.unpack("!I", frame[:4])
    assert length == len(frame) - 4
    assert protocol.HEADER.size == 4


@pytest.mark.parametrize("message", [None, 0, "", b"", ("sync", ()), ("read", ("/s/t", "out")),
                                     ("ok", DELTA), ("err", "missing", "no such file"), b"\0" * 100_000])
def test_read_message_round_trip(message):
    assert protocol.read_message(io.BytesIO(protocol.encode(message))) == message


def test_read_message_sequence_then_eof():
    stream = io.BytesIO(b"".join(protocol.encode(m) for m in [1, "two", (3,)]))
    assert [protocol.read_message(stream) for _ in range(4)] == [1, "two", (3,), None]


@pytest.mark.parametrize("cut", [0, 1, 3, 4, 5])
def test_read_message_truncated_is_none(cut):
    frame = protocol.encode(("ok", "hello"))
    assert protocol.read_message(io.BytesIO(frame[:cut] if cut < 5 else frame[:-1])) is None


def test_frame_buffer_needs_whole_frames():
    buf = protocol.FrameBuffer()
    with pytest.raises(LookupError):
        buf.pop()
    frame = protocol.encode(("ok", DELTA))
    buf.feed(frame[:2])  # part of the header
    with pytest.raises(LookupError):
        buf.pop()
    buf.feed(frame[2:10])  # header and part of the body
    with pytest.raises(LookupError):
        buf.pop()
    buf.feed(frame[10:])
    assert buf.pop() == ("ok", DELTA)
    with pytest.raises(LookupError):
        buf.pop()


def test_frame_buffer_several_frames_in_one_chunk_and_a_tail():
    a, b, c = (protocol.encode(m) for m in ("a", ["b"], {"c": 3}))
    buf = protocol.FrameBuffer()
    buf.feed(a + b + c[:3])
    assert pop_all(buf) == ["a", ["b"]]
    buf.feed(c[3:])
    assert pop_all(buf) == [{"c": 3}]


@given(st.lists(VALUES, min_size=1, max_size=5))
def test_round_trip_values(messages):
    stream = io.BytesIO(b"".join(protocol.encode(m) for m in messages))
    assert [protocol.read_message(stream) for _ in messages] == messages
    assert protocol.read_message(stream) is None


@settings(max_examples=50)
@given(st.lists(VALUES, min_size=1, max_size=4))
def test_byte_by_byte(messages):
    buf = protocol.FrameBuffer()
    got = []
    for k, m in enumerate(messages):
        frame = protocol.encode(m)
        for i in range(len(frame)):
            buf.feed(frame[i:i + 1])
            got.extend(pop_all(buf))
            # a message comes out exactly when its frame's last byte arrives
            assert len(got) == (k + 1 if i == len(frame) - 1 else k)
        assert got[k] == m
    assert got == messages


@given(st.lists(VALUES, min_size=1, max_size=6), st.data())
def test_arbitrary_chunking(messages, data):
    stream = b"".join(protocol.encode(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    buf = protocol.FrameBuffer()
    got = []
    start = 0
    for end in cuts + [len(stream)]:
        buf.feed(stream[start:end])
        start = end
        got.extend(pop_all(buf))
    assert got == messages
    with pytest.raises(LookupError):
        buf.pop()
