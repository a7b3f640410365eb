"""wffs.kept_listings.DirCache: which directory handles may use the kernel's copy of a listing."""

from __future__ import annotations

from wffs.kept_listings import DirCache, may_hold

OLD, NEW = (("a.que", False), ("b.que", False)), (("a.com", False), ("b.que", False))


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_an_unchanged_listing_is_kept_and_a_changed_one_dropped_once():
    cache = DirCache(keep_for=50, clock=Clock())
    assert cache.opened(1, 7, OLD)  # the first handle fills the kernel's copy
    cache.released(1)
    assert cache.opened(2, 7, OLD)
    cache.released(2)
    assert not cache.opened(3, 7, NEW)  # opened uncached: the kernel drops its copy of OLD
    cache.released(3)
    assert cache.opened(4, 7, NEW)  # fills the copy again
    assert cache.opened(5, 7, NEW)
    assert cache.opened(6, 8, OLD)  # another directory: a copy of its own


def test_a_handle_still_open_on_the_old_listing_may_fill_the_copy_again():
    cache = DirCache(keep_for=50, clock=Clock())
    assert cache.opened(1, 7, OLD)  # still open: it may read from the start again, into the kernel's copy
    assert not cache.opened(2, 7, NEW)
    cache.released(2)
    assert not cache.opened(3, 7, NEW)  # so, while it is open, none of the new listing may use the copy
    cache.released(3)
    cache.released(1)
    assert not cache.opened(4, 7, NEW)  # it may have filled the copy before it closed: dropped once more
    cache.released(4)
    assert cache.opened(5, 7, NEW)


def test_a_copy_is_used_for_keep_for_seconds_then_filled_again():
    clock = Clock()
    cache = DirCache(keep_for=50, clock=clock)
    assert cache.opened(1, 7, OLD)
    cache.released(1)
    clock.now += 49
    assert cache.opened(2, 7, OLD)  # the copy is as old as its first fill, not its last use
    cache.released(2)
    clock.now += 2
    assert not cache.opened(3, 7, OLD)  # older than keep_for: a readdirplus renews names and attributes
    cache.released(3)
    assert cache.opened(4, 7, OLD)
    cache.released(4)
    clock.now += 49
    assert cache.opened(5, 7, OLD)


def test_a_touched_directory_fills_its_copy_again_once():
    """Its entries' attributes were dropped by the kernel (a file read from wffs, a subdirectory listed
    from wffs, a refresh): one readdirplus renews them all, where the copy would cost a request each."""
    cache = DirCache(keep_for=50, clock=Clock())
    assert cache.opened(1, 7, OLD)
    cache.released(1)
    cache.touched(7)
    cache.touched(8)  # a directory never opened: nothing to drop, nothing kept for it
    assert not cache.opened(2, 7, OLD)
    cache.released(2)
    assert cache.opened(3, 7, OLD)
    assert cache.opened(4, 8, NEW)


def test_a_directory_listed_from_wffs_touches_its_parent():
    """The kernel drops the access time of a directory whose listing it reads from wffs; the parent's
    listing renews it, so the parent's copy is filled again at its next opendir."""
    cache = DirCache(keep_for=50, clock=Clock())
    top = (("f", True),)
    assert cache.opened(1, 3, top)
    cache.released(1)
    assert cache.opened(2, 7, OLD, parent=3)
    cache.listed(2)  # the kernel had no copy of 7: it reads it from wffs
    cache.released(2)
    assert not cache.opened(4, 3, top)
    cache.released(4)
    assert cache.opened(5, 3, top)
    assert cache.opened(6, 7, OLD, parent=3)
    cache.released(6)
    assert cache.opened(7, 3, top)  # a copy of 7 used: nothing dropped


def test_an_empty_listing_never_fills_the_kernels_copy():
    assert not may_hold(((), ()))
    assert may_hold((("t1.que", "t1.att"), ()))
    assert may_hold((("f",), ("f",)))
