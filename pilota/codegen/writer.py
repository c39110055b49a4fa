"""Writing a generated tree so that a failed run leaves the old tree untouched."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pilota.codegen.python import GeneratedFile


def write_tree(files: Sequence[GeneratedFile], out_dir: Path) -> list[Path]:
    """Write `files` under `out_dir`; returns the paths written.

    Everything is first written to a staging folder beside `out_dir`; only when
    all of it is on disk are the files moved into place, each with an atomic
    rename, and only files whose content changed are touched. If moving fails
    part way, the files already moved are put back as they were and the folders
    made for them removed, so the tree is as before.
    """
    made = _missing_folders(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pilota-", dir=out_dir))
    moved: list[tuple[Path, Path | None]] = []  # a target, and where its old file was put
    try:
        staged: list[tuple[Path, Path]] = []
        for generated in files:
            target = out_dir / generated.path
            data = generated.text.encode("utf-8")
            if target.is_file() and target.read_bytes() == data:
                continue
            temp = staging / f"{len(staged)}.tmp"
            temp.write_bytes(data)
            staged.append((temp, target))
        for number, (temp, target) in enumerate(staged):
            made += _missing_folders(target.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(target))
            old: Path | None = None
            if target.exists() or target.is_symlink():
                old = staging / f"{number}.old"
                os.replace(target, old)
            moved.append((target, old))
            os.replace(temp, target)
    except BaseException:
        for target, old in reversed(moved):
            if old is not None:
                os.replace(old, target)
            else:
                target.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(made):
            shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [target for target, _ in moved]


def _missing_folders(folder: Path) -> list[Path]:
    """The outermost folder on the way to `folder` that does not exist yet, if any."""
    missing = None
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate.is_symlink():
            break
        missing = candidate
    return [missing] if missing is not None else []
