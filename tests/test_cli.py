"""The `volo` command: help, version, `idl check` exit codes and output."""

from __future__ import annotations

import os
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


def test_version_names_the_codec_in_use() -> None:
    from pilota.runtime import codec

    code, out, err = run("--version")
    assert (code, err) == (0, "")
    assert out == f"volo, version {pilota.__version__} (codec: {codec.IMPLEMENTATION})\n"
    # The pure-Python codec chosen on purpose is no cause for a warning (tests/test_packaging.py
    # has the one for a build without the compiled codec).
    proc = subprocess.run(
        [sys.executable, "-m", "volo_cli", "-V"], capture_output=True, text=True, check=False,
        env={**os.environ, "PILOTA_PURE_PYTHON": "1"},
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"volo, version {pilota.__version__} (codec: python)\n"


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["idl", "check"], "missing argument 'FILES...' (see 'volo idl check --help')"),
        (["nope"], "no such command 'nope' (see 'volo --help')"),
        (["gen", "--bogus"], "no such option '--bogus' (see 'volo gen --help')"),
        (["init"], "missing argument 'NAME' (see 'volo init --help')"),
    ],
)
def test_a_usage_error_is_one_line(args: list[str], message: str) -> None:
    """As every other refusal: one line, `volo: ...`, no usage block; exit 2, as
    Click's (1 is `volo idl diff`'s "the IDL differs")."""
    assert run(*args) == (2, "", f"volo: {message}\n")


def test_volo_alone_shows_its_help() -> None:
    code, out, err = run()
    assert code == 2 and out == ""
    assert err.startswith("Usage: volo [OPTIONS] COMMAND [ARGS]...") and "Commands:" in err


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


def test_gen_writes_an_importable_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("svc.thrift").write_text('struct Ping { 1: string text = "hi" }\nservice S { Ping ping(1: Ping p) }\n')
    code, out, err = run("idl", "gen", "svc.thrift", "-o", "gen")
    assert (code, err) == (0, "")
    assert out == "generated 3 files in gen (3 written, 0 unchanged)\n"
    code, out, _ = run("idl", "gen", "svc.thrift", "-o", "gen")
    assert out == "generated 3 files in gen (0 written, 3 unchanged)\n"
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("gen.svc")
    assert module.Ping.from_bytes(module.Ping().to_bytes()).text == "hi"


def test_gen_with_errors_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.thrift").write_text("struct S { 1: Nope n }\n")
    code, out, err = run("idl", "gen", "bad.thrift", "-o", "gen")
    assert code == 1 and out == ""
    assert err.endswith("1 error; nothing was written\n")
    assert not Path("gen").exists()


def test_gen_into_a_file_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ok.thrift").write_text("struct S {}\n")
    Path("taken").write_text("")
    code, _, err = run("idl", "gen", "ok.thrift", "-o", "taken/out")
    assert code == 1
    assert err == "volo: cannot write to 'taken/out': Not a directory\n"


def test_gen_keep_unknown_fields_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("v.thrift").write_text("struct V { 1: i32 a }\n")
    code, _, _ = run("idl", "gen", "v.thrift", "-o", "keep", "--keep-unknown-fields")
    assert code == 0
    assert "__thrift_keep_unknown__ = True" in Path("keep/v.py").read_text()
