"""wffs.preflight: the causes a mount would fail on, judged from files made here (no mounting).

What only a normal user meets (a device that user may not open, the real fusermount3 missing) is proven
as that user in tests/integration/test_normal_user.py."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wffs import preflight
from wffs.preflight import CannotMount

NOBODY = 65534


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and text
    return text


# ---- the mount point ----------------------------------------------------------------------------------
def test_an_empty_directory_of_ones_own_passes(tmp_path):
    preflight.check_mountpoint(str(tmp_path), os.geteuid())
    os.chown(tmp_path, NOBODY, -1)
    preflight.check_mountpoint(str(tmp_path), NOBODY)


def test_missing(tmp_path):
    with pytest.raises(CannotMount) as e:
        preflight.check_mountpoint(str(tmp_path / "no"), NOBODY)
    assert one_line(e) == f"{tmp_path / 'no'}: no such directory: make an empty one (mkdir {tmp_path / 'no'})"


def test_not_a_directory(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(CannotMount) as e:
        preflight.check_mountpoint(str(tmp_path / "f"), 0)
    assert "is not a directory" in one_line(e)


def test_not_empty_even_for_root(tmp_path):
    (tmp_path / ".hidden").write_text("")
    with pytest.raises(CannotMount) as e:
        preflight.check_mountpoint(str(tmp_path), 0)
    assert "is not empty" in one_line(e)


def test_someone_elses_directory(tmp_path):
    """root's directory, judged for nobody: refused and both named; root itself may mount anywhere."""
    with pytest.raises(CannotMount) as e:
        preflight.check_mountpoint(str(tmp_path), NOBODY)
    assert f"{tmp_path} belongs to root, not to nobody" in one_line(e)
    preflight.check_mountpoint(str(tmp_path), 0)


def test_already_mounted():
    with pytest.raises(CannotMount) as e:
        preflight.check_mountpoint("/proc", 0)
    assert one_line(e) == "/proc is already mounted: unmount it first (wffs umount /proc)"


# ---- the device ---------------------------------------------------------------------------------------
def test_missing_device(tmp_path):
    with pytest.raises(CannotMount) as e:
        preflight.check_device(NOBODY, str(tmp_path / "fuse"))
    assert "is missing" in one_line(e) and "root can" in one_line(e)


def test_a_file_is_not_the_device(tmp_path):
    (tmp_path / "fuse").write_text("")
    with pytest.raises(CannotMount) as e:
        preflight.check_device(NOBODY, str(tmp_path / "fuse"))
    assert "not a character device" in one_line(e)


def test_the_real_device_opens_for_root():
    if os.geteuid() != 0:
        pytest.fail("the unit tests run as root here (the normal user's case is an integration test)")
    preflight.check_device(0)


# ---- the helper ---------------------------------------------------------------------------------------
def test_root_needs_no_helper(tmp_path):
    preflight.check_helper(0, path=str(tmp_path))


def test_helper_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "HELPER_DIRS", ())
    with pytest.raises(CannotMount) as e:
        preflight.check_helper(NOBODY, path=str(tmp_path))
    assert one_line(e).startswith("fusermount3 not found") and "fuse3" in one_line(e)


def test_helper_that_is_not_set_user_id(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "HELPER_DIRS", ())
    helper = tmp_path / "fusermount3"
    helper.write_text("#!/bin/sh\n")
    helper.chmod(0o755)
    with pytest.raises(CannotMount) as e:
        preflight.check_helper(NOBODY, path=str(tmp_path))
    assert "is not set-user-ID root" in one_line(e)
    helper.chmod(0o755 | stat.S_ISUID)
    preflight.check_helper(NOBODY, path=str(tmp_path))


def test_helper_found_where_libfuse_looks_without_path(tmp_path):
    """libfuse execs it from its own directory when PATH lacks it: so does the check."""
    assert preflight.find_helper(path=str(tmp_path)) in ("/bin/fusermount3", "/usr/bin/fusermount3")


# ---- options ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [("allow_other",), ("ro,allow_other",), ("ro", "allow_other"), ("allow_root",)])
def test_allow_other_needs_fuse_conf(tmp_path, options):
    conf = tmp_path / "fuse.conf"
    conf.write_text("# user_allow_other\nmount_max = 1000\n")
    with pytest.raises(CannotMount) as e:
        preflight.check_options(options, NOBODY, str(conf))
    assert f"user_allow_other in {conf}" in one_line(e)
    preflight.check_options(options, 0, str(conf))  # root needs no line
    conf.write_text("mount_max = 1000\n  user_allow_other   # let users share\n")
    preflight.check_options(options, NOBODY, str(conf))


def test_no_fuse_conf_at_all(tmp_path):
    with pytest.raises(CannotMount):
        preflight.check_options(("allow_other",), NOBODY, str(tmp_path / "none"))
    preflight.check_options(("ro", "default_permissions"), NOBODY, str(tmp_path / "none"))


@given(st.lists(st.lists(st.sampled_from(["ro", "allow_other", "", " ", "x=1"]), max_size=4), max_size=4))
def test_fuse_options_flatten(groups):
    options = [",".join(g) for g in groups]
    assert preflight.fuse_options(options) == {o.strip() for g in groups for o in g if o.strip()}
