"""wffs.backend.ecflow.wire: the file request as ecflow_client 5 frames it, and its replies read exactly."""

from __future__ import annotations

import json

import pytest

from wffs.backend.ecflow import wire as ecflow_wire
from wffs.backend.ecflow.wire import NotSpoken, ServerRefused, parse_reply, request


def framed(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return f"{len(body):8x}".encode() + body


def reply(name: str, data: dict) -> bytes:
    return framed({"22ServerToClientResponse": {"stc_cmd_": {
        "polymorphic_id": 2147483649, "polymorphic_name": name,
        "ptr_wrapper": {"id": 2147483649, "data": {"cereal_class_version": 0, "value0": {}, **data}}}}})


def test_a_request_is_framed_by_its_length_in_hexadecimal():
    message = request("/s/t1", "manual", 10000, "alice", "vm")
    body = message[8:]
    assert int(message[:8], 16) == len(body) and message[:8].startswith(b" ")
    cmd = json.loads(body)["21ClientToServerRequest"]["cmd_"]
    assert cmd["polymorphic_name"] == "CFileCmd"
    data = cmd["ptr_wrapper"]["data"]
    assert (data["file_"], data["pathToNode_"], data["max_lines_"]) == (3, "/s/t1", 10000)
    assert data["value0"]["user_"] == "alice" and data["value0"]["value0"]["cl_host_"] == "vm"


def test_every_byte_survives_nul_and_not_utf8():
    sent = b"before\n\x00 after\ncaf\xe9\n"
    body = (b'{"22ServerToClientResponse": {"stc_cmd_": {"polymorphic_name": "SStringCmd", "ptr_wrapper": '
            b'{"data": {"str_": "before\\n\\u0000 after\\ncaf\xe9\\n"}}}}}')
    assert parse_reply(f"{len(body):8x}".encode() + body) == sent


def test_the_servers_error_is_its_message():
    with pytest.raises(ServerRefused, match="Cannot find node at path '/s/x'"):
        parse_reply(reply("ErrorCmd", {"error_msg_": "Cannot find node at path '/s/x' "}))


@pytest.mark.parametrize("framed_reply", [
    b"",  # the connection closed without a word
    b"not hex!{}",
    b"      10{}",  # shorter than its header says
    reply("SNodeCmd", {"node_": {}}),  # another command's answer
    reply("SStringCmd", {"str_": 3}),
    framed({"22ServerToClientResponse": {}}),
    framed({"something": "else"}),
])
def test_anything_else_is_not_spoken_here(framed_reply):
    with pytest.raises(NotSpoken):
        parse_reply(framed_reply)


def test_file_kinds_follow_the_servers_enum():
    assert ecflow_wire.FILE_CODES == {"script": 0, "job": 1, "jobout": 2, "manual": 3}
