"""The README's volo.http example runs as it says: its app, served by uvicorn
as a process, answers each of its curl commands with the output shown."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.http_support import uvicorn_process
from tests.test_http import type_check


def section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## HTTP (`volo.http`)")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_http_example(tmp_path: Path) -> None:
    blocks = re.findall(r"```(\w+)\n(.*?)```", section(), re.S)
    app = next(body for lang, body in blocks if lang == "python")
    shell = next(body for lang, body in blocks if lang == "sh")
    (tmp_path / "readme_app.py").write_text(app)
    # command -> the output shown under it
    runs: list[tuple[str, list[str]]] = []
    for line in shell.splitlines():
        if line.startswith("$ "):
            runs.append((line[2:], []))
        else:
            runs[-1][1].append(line)
    assert len(runs) >= 15
    with uvicorn_process("readme_app:app", cwd=tmp_path, pythonpath=[tmp_path]) as base:
        for command, expected in runs:
            command = command.replace("localhost:8000", base.removeprefix("http://"))
            done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                  check=False, timeout=30)  # fmt: skip
            assert done.returncode == 0, (command, done.stderr)
            assert done.stdout.rstrip("\n") == "\n".join(expected), command


def test_readme_http_example_type_checks(tmp_path: Path) -> None:
    blocks = re.findall(r"```(\w+)\n(.*?)```", section(), re.S)
    (tmp_path / "readme_app.py").write_text(next(b for lang, b in blocks if lang == "python"))
    type_check(tmp_path, "readme_app.py")
