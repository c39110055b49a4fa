"""`volo.yml`: the model of a project's configuration, read, checked and written.

The layout follows volo-cli's: named entries, each one protocol and one
generated package, each service of it with its IDL from a local path or from a
git repository the entry pins by commit (`lock`)::

    package: echo                # the project's own package (handler, server...)
    entries:
      default:                   # `-n/--entry-name`; commands default to `default`
        protocol: thrift         # or protobuf; one protocol per entry
        generated: echo/gen      # the generated package's folder
        touch_all: true          # everything the IDL files define; false: what
                                 # the services use, plus each service's `touch`
        name_case: keep          # or snake_case: methods and fields in Python
        special_namings: []      # names snake_case leaves as the IDL spells them
        repos:
          central:
            url: https://example.com/idl.git
            ref: main
            lock: 5f0c...        # the commit `ref` resolved to; `volo repo update` moves it
        services:
          - idl:
              source: local      # or git, with `repo: central`
              path: idl/echo.thrift
              includes: [idl]
            codegen_option:
              keep_unknown_fields: false  # Thrift only: protobuf messages keep them anyway
              touch: []

Paths of local IDL are relative to volo.yml; those of git IDL to the
repository's top. The previous format (`package`, `generated`, `idls`,
`options`) is still read; `volo migrate` rewrites it in this one.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from pilota.sources import read_regular_file
from volo.settings import KEYS as RUNTIME_SECTIONS  # server, client: read by the running project
from volo.settings import section_values

CONFIG = "volo.yml"
DEFAULT_ENTRY = "default"
PROTOCOLS: dict[str, str] = {"thrift": ".thrift", "protobuf": ".proto"}
NAME_CASES = ("keep", "snake_case")

Protocol = Literal["thrift", "protobuf"]
NameCase = Literal["keep", "snake_case"]

_ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class ProjectError(Exception):
    """One sentence that names the file or key at fault."""


@dataclass
class Repo:
    url: str
    ref: str
    lock: str  # the commit `ref` resolved to


@dataclass
class Idl:
    path: str  # relative to volo.yml (local) or to the repository's top (git)
    includes: list[str] = field(default_factory=list)
    repo: str | None = None  # the entry's repo holding it; None: a local file


@dataclass
class Service:
    idl: Idl
    keep_unknown_fields: bool = False
    touch: list[str] = field(default_factory=list)  # definitions generated even when unused


@dataclass
class Entry:
    protocol: Protocol
    generated: str  # the generated package's folder, relative to volo.yml
    services: list[Service]
    repos: dict[str, Repo] = field(default_factory=dict)
    touch_all: bool = True
    name_case: NameCase = "keep"
    special_namings: list[str] = field(default_factory=list)


@dataclass
class Config:
    package: str | None  # the project's own package; None for an IDL-only project
    entries: dict[str, Entry]
    legacy: bool = False  # read from the previous format (see `volo migrate`)
    # The run-time sections (server, client: see volo.settings), kept as written.
    runtime: dict[str, Any] = field(default_factory=dict)

    def entry(self, name: str) -> Entry:
        found = self.entries.get(name)
        if found is None:
            known = ", ".join(repr(n) for n in self.entries) or "none"
            raise ProjectError(f"{CONFIG} has no entry {name!r} (its entries: {known})")
        return found

    def to_yaml(self) -> str:
        data: dict[str, Any] = {}
        if self.package is not None:
            data["package"] = self.package
        data["entries"] = {name: _entry_data(e) for name, e in self.entries.items()}
        data.update(self.runtime)
        header = (
            "# volo.yml: what `volo gen` generates from which IDL, and where; the layout\n"
            "# is volo-cli's (entries, services, repos locked by commit). Local paths are\n"
            "# relative to this file; git paths to the repository's top.\n"
        )
        return header + yaml.safe_dump(data, sort_keys=False)


def protocol_of(path: str | Path) -> Protocol | None:
    suffix = Path(path).suffix
    return "thrift" if suffix == ".thrift" else "protobuf" if suffix == ".proto" else None


def _entry_data(entry: Entry) -> dict[str, Any]:
    data: dict[str, Any] = {
        "protocol": entry.protocol,
        "generated": entry.generated,
        "touch_all": entry.touch_all,
        "name_case": entry.name_case,
        "special_namings": list(entry.special_namings),
    }
    if entry.repos:
        data["repos"] = {
            name: {"url": r.url, "ref": r.ref, "lock": r.lock} for name, r in entry.repos.items()
        }
    services = []
    for service in entry.services:
        idl: dict[str, Any] = {"source": "git" if service.idl.repo else "local"}
        if service.idl.repo:
            idl["repo"] = service.idl.repo
        idl["path"] = service.idl.path
        idl["includes"] = list(service.idl.includes)
        option: dict[str, Any] = {}
        if entry.protocol == "thrift":  # protobuf messages keep unknown fields anyway
            option["keep_unknown_fields"] = service.keep_unknown_fields
        if service.touch:
            option["touch"] = list(service.touch)
        services.append({"idl": idl, "codegen_option": option} if option else {"idl": idl})
    data["services"] = services
    return data


# ---- reading ----------------------------------------------------------------------------


def read_project_file(path: Path) -> str:
    """A project file's text; `ProjectError` if it is no regular file (a FIFO would
    hang the command), is too large, or is not UTF-8."""
    try:
        return read_regular_file(path, limit=MAX_PROJECT_FILE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not valid UTF-8") from None
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None


MAX_PROJECT_FILE_BYTES = 1024 * 1024  # volo.yml, pyproject.toml, the handler


def ascii_identifier(name: str) -> bool:
    """Whether `name` can name a package here: a Python identifier, and in ASCII,
    since Python reads identifiers in their NFKC form (fullwidth letters as the
    ASCII ones, which do not name the folder) and a project's name on PyPI is ASCII."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def read_config(path: Path) -> Config:
    """The configuration in `path` (either format), checked; ProjectError if it is wrong."""
    if not path.is_file():
        raise ProjectError(f"no {CONFIG} in {path.parent}: run `volo init` first")
    try:
        data = yaml.safe_load(read_project_file(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProjectError(f"{path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path} must be a mapping with the keys package and entries")
    if "entries" not in data and "idls" in data:
        return _legacy(data, path)
    _known_keys(data, {"package", "entries", *RUNTIME_SECTIONS}, path, "the top level")
    package = _package(data, path, required=False)
    entries = data.get("entries")
    if not isinstance(entries, dict) or not entries:
        raise ProjectError(f"{path}: 'entries' must be a mapping of entry names to entries")
    config = Config(package, {}, runtime=_runtime(data, path))
    for name, entry in entries.items():
        if not isinstance(name, str) or not _ENTRY_NAME.match(name):
            raise ProjectError(
                f"{path}: entry name {name!r} must be letters, digits, '_', '.' or '-'"
            )
        config.entries[name] = _entry(entry, f"entry '{name}'", path)
    check_generated_folders(config, path)
    return config


def check_entry_name(name: str) -> None:
    if not _ENTRY_NAME.match(name):
        raise ProjectError(
            f"entry name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_', '.' or '-'"
        )


def check_generated_folders(config: Config, path: Path) -> None:
    """Each entry's generated folder is a dotted package path, apart from the others'."""
    seen: dict[PurePosixPath, str] = {}
    for name, entry in config.entries.items():
        folder = PurePosixPath(entry.generated)
        parts = folder.parts
        if not parts or folder.is_absolute() or not all(
            ascii_identifier(p) for p in parts
        ):
            raise ProjectError(
                f"{path}: 'generated' of entry '{name}' must be a folder inside the project, "
                f"named as its package is imported (like echo/gen), not {entry.generated!r}"
            )
        for other, other_name in seen.items():
            if folder == other or folder.is_relative_to(other) or other.is_relative_to(folder):
                raise ProjectError(
                    f"{path}: entries '{other_name}' and '{name}' generate into the same "
                    f"folder ({other} and {folder}); give each its own"
                )
        seen[folder] = name


def _entry(data: object, what: str, path: Path) -> Entry:
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: {what} must be a mapping")
    _known_keys(
        data,
        {"protocol", "generated", "services", "repos", "touch_all", "name_case",
         "special_namings"},
        path, what,
    )  # fmt: skip
    protocol = data.get("protocol")
    if protocol not in PROTOCOLS:
        raise ProjectError(f"{path}: 'protocol' of {what} must be thrift or protobuf")
    generated = data.get("generated")
    if not isinstance(generated, str) or not generated:
        raise ProjectError(f"{path}: 'generated' of {what} must be a folder, like echo/gen")
    repos = _repos(data.get("repos") or {}, what, path)
    services_data = data.get("services")
    if not isinstance(services_data, list) or not services_data:
        raise ProjectError(f"{path}: 'services' of {what} must be a non-empty list")
    services = [
        _service(s, f"service {n} of {what}", repos, path)
        for n, s in enumerate(services_data, 1)
    ]
    check_protocol(protocol, services, what, path)
    if protocol == "protobuf":
        kept = next((n for n, s in enumerate(services, 1) if s.keep_unknown_fields), None)
        if kept is not None:
            raise ProjectError(
                f"{path}: 'keep_unknown_fields' of service {kept} of {what} is a Thrift option: "
                "protobuf messages keep unknown fields anyway, so remove it"
            )
    touch_all = data.get("touch_all", True)
    if not isinstance(touch_all, bool):
        raise ProjectError(f"{path}: 'touch_all' of {what} must be true or false")
    name_case = data.get("name_case", "keep")
    if name_case not in NAME_CASES:
        raise ProjectError(f"{path}: 'name_case' of {what} must be keep or snake_case")
    namings = _strings(data.get("special_namings") or [], f"'special_namings' of {what}", path)
    return Entry(protocol, generated, services, repos, touch_all, name_case, namings)


def check_protocol(protocol: Protocol, services: list[Service], what: str, path: Path) -> None:
    """One protocol per entry, as in volo: an entry is one generated package, made
    by one protocol's generator."""
    for n, service in enumerate(services, 1):
        if protocol_of(service.idl.path) != protocol:
            raise ProjectError(
                f"{path}: {what} is a {protocol} entry, so service {n}'s IDL "
                f"{service.idl.path} must end in {PROTOCOLS[protocol]}: an entry generates "
                "one package with one protocol, so put it in an entry of its own"
            )


def _repos(data: object, what: str, path: Path) -> dict[str, Repo]:
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: 'repos' of {what} must be a mapping of names to repos")
    repos = {}
    for name, repo in data.items():
        where = f"repo {name!r} of {what}"
        if not isinstance(repo, dict):
            raise ProjectError(f"{path}: {where} must be a mapping with url, ref and lock")
        _known_keys(repo, {"url", "ref", "lock"}, path, where)
        values = [repo.get(key) for key in ("url", "ref", "lock")]
        if not all(isinstance(v, str) and v for v in values):
            raise ProjectError(f"{path}: {where} needs a url, a ref and a lock")
        url, ref, lock = (str(v) for v in values)
        if not _COMMIT.match(lock):
            raise ProjectError(
                f"{path}: the lock of {where} must be a full commit id (40 hex digits); "
                "`volo repo update` sets it"
            )
        repos[str(name)] = Repo(url, ref, lock)
    return repos


def _service(data: object, what: str, repos: dict[str, Repo], path: Path) -> Service:
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: {what} must be a mapping with an 'idl'")
    _known_keys(data, {"idl", "codegen_option"}, path, what)
    idl = data.get("idl")
    if not isinstance(idl, dict) or not isinstance(idl.get("path"), str) or not idl["path"]:
        raise ProjectError(f"{path}: {what} needs an 'idl' with a 'path'")
    _known_keys(idl, {"source", "repo", "path", "includes"}, path, f"the idl of {what}")
    source = idl.get("source", "local")
    repo = idl.get("repo")
    if source == "git":
        if not isinstance(repo, str) or repo not in repos:
            raise ProjectError(
                f"{path}: the idl of {what} is from git, so its 'repo' must name one of "
                "the entry's repos"
            )
    elif source == "local":
        if repo is not None:
            raise ProjectError(f"{path}: the idl of {what} is local, so it takes no 'repo'")
    else:
        raise ProjectError(f"{path}: 'source' of the idl of {what} must be local or git")
    includes = _strings(idl.get("includes") or [], f"'includes' of {what}", path)
    option = data.get("codegen_option") or {}
    if not isinstance(option, dict):
        raise ProjectError(f"{path}: 'codegen_option' of {what} must be a mapping")
    _known_keys(option, {"keep_unknown_fields", "touch"}, path, f"the codegen_option of {what}")
    keep = option.get("keep_unknown_fields", False)
    if not isinstance(keep, bool):
        raise ProjectError(f"{path}: 'keep_unknown_fields' of {what} must be true or false")
    touch = _strings(option.get("touch") or [], f"'touch' of {what}", path)
    return Service(Idl(idl["path"], includes, repo), keep, touch)


def _runtime(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The run-time sections, kept as written once the running project could read them."""
    sections = {key: data[key] for key in RUNTIME_SECTIONS if key in data}
    for section, values in sections.items():
        try:
            if values is not None:  # an empty section, as volo.settings reads it
                section_values(values, section, path)
        except ValueError as exc:
            raise ProjectError(str(exc)) from None
    return sections


def _strings(value: object, what: str, path: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(f"{path}: {what} must be a list of strings")
    return list(value)


def _known_keys(data: dict[Any, Any], known: set[str], path: Path, what: str) -> None:
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise ProjectError(
            f"{path}: {what} has the unknown key {unknown[0]!r} "
            f"(known: {', '.join(sorted(known))})"
        )


def _package(data: dict[str, Any], path: Path, required: bool) -> str | None:
    package = data.get("package")
    if package is None and not required:
        return None
    if not isinstance(package, str) or not ascii_identifier(package):
        raise ProjectError(f"{path}: 'package' must be a Python identifier, not {package!r}")
    return package


def _legacy(data: dict[str, Any], path: Path) -> Config:
    """The previous format: one list of local Thrift files, one generated package."""
    _known_keys(
        data, {"package", "generated", "idls", "options", *RUNTIME_SECTIONS}, path, "the top level"
    )
    package = _package(data, path, required=True)
    generated = data.get("generated")
    if not isinstance(generated, str) or not generated:
        raise ProjectError(f"{path}: 'generated' must be set to a non-empty string")
    idls = data.get("idls")
    if not isinstance(idls, list) or not idls:
        raise ProjectError(f"{path}: 'idls' must be a non-empty list of entries with a 'path'")
    services = []
    for number, entry in enumerate(idls, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ProjectError(f"{path}: entry {number} of 'idls' needs a 'path'")
        includes = _strings(entry.get("includes") or [], f"'includes' of entry {number}", path)
        services.append(Service(Idl(entry["path"], includes)))
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise ProjectError(f"{path}: 'options' must be a mapping")
    keep = options.get("keep_unknown_fields", False)
    if not isinstance(keep, bool):
        raise ProjectError(f"{path}: 'options.keep_unknown_fields' must be true or false")
    protocol: Protocol = protocol_of(services[0].idl.path) or "thrift"
    if {"thrift", "protobuf"} <= {protocol_of(s.idl.path) for s in services}:
        raise ProjectError(
            f"{path} lists .thrift and .proto files in 'idls', which make one package with one "
            "protocol: give each protocol an entry of its own in the current format (entries)"
        )
    check_protocol(protocol, services, "the 'idls' list", path)
    if protocol == "thrift":  # for .proto files it was ignored: messages keep them anyway
        for service in services:
            service.keep_unknown_fields = keep
    entries = {DEFAULT_ENTRY: Entry(protocol, generated, services)}
    config = Config(package, entries, legacy=True, runtime=_runtime(data, path))
    check_generated_folders(config, path)
    return config
