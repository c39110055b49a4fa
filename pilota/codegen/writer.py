"""Writing a generated tree so that a failed run leaves the old tree untouched."""

from __future__ import annotations

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
    rename, and only files whose content changed are touched.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pilota-", dir=out_dir))
    written: list[Path] = []
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
        for temp, target in staged:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
            written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
