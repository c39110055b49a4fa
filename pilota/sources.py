"""Reading IDL source files, with unreadable ones reported as diagnostics."""

from __future__ import annotations

from pathlib import Path

from pilota.diagnostics import Diagnostics, Location


def read_source(path: Path, shown: str, diagnostics: Diagnostics) -> str | None:
    """The file's text (UTF-8, BOM dropped), registered for quoting; None if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        diagnostics.error(f"cannot read '{shown}': no such file", None)
        return None
    except IsADirectoryError:
        diagnostics.error(f"cannot read '{shown}': it is a directory", None)
        return None
    except OSError as exc:
        diagnostics.error(f"cannot read '{shown}': {exc.strerror or exc}", None)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diagnostics.error(
            f"'{shown}' is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
            Location(shown, line, col),
        )
        return None
    diagnostics.sources.add(shown, text)
    return text
