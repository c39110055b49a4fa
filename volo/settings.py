"""A project's run-time settings: the environment, else the `server` and
`client` sections of its volo.yml (the nearest, in the working directory or a
folder above it).

    # volo.yml
    server:
      address: 127.0.0.1:8081
      registry: etcd://127.0.0.1:2379?ttl=10
      service_name: echo
    client:
      address: etcd://127.0.0.1:2379/echo

Each key has its environment variable (`VOLO_` and the key in capitals:
VOLO_ADDRESS, VOLO_REGISTRY, ...), which wins over the file; the command line
of a generated server or client wins over both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

CONFIG = "volo.yml"
KEYS = {
    "server": ("address", "registry", "service_name", "advertise", "drain"),
    "client": ("address", "timeout"),
}
SECONDS = frozenset({"drain", "timeout"})  # keys whose value is a number of seconds


def find(start: Path) -> Path | None:
    """The nearest volo.yml: in `start` or a folder above it."""
    for folder in [start, *start.parents]:
        if (folder / CONFIG).is_file():
            return folder / CONFIG
    return None


def settings(
    section: str, start: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The settings of `section` ("server" or "client") as text (argparse
    converts them as it does what is typed): from the environment, else from
    volo.yml. A ValueError of one sentence for a volo.yml that cannot be read
    or a section that is not a mapping of known keys to plain values, and for a
    number of seconds (drain, timeout) that is not a number, wherever it comes from."""
    found: dict[str, str] = {}
    path = find(start or Path.cwd())
    if path is not None:
        found.update(_section(path, section))
    environ = os.environ if environ is None else environ
    for key in KEYS[section]:
        variable = f"VOLO_{key.upper()}"
        value = environ.get(variable)
        if value is not None:
            found[key] = _checked_value(key, value, variable)
    return found


def _section(path: Path, section: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path} is not valid YAML{where}") from None
    values = data.get(section) if isinstance(data, dict) else None
    return {} if values is None else section_values(values, section, path)


def section_values(values: object, section: str, path: Path) -> dict[str, str]:
    """volo.yml's `section` ("server" or "client") as text: a ValueError of one sentence
    for one that is not a mapping of known keys to plain values (numbers of seconds
    where they are). `volo gen` checks the sections with it too."""
    keys = KEYS[section]
    if not isinstance(values, dict):
        raise ValueError(f"{path}: '{section}' must be a mapping of {', '.join(keys)}")
    found = {}
    for key, value in values.items():
        if key not in keys:
            raise ValueError(
                f"{path}: unknown key {key!r} in '{section}': expected one of {', '.join(keys)}"
            )
        if value is None or isinstance(value, dict | list):
            raise ValueError(f"{path}: '{section}.{key}' must be a plain value")
        found[key] = _checked_value(key, str(value), f"{path}: '{section}.{key}'")
    return found


def _checked_value(key: str, value: str, what: str) -> str:
    """`value` of `key`, if it is one (argparse would blame its command line for it)."""
    if key in SECONDS:
        try:
            float(value)
        except ValueError:
            raise ValueError(f"{what} must be a number of seconds, not {value!r}") from None
    return value
