"""wffs.handles: the marks a handle number carries for the native libraries, and what an open handle holds."""

from __future__ import annotations

from wffs import fuse_binding, fuse_ops
from wffs.handles import ControlWrite, Handles, directory_number, fast_inode
from wffs.layout import Kind
from wffs.vfs import Entry


def test_the_marks_keep_the_values_the_native_libraries_read():
    assert (fuse_binding.CACHE_DIR_MARK, fuse_binding.KEEP_CACHE_MARK, fuse_binding.FAST_MARK) == (
        1 << 62, 1 << 61, 1 << 60)
    assert fuse_ops.FAST_MARK is fuse_binding.FAST_MARK  # still importable where they were


def test_a_directory_handle_is_marked_as_the_kernel_may_keep_its_listing():
    handles = Handles()
    plain, held, filled = (handles.open_dir(handles.new(), [], kept) for kept in (None, True, False))
    assert plain == 2 and plain in handles.listings
    assert held == 3 | fuse_binding.CACHE_DIR_MARK | fuse_binding.KEEP_CACHE_MARK
    assert filled == 4 | fuse_binding.CACHE_DIR_MARK
    assert [directory_number(fh) for fh in (plain, held, filled)] == [2, 3, 4]
    handles.release_dir(held)
    assert held not in handles.listings


def test_a_handle_of_the_fast_open_library_names_its_inode():
    assert fast_inode(fuse_binding.FAST_MARK | 17) == 17
    assert fast_inode(17) is None


def test_an_open_file_holds_its_content_and_answers_for_it_until_its_first_read():
    handles = Handles()
    entry = Entry("t.att", Kind.ATT, "/s/t", "att", 3, 0.0)
    fh = handles.open_file(9, entry, b"hello")
    assert handles.files[fh].entry.size == 5 and handles.unread(9).data == b"hello"
    assert handles.is_open(9) and handles.entries_open(9) == [handles.files[fh].entry]
    handles.read_begun(fh)
    assert handles.unread(9) is None and handles.is_open(9)
    assert handles.release(fh) is None and not handles.is_open(9)


def test_a_control_handle_returns_what_was_written_through_it_when_released():
    handles = Handles()
    pending = ControlWrite(None, "/s/t", created=("s", "t.mirror"))
    fh = handles.open_control(pending)
    assert handles.creating(("s", "t.mirror")) and not handles.creating(("s", "u.mirror"))
    pending.add(2, b"ab")
    assert pending.data == b"\0\0ab" and pending.written
    assert handles.release(fh) is pending and not handles.creating(("s", "t.mirror"))
