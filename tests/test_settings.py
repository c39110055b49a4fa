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
