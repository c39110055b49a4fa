"""Run-time settings: the environment over volo.yml's server and client sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from volo.settings import settings


def test_the_environment_wins_over_volo_yml_found_above(tmp_path: Path) -> None:
    (tmp_path / "volo.yml").write_text(
        "package: echo\nserver:\n  address: 127.0.0.1:9001\n  drain: 2.5\n"
        "  registry: etcd://127.0.0.1:2379?ttl=3\nclient:\n  address: etcd://127.0.0.1:2379/echo\n"
    )
    below = tmp_path / "echo" / "deeper"
    below.mkdir(parents=True)
    assert settings("server", below, {}) == {
        "address": "127.0.0.1:9001", "drain": "2.5", "registry": "etcd://127.0.0.1:2379?ttl=3",
    }  # fmt: skip
    environ = {"VOLO_ADDRESS": "127.0.0.1:9002", "VOLO_SERVICE_NAME": "other", "VOLO_TIMEOUT": "1"}
    assert settings("server", below, environ) == {
        "address": "127.0.0.1:9002", "drain": "2.5", "registry": "etcd://127.0.0.1:2379?ttl=3",
        "service_name": "other",
    }  # fmt: skip
    assert settings("client", below, environ) == {"address": "127.0.0.1:9002", "timeout": "1"}


def test_no_volo_yml_or_no_section_is_the_environment_alone(tmp_path: Path) -> None:
    assert settings("client", tmp_path, {"VOLO_TIMEOUT": "2"}) == {"timeout": "2"}
    (tmp_path / "volo.yml").write_text("package: echo\n")
    assert settings("server", tmp_path, {}) == {}


@pytest.mark.parametrize(("text", "message"), [
    ("server: [1]\n", "'server' must be a mapping of address, registry, service_name, advertise, drain"),
    ("server:\n  port: 1\n", "unknown key 'port' in 'server': expected one of address, registry, service_name, advertise, drain"),
    ("server:\n  address: {a: 1}\n", "'server.address' must be a plain value"),
    ("server: [\n", "is not valid YAML at line 2"),
])  # fmt: skip
def test_a_bad_section_is_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "volo.yml").write_text(text)
    with pytest.raises(ValueError) as caught:
        settings("server", tmp_path, {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "environ", "message"), [
    ("client:\n  timeout: soon\n", {}, "volo.yml: 'client.timeout' must be a number of seconds, not 'soon'"),
    ("client:\n  timeout: true\n", {}, "volo.yml: 'client.timeout' must be a number of seconds, not 'True'"),
    ("", {"VOLO_TIMEOUT": "2s"}, "VOLO_TIMEOUT must be a number of seconds, not '2s'"),
])  # fmt: skip
def test_a_timeout_that_is_no_number_is_one_sentence(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    """Not left to the generated client's argparse, which blamed its command line:
    "client.py: error: argument --timeout: invalid float value: 'soon'", exit 2."""
    (tmp_path / "volo.yml").write_text(text)
    with pytest.raises(ValueError) as caught:
        settings("client", tmp_path, environ)
    assert str(caught.value).endswith(message)


def test_server_drain_that_is_no_number_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "volo.yml").write_text("server:\n  drain: a while\n")
    with pytest.raises(ValueError) as caught:
        settings("server", tmp_path, {})
    assert str(caught.value).endswith("volo.yml: 'server.drain' must be a number of seconds, not 'a while'")


@pytest.mark.parametrize(("section", "message"), [
    ("server:\n  adress: 127.0.0.1:9000\n", "unknown key 'adress' in 'server': expected one of address, registry, service_name, advertise, drain"),
    ("client:\n  timeout: soon\n", "'client.timeout' must be a number of seconds, not 'soon'"),
    ("client: [1]\n", "'client' must be a mapping of address, timeout"),
])  # fmt: skip
def test_volo_gen_refuses_what_the_running_project_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, message: str
) -> None:
    """`volo gen` (and `--check`, for CI) refuses the run-time sections the generated
    server or client would refuse; it passed them, and the server failed at its start."""
    from click.testing import CliRunner

    from tests.conftest import REPO
    from volo_cli.main import cli

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init", "echo", str(REPO / "idl_samples" / "echo.thrift")]).exit_code == 0
    config = tmp_path / "volo.yml"
    config.write_text(config.read_text() + section)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for args in (["gen"], ["gen", "--check"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert result.output == f"volo: {config}: {message}\n"
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_an_empty_run_time_section_is_no_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tests.conftest import REPO
    from volo_cli.main import cli

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init", "echo", str(REPO / "idl_samples" / "echo.thrift")]).exit_code == 0
    config = tmp_path / "volo.yml"
    config.write_text(config.read_text() + "server:\n")
    assert CliRunner().invoke(cli, ["gen"]).exit_code == 0
    assert settings("server", tmp_path, {}) == {}


def test_idl_add_keeps_the_run_time_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml
    from click.testing import CliRunner

    from tests.conftest import REPO
    from volo_cli.main import cli

    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init", "echo", str(REPO / "idl_samples" / "echo.thrift")]).exit_code == 0
    config = tmp_path / "volo.yml"
    config.write_text(config.read_text() + "server:\n  registry: etcd://10.0.0.1:2379\nclient:\n  timeout: 2\n")
    shop = REPO / "idl_samples" / "shop" / "shop.thrift"
    assert CliRunner().invoke(cli, ["idl", "add", str(shop)]).exit_code == 0
    data = yaml.safe_load(config.read_text())
    assert len(data["entries"]["default"]["services"]) == 2
    assert data["server"] == {"registry": "etcd://10.0.0.1:2379"} and data["client"] == {"timeout": 2}
