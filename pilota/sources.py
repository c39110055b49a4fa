"""Reading IDL source files, with unreadable ones reported as diagnostics.

Only regular files are read, and only up to `MAX_SOURCE_BYTES`: a path that
names a FIFO, a device (`/dev/zero`) or a directory, or a file larger than
that, gets one clear error instead of a hang or unbounded memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from pilota.diagnostics import Diagnostics, Location

# Far above any real IDL file (large ones are a few hundred KB), far below what
# would exhaust memory while parsing.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
# Generated modules import the modules of the files they include, and Python
# nests those imports, about ten frames each against a recursion limit of
# 1,000: a longer chain of files including (importing) one another is refused.
MAX_INCLUDE_DEPTH = 32


class SourceError(OSError):
    """A file that is not read: its `strerror` says why, in words for a person."""


def read_regular_file(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes; else `SourceError`
    (or the `OSError` opening it raised). The file is opened without blocking, so a
    FIFO is refused rather than waited on, and checked after opening, so what is
    read is what was checked."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(errno.EISDIR, "it is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            kind = f"it is {_kind(info.st_mode)}, not a regular file"
            raise SourceError(errno.EINVAL, kind, str(path))
        if info.st_size > limit:
            raise SourceError(errno.EFBIG, _too_large(info.st_size, limit), str(path))
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(limit + 1)  # a file growing while read is cut off here
        if len(data) > limit:
            raise SourceError(errno.EFBIG, _too_large(len(data), limit), str(path))
        return data
    finally:
        if fd >= 0:
            os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return f"it is {size:,} bytes, over the limit of {limit:,} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def is_file_like(path: Path) -> bool:
    """Whether `path` is there and is no folder: where includes and imports are
    searched for, what is not a regular file (a FIFO, a device) is found, and
    then refused, with the reason, when it is read."""
    return path.exists() and not path.is_dir()


def read_source(
    path: Path, shown: str, diagnostics: Diagnostics, named_at: Location | None = None
) -> str | None:
    """The file's text (UTF-8, BOM dropped), registered for quoting; None if
    unreadable, reported at `named_at` (the include naming it), if given."""
    try:
        data = read_regular_file(path)
    except FileNotFoundError:
        diagnostics.error(f"cannot read '{shown}': no such file", named_at)
        return None
    except OSError as exc:
        diagnostics.error(f"cannot read '{shown}': {exc.strerror or exc}", named_at)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1  # in characters
        diagnostics.error(
            f"'{shown}' is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            Location(shown, line, col),
        )
        return None
    diagnostics.sources.add(shown, text)
    return text
