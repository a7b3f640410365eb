"""wffs.backend.capped: files read up to the size cap, with exact sizes."""

from __future__ import annotations

import pytest

from wffs.backend.capped import Missing, marker, read_capped, read_head, served_size


@pytest.mark.parametrize("size", [0, 1, 399, 4096, 70000])
def test_a_file_under_the_cap_is_read_whole(tmp_path, size):
    f = tmp_path / "t1.ecf"
    f.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    assert read_head(str(f), 100000) == (f.read_bytes(), size)
    assert read_head(str(f), 0) == (f.read_bytes(), size)  # no cap
    assert read_capped(str(f), 100000) == f.read_bytes()
    assert served_size(size, 100000) == size


@pytest.mark.parametrize("size", [5, 6, 4096, 70000])
def test_a_file_over_the_cap_is_its_head_and_a_marker_of_the_served_size(tmp_path, size):
    f = tmp_path / "t1.out"
    f.write_bytes(b"a" * 4 + b"b" * (size - 4))
    head, whole = read_head(str(f), 4)
    assert head == b"aaaab" and whole == size  # one byte more than the cap: it is bigger
    served = read_capped(str(f), 4)
    assert served == b"aaaa" + marker(4, size)
    assert len(served) == served_size(size, 4)


def test_a_file_exactly_at_the_cap_is_not_marked(tmp_path):
    f = tmp_path / "t1.job"
    f.write_bytes(b"abcd")
    assert read_capped(str(f), 4) == b"abcd" and served_size(4, 4) == 4


def test_a_file_whose_size_says_nothing_is_read_to_its_end():
    """fstat's size is only where the first read stops: files that grow (or /proc's, size 0) are read on."""
    with open("/proc/version", "rb") as f:
        expected = f.read()
    assert expected
    assert read_head("/proc/version", 0) == (expected, len(expected))
    assert read_head("/proc/version", 5)[0] == expected[:6]


def test_a_missing_file_is_missing(tmp_path):
    with pytest.raises(Missing, match="No such file"):
        read_capped(str(tmp_path / "nothing"), 10)
    with pytest.raises(OSError):
        read_head(str(tmp_path / "nothing"), 10)
