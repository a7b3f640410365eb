"""The errno each exception of the Vfs, the backends and the mirrors becomes, in one place, so that every
handler answers the kernel alike."""

from __future__ import annotations

import errno
import logging

from wffs.backend.base import ContentInexact, NotProvided, ServerUnavailable
from wffs.fuse_binding import pyfuse3
from wffs.mirror_line import MirrorLineError
from wffs.vfs import InvalidControl, NotADir, NotFound

log = logging.getLogger(__name__)


class errors:
    """Map the Vfs's exceptions to errno, in one place."""

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None or isinstance(exc, pyfuse3.FUSEError) or not isinstance(exc, Exception):
            return False  # (trio.Cancelled and KeyboardInterrupt pass through)
        code = {NotFound: errno.ENOENT, NotADir: errno.ENOTDIR, IsADirectoryError: errno.EISDIR,
                ServerUnavailable: errno.EIO, InvalidControl: errno.EINVAL, MirrorLineError: errno.EINVAL,
                NotProvided: errno.ENOENT, ContentInexact: errno.EIO}.get(typ)
        if code is None:
            log.exception("unexpected error", exc_info=(typ, exc, tb))
            code = errno.EIO
        elif typ is ContentInexact:
            log.warning("EIO rather than wrong bytes: %s", exc)
        elif code == errno.EIO:
            log.info("%s", exc)
        else:
            log.debug("%s: %s", errno.errorcode[code], exc)
        raise pyfuse3.FUSEError(code) from None
