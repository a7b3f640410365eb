"""What asking a server's file system for a path can fail with; wffs/fuse_errors.py maps each to errno."""


class NotFound(Exception):
    """No such entry (ENOENT)."""


class InvalidControl(Exception):
    """A control-file write that makes no sense here (EINVAL), e.g. a .mirror for a family."""


class NotADir(Exception):
    """A path component is a file (ENOTDIR)."""
