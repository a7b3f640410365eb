"""Files served up to a size cap (mount option --max-file-size): the head of a bigger file and a marker
that says so, with sizes known before reading.  Shared by the workers that read files from disk."""

from __future__ import annotations

import os
from typing import Optional

from wffs.backend.protocol import Missing


def marker(cap: int, whole: int) -> bytes:
    return (f"\n# >>>>>>>> wffs: file truncated to its first {cap} of {whole} bytes "
            f"(mount option --max-file-size) <<<<<<<<\n").encode()


def truncate(data: bytes, cap: int, whole_size: Optional[int] = None) -> bytes:
    """Serve a file larger than cap as its head plus a marker that says so (sizes stay exact)."""
    if cap <= 0 or len(data) <= cap:
        return data
    return data[:cap] + marker(cap, whole_size if whole_size is not None else len(data))


def served_size(file_size: int, cap: int) -> int:
    """The size of what truncate serves for a file of file_size bytes, without reading it."""
    return file_size if cap <= 0 or file_size <= cap else cap + len(marker(cap, file_size))


def read_head(path: str, cap: int) -> tuple[bytes, int]:
    """(the file's first cap + 1 bytes, or all of it if cap <= 0; its whole size); OSError if unreadable.

    One read() of the size fstat gives, not a read of cap + 1 bytes: Python allocates (and the kernel
    maps and unmaps) a buffer of the size asked for, 64 MiB by default, for every file of a backup."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        limit = cap + 1 if cap > 0 else None
        parts, got = [], 0
        while limit is None or got < limit:
            want = size + 1 - got if got <= size else 1 << 16  # past the size fstat gave: it grows
            if limit is not None:
                want = min(want, limit - got)
            chunk = os.read(fd, want)
            parts.append(chunk)
            got += len(chunk)
            if len(chunk) < want:  # a short read of a regular file: its end
                break
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return data, (os.fstat(fd).st_size if limit is not None and got >= limit else got)
    finally:
        os.close(fd)


def read_capped(path: str, cap: int) -> bytes:
    """A file's bytes; one larger than cap as its head and a marker (see served_size); Missing if none."""
    try:
        data, size = read_head(path, cap)
    except OSError as e:
        raise Missing(f"{path}: {e.strerror}") from None
    return truncate(data, cap, size)
