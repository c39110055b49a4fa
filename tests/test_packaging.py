"""The installed package is whole: a wheel built from the tracked files holds
every module, grammar and template, and works outside the source tree.

Everything else is tested on an editable install, which reads the source
tree and so cannot notice a module that packaging leaves out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return listed.split()


def copy_checkout(source: Path) -> Path:
    """The tracked files only, as a clean checkout has them (as they are in the work tree)."""
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    return source


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of the pure-Python build (the extensions have their own tests),
    from a copy of the tracked files only, as a clean checkout has them."""
    source = copy_checkout(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        env={**os.environ, "PILOTA_NO_EXTENSIONS": "1"}, check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    return wheel


def installed_name(tracked: str) -> str | None:
    """Where a tracked file lands in the wheel; None if it is not shipped."""
    top, _, rest = tracked.partition("/")
    if top in ("pilota", "volo", "volo_cli") and tracked.endswith((".py", "py.typed")):
        return tracked
    if top == "grammars" and tracked.endswith(".lark"):
        return f"pilota/grammars/{rest}"
    if top == "templates" and tracked.endswith((".jinja", ".py")):
        return f"pilota/templates/{rest}"
    return None


def wheel_environment(wheel: Path, env_dir: Path) -> Path:
    """A virtual environment with `wheel` installed. Its dependencies come from
    this environment's site-packages, added as a plain path: its .pth files (the
    editable install of the source tree) stay unread."""
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", wheel], check=True)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_the_wheel_holds_every_module_grammar_and_template(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {name for t in tracked_files() if (name := installed_name(t))}
    assert len(expected) > 50
    assert sorted(expected - shipped) == []
    # the license pyproject.toml declares, in full
    (license_file,) = [n for n in shipped if ".dist-info/" in n and n.endswith("/LICENSE")]
    text = zipfile.ZipFile(wheel).read(license_file).decode()
    assert text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text

    # Installed from the wheel, away from the source tree, it compiles IDL.
    env_dir = wheel_environment(wheel, tmp_path / "env")
    python = env_dir / "bin" / "python"
    (tmp_path / "echo.thrift").write_text(
        "struct Ping { 1: string text }\nservice Echo { Ping echo(1: Ping ping) }\n"
    )
    script = (
        "import pilota, sys; "
        "assert 'site-packages' in pilota.__file__, pilota.__file__; "
        "pilota.generate(['echo.thrift'], 'out'); "
        "sys.path.insert(0, 'out'); import echo; "
        "print(echo.Ping(text='hi').to_bytes().hex())"
    )
    done = subprocess.run(
        [python, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0b000100000002686900"  # field 1, string "hi", stop

    # Built without the compiled codec (as with no C compiler), it says so where
    # people look: `volo --version`, which `make` runs after installing.
    version = subprocess.run(
        [env_dir / "bin" / "volo", "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0
    assert version.stdout.endswith("(codec: python)\n")
    assert version.stderr.startswith("warning: the compiled codec is not built (no C compiler")

    # Its `volo` command makes a project from the shipped templates.
    made = subprocess.run(
        [env_dir / "bin" / "volo", "init", "pinger", "echo.thrift"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith("warning: the compiled codec is not built")  # the first command too
    for name in ("volo.yml", "pyproject.toml", "pinger/server.py", "pinger/client.py"):
        assert (tmp_path / name).is_file(), name
