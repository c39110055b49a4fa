"""The `volo` command: help, version, `idl check` exit codes and output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import pilota
from tests.conftest import REPO
from volo_cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_the_commands() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "idl" in out and "Volo for Python" in out
    code, out, _ = run("idl", "--help")
    assert code == 0 and "check" in out
    code, out, _ = run("idl", "check", "--help")
    assert code == 0 and "-I, --include DIR" in out


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.strip() == f"volo, version {pilota.__version__}"


def test_check_ok_on_the_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = run("idl", "check", "idl_samples/echo.thrift", "idl_samples/shop/shop.thrift")
    assert (code, err) == (0, "")
    assert out == "ok: 2 files and 1 included file checked, 17 definitions, 0 warnings\n"


def test_check_reports_errors_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.thrift").write_text("struct S {\n  1: Missing m\n  string implicit\n}\n")
    code, out, err = run("idl", "check", "bad.thrift")
    assert code == 1 and out == ""
    assert err == (
        "bad.thrift:2:6: error: unknown type 'Missing'\n"
        " 2 |   1: Missing m\n"
        "   |      ^~~~~~~\n"
        "bad.thrift:3:10: warning: field 'implicit' of struct 'S' has no id; assigned -1 "
        "(implicit ids break compatibility when fields change)\n"
        " 3 |   string implicit\n"
        "   |          ^~~~~~~~\n"
        "1 error, 1 warning\n"
    )


def test_include_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("lib").mkdir()
    Path("lib/base.thrift").write_text("typedef i64 Id\n")
    Path("main.thrift").write_text('include "base.thrift"\nstruct S { 1: base.Id id }\n')
    code, _, err = run("idl", "check", "main.thrift")
    assert code == 1 and "cannot find included file 'base.thrift'" in err
    code, out, _ = run("idl", "check", "-I", "lib", "main.thrift")
    assert code == 0 and out.startswith("ok: 1 file and 1 included file checked")
    code, _, err = run("idl", "check", "--include", "nowhere", "main.thrift")
    assert code == 1 and "include directory 'nowhere' does not exist" in err


def test_missing_arguments_is_a_usage_error() -> None:
    code, _, err = run("idl", "check")
    assert code == 2 and "Missing argument 'FILES...'" in err


def test_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    volo = Path(sys.executable).with_name("volo")  # installed beside this interpreter
    assert volo.exists(), "the `volo` console script is not installed"
    bad = tmp_path / "bad.thrift"
    bad.write_text('struct S {\n  1: string s = "unterminated\n}\n')
    proc = subprocess.run(
        [str(volo), "idl", "check", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "unterminated string literal" in proc.stderr


def test_module_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "volo_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "volo, version" in proc.stdout
