"""Projects as volo-cli keeps them: volo.yml entries and their options, IDL from
git repositories locked by commit (real repositories, `file://` URLs), `volo gen
--check`, and the previous volo.yml format with `volo migrate`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.test_project import run, snapshot

ECHO_V1 = "struct Ping { 1: string text }\nservice Echo { Ping echo(1: Ping ping) }\n"
ECHO_V2 = (
    "struct Ping { 1: string text, 2: i32 count }\nservice Echo { Ping echo(1: Ping ping) }\n"
)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"},
    )  # fmt: skip
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class Central:
    """A central IDL repository: commit `first` (tagged v1, annotated), then `second`
    on main; `release` is both a branch and a tag there (an ambiguous ref)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        git(folder, "init", "-q", "-b", "main")
        self.first = commit(folder, {"api/echo.thrift": ECHO_V1}, "first")
        git(folder, "tag", "-a", "v1", "-m", "version 1")
        git(folder, "branch", "release")
        git(folder, "tag", "release")
        self.second = commit(folder, {"api/echo.thrift": ECHO_V2}, "second")
        self.url = folder.as_uri()


@pytest.fixture
def central(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Central:
    monkeypatch.setenv("VOLO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    return Central(tmp_path / "central")


def config() -> dict[str, object]:
    data = yaml.safe_load(Path("volo.yml").read_text())
    assert isinstance(data, dict)
    return data


def repos() -> dict[str, dict[str, str]]:
    return config()["entries"]["default"]["repos"]  # type: ignore[index,no-any-return]


# ---- git sources -------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["main", "v1", "first-commit", "first-abbreviated", None])
def test_init_from_git_locks_the_commit_the_ref_names(central: Central, ref: str | None) -> None:
    given = {"first-commit": central.first, "first-abbreviated": central.first[:9]}.get(
        ref or "", ref
    )
    expected = central.second if ref in ("main", None) else central.first
    args = ["init", "echo", "api/echo.thrift", "-g", central.url]
    code, _, err = run(*args, *(["-r", given] if given else []))
    assert (code, err) == (0, "")
    assert repos() == {
        "central": {"url": central.url, "ref": given or "HEAD", "lock": expected}
    }
    service = config()["entries"]["default"]["services"][0]  # type: ignore[index]
    assert service["idl"] == {
        "source": "git", "repo": "central", "path": "api/echo.thrift", "includes": []
    }
    generated = Path("echo/gen/echo.py").read_text()
    assert ("count" in generated) == (expected == central.second)
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")


def test_repo_update_moves_the_lock_and_regenerates(central: Central) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "main")[0] == 0
    third = commit(
        central.folder,
        {"api/echo.thrift": ECHO_V2.replace("2: i32 count", "2: i32 count, 3: bool loud")},
        "third",
    )
    assert "loud" not in Path("echo/gen/echo.py").read_text()
    assert run("gen", "--check")[0] == 0  # generation follows the lock, not the branch
    code, out, err = run("repo", "update")
    assert (code, err) == (0, "")
    assert out.startswith(f"repo 'central': {central.second[:12]} -> {third[:12]}\n")
    assert repos()["central"]["lock"] == third
    assert "loud" in Path("echo/gen/echo.py").read_text()
    assert run("gen", "--check")[0] == 0
    # nothing new: the lock stays
    assert run("repo", "update", "central")[1].startswith("repo 'central': unchanged\n")


def test_repo_update_to_broken_idl_changes_nothing(central: Central, tmp_path: Path) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url)[0] == 0
    commit(central.folder, {"api/echo.thrift": "struct Ping { 1: Missing text }\n"}, "broken")
    before = snapshot(tmp_path / "project")
    code, out, err = run("repo", "update")
    assert (code, out) == (1, "")
    assert "error: unknown type 'Missing'" in err
    assert err.endswith("1 error in the IDL; nothing was changed\n")
    assert snapshot(tmp_path / "project") == before
    assert repos()["central"]["lock"] == central.second


def test_gen_works_offline_from_the_cache(
    central: Central, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "v1")[0] == 0
    generated = Path("echo/gen/echo.py").read_text()
    central.folder.rename(tmp_path / "gone")  # the repository is unreachable now
    shutil.rmtree("echo/gen")
    assert run("gen") == (0, "generated echo/gen: 3 files, 3 rewritten\n", "")
    assert Path("echo/gen/echo.py").read_text() == generated
    assert run("gen", "--check")[0] == 0
    # without the cache, the unreachable repository is one sentence, and nothing changes
    monkeypatch.setenv("VOLO_CACHE_DIR", str(tmp_path / "empty-cache"))
    before = snapshot(Path.cwd())
    code, out, err = run("gen")
    assert (code, out) == (1, "")
    assert err.startswith(f"volo: cannot fetch commit {central.first} of {central.url}: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert snapshot(Path.cwd()) == before


def test_idl_add_from_a_known_repo_and_a_new_one(central: Central, tmp_path: Path) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url)[0] == 0
    commit(central.folder, {"api/extra.thrift": "struct Extra { 1: i32 x }\n"}, "extra")
    # a known repo by name: its lock does not move, so the new file is not there yet
    code, _, err = run("idl", "add", "api/extra.thrift", "--repo", "central")
    assert code == 1 and err == (
        "volo: IDL file api/extra.thrift of entry 'default' is not in repo 'central'\n"
    )
    assert run("repo", "update")[0] == 0
    assert run("idl", "add", "api/extra.thrift", "--repo", "central")[0] == 0
    assert Path("echo/gen/extra.py").is_file()
    # a second repository, named after its URL
    other = tmp_path / "shared-types"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    commit(other, {"types.thrift": "struct Shared { 1: i64 id }\n"}, "types")
    code, _, err = run("idl", "add", "/types.thrift", "-g", other.as_uri())
    assert (code, err) == (0, "")
    assert set(repos()) == {"central", "shared-types"}
    assert Path("echo/gen/types.py").is_file()


def _refusal_setup(central: Central) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "main")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["idl", "add", "api/echo.thrift", "--repo", "nope"],
         "volo: entry 'default' has no repo 'nope' (its repos: 'central'): give its URL with -g to add it\n"),
        (["repo", "update", "nope"], "volo: entry 'default' has no repo 'nope' (its repos: 'central')\n"),
        (["repo", "update", "-n", "other"], "volo: volo.yml has no entry 'other' (its entries: 'default')\n"),
        (["repo", "add", "-g", "{other}", "--repo", "central"],
         "volo: entry 'default' already has a repo 'central' ({url} at 'main'): choose another name with --repo\n"),
        (["idl", "add", "api/echo.thrift", "-g", "{other}", "--repo", "central"],
         "volo: repo 'central' of entry 'default' already has the URL {url}, not {other}: choose another name with --repo\n"),
        (["idl", "add", "api/echo.thrift", "-g", "{url}", "-r", "v1"],
         "volo: repo 'central' of entry 'default' already follows ref 'main', not 'v1': `volo repo update` moves its lock, or choose another name with --repo\n"),
        (["repo", "add", "-g", "{url}", "--repo", "again"],
         "volo: {url} is already repo 'central' of entry 'default': use --repo central\n"),
        (["repo", "add", "-g", "{copy}", "-r", "release"],
         "volo: ref 'release' of {copy} is ambiguous: it names refs/heads/release, refs/tags/release; give one of them in full with -r\n"),
        (["repo", "add", "-g", "{copy}", "-r", "nosuch"],
         "volo: ref 'nosuch' is not a branch, tag or commit of {copy}\n"),
        (["repo", "add", "-g", "{copy}", "-r", "abcdef12"],
         "volo: ref 'abcdef12' is not a branch, tag or commit of {copy}\n"),
        (["idl", "add", "api/echo.thrift", "-g", "{copy}", "-r", "0" * 40],
         "volo: ref '0000000000000000000000000000000000000000' is not a branch, tag or commit of {copy}\n"),
        (["repo", "add", "-g", "{other}"],
         "volo: cannot read the git repository {other}: '{other_path}' does not appear to be a git repository\n"),
        (["repo", "add", "--repo", "x"], "volo: `volo repo add` needs the repository's URL: -g URL\n"),
        (["idl", "add", "api/echo.thrift", "-r", "main"],
         "volo: -r/--ref names a ref of a git repository: give the URL with -g\n"),
    ],
)  # fmt: skip
def test_git_refusals_are_one_sentence_and_change_nothing(
    central: Central, tmp_path: Path, args: list[str], message: str
) -> None:
    _refusal_setup(central)
    other = tmp_path / "other"
    copy = tmp_path / "copy.git"  # the same history at another URL
    git(tmp_path, "clone", "-q", "--bare", str(central.folder), str(copy))
    values = {
        "url": central.url, "other": other.as_uri(), "other_path": str(other), "copy": copy.as_uri()
    }
    before = snapshot(tmp_path / "project")
    code, out, err = run(*(a.format(**values) for a in args))
    assert (code, out, err) == (1, "", message.format(**values))
    assert snapshot(tmp_path / "project") == before


def test_init_refuses_an_ambiguous_ref_and_writes_nothing(central: Central) -> None:
    code, out, err = run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "release")
    assert (code, out) == (1, "")
    assert err == (
        f"volo: ref 'release' of {central.url} is ambiguous: it names refs/heads/release, "
        "refs/tags/release; give one of them in full with -r\n"
    )
    assert list(Path.cwd().iterdir()) == []
    # in full, it is one ref
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "refs/tags/release")[0] == 0
    assert repos()["central"]["lock"] == central.first


# ---- entries and their options -----------------------------------------------------------

USERS = """\
namespace py users
struct User { 1: i64 userID, 2: string displayName, 3: i32 keepMe }
struct Touched { 1: i32 x }
struct Unused { 1: i32 y }
exception NotFound { 1: string what }
service Users { User getUser(1: i64 userID) throws (1: NotFound notFound) }
"""
AUDIT = "namespace py audit\nstruct Event { 1: string kind }\nservice Audit { void record(1: Event event) }\n"
GREETER = """\
syntax = "proto3";
package greet;
message HelloRequest { string userName = 1; }
message HelloReply { string message = 1; }
message Orphan { int32 n = 1; }
service Greeter { rpc SayHello(HelloRequest) returns (HelloReply); }
"""


def two_entry_project(root: Path) -> None:
    """A Thrift entry (two services, options set) and a protobuf entry, made by the CLI."""
    (root / "idl").mkdir()
    (root / "idl" / "users.thrift").write_text(USERS)
    (root / "idl" / "audit.thrift").write_text(AUDIT)
    (root / "idl" / "greeter.proto").write_text(GREETER)
    assert run("init", "users_svc", "idl/users.thrift")[0] == 0
    assert run("idl", "add", "idl/audit.thrift")[0] == 0
    code, out, err = run("idl", "add", "idl/greeter.proto", "-n", "grpc", "--generated", "users_svc/pb")
    assert (code, err) == (0, "")
    assert out == (
        "added idl/greeter.proto to entry 'grpc' of volo.yml\n"
        "generated users_svc/pb: 4 files, 4 rewritten\n"
    )
    data = config()
    default = data["entries"]["default"]  # type: ignore[index]
    default["touch_all"] = False
    default["name_case"] = "snake_case"
    default["special_namings"] = ["keepMe"]
    default["services"][0]["codegen_option"] = {"keep_unknown_fields": True, "touch": ["Touched"]}
    data["entries"]["grpc"]["name_case"] = "snake_case"  # type: ignore[index]
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_two_entries_generate_each_with_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    assert run("gen", "--check")[0] == 1  # the options changed what is generated
    code, out, _ = run("gen")  # (a warning names the handler's renamed method: see below)
    assert code == 0
    assert out.splitlines() == [
        "generated users_svc/gen: 4 files, 1 rewritten",  # users.py (audit.py has no change)
        "generated users_svc/pb: 4 files, 1 rewritten",
    ]
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
    users = Path("users_svc/gen/users.py").read_text()
    # touch_all: false: what the service uses, and what `touch` names; not Unused
    assert "class User(" in users and "class NotFound(" in users and "class Touched(" in users
    assert "Unused" not in users
    # snake_case, but for the special naming; the wire keeps the IDL's names
    assert "def get_user(self, user_id: int) -> User:" in users
    assert "display_name: str" in users and "keepMe: int" in users and "keep_me" not in users
    assert "_p.FieldSpec(2, 'display_name', _p.STRING, _p.DEFAULT, None, None, 'displayName')" in users
    assert '"getUser": _p.service.Method("get_user"' in users
    # keep_unknown_fields for the first service's file only
    assert '"_unknown_fields"' in users
    audit = Path("users_svc/gen/audit.py").read_text()
    assert "_unknown_fields" not in audit and "def record(self, event: Event | None) -> None:" in audit
    greeter = Path("users_svc/pb/greet/greeter.py").read_text()
    assert "def say_hello(" in greeter and '"/greet.Greeter/SayHello"' in greeter
    assert "class Orphan(" in greeter  # touch_all (the default) keeps everything
    # the classes work, names and all: JSON keeps the IDL's field name
    script = textwrap.dedent("""
        from users_svc.gen import users
        from users_svc.pb.greet import greeter as greet
        user = users.User(user_id=7, display_name="Ada", keepMe=1)
        assert users.User.from_bytes(user.to_bytes()) == user
        request = greet.HelloRequest(user_name="Ada")
        assert greet.HelloRequest.from_bytes(request.to_bytes()) == request
        print(request.to_json())
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.replace(" ", "").strip() == '{"userName":"Ada"}'
    # and ruff, with the rules generated code is held to (tests/test_typecheck_generated.py),
    # finds nothing in either package
    linted = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select",
         "E4,E7,E9,F,W", "users_svc/gen", "users_svc/pb"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout
    # touch_all: false in the protobuf entry: what Greeter uses, and a full name touched
    data = config()
    data["entries"]["grpc"]["touch_all"] = False  # type: ignore[index]
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert run("gen")[0] == 0
    greeter = Path("users_svc/pb/greet/greeter.py").read_text()
    assert "class HelloRequest(" in greeter and "class HelloReply(" in greeter
    assert "class Orphan(" not in greeter
    data["entries"]["grpc"]["services"][0]["codegen_option"] = {"touch": ["greet.Orphan"]}  # type: ignore[index]
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert run("gen")[0] == 0
    assert "class Orphan(" in Path("users_svc/pb/greet/greeter.py").read_text()


def test_code_generated_with_entry_options_passes_the_type_checkers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """snake_case names, special namings, kept unknown fields, and definitions left out
    (touch_all: false in both entries): mypy --strict and pyright's strict mode."""
    import json

    from tests.conftest import REPO

    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    data = config()
    data["entries"]["grpc"]["touch_all"] = False  # type: ignore[index]
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert run("gen")[0] == 0
    assert "class Orphan(" not in Path("users_svc/pb/greet/greeter.py").read_text()
    packages = ["users_svc/gen", "users_svc/pb"]
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *packages],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout
    pyright = Path(sys.executable).with_name("pyright")
    if not pyright.exists():
        if os.environ.get("CI"):
            pytest.fail("pyright is not installed (it is a test dependency)")
        pytest.skip("pyright is not installed")
    settings = {"typeCheckingMode": "strict", "extraPaths": [str(REPO)], "pythonVersion": "3.11"}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(settings))
    checked = subprocess.run(
        [pyright, *packages], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0 and "0 errors" in checked.stdout, checked.stdout


def test_handler_methods_follow_the_name_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    code, _, err = run("gen")
    assert code == 0
    # the handler `volo init` wrote has getUser; snake_case makes it get_user
    assert "users_svc/handler.py: class Handler lacks Users's method get_user; add:" in err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["entries"]["default"].update(colour="red"),
         "volo: {root}/volo.yml: entry 'default' has the unknown key 'colour' (known: generated, name_case, protocol, repos, services, special_namings, touch_all)\n"),
        (lambda d: d["entries"]["default"]["services"].append({"idl": {"path": "idl/greeter.proto"}}),
         "volo: {root}/volo.yml: entry 'default' is a thrift entry, so service 3's IDL idl/greeter.proto must end in .thrift: an entry generates one package with one protocol, so put it in an entry of its own\n"),
        (lambda d: d["entries"]["grpc"].update(generated="users_svc/gen/pb"),
         "volo: {root}/volo.yml: entries 'default' and 'grpc' generate into the same folder (users_svc/gen and users_svc/gen/pb); give each its own\n"),
        (lambda d: d["entries"]["default"].update(name_case="camel"),
         "volo: {root}/volo.yml: 'name_case' of entry 'default' must be keep or snake_case\n"),
        (lambda d: d["entries"]["default"]["services"][0].update(codegen_option={"touch": ["Nowhere"]}),
         "volo: volo.yml: 'touch' of service 1 of entry 'default' names 'Nowhere', which its IDL does not define\n"),
        (lambda d: d["entries"]["default"].update(repos={"c": {"url": "file:///x", "ref": "main", "lock": "abc"}}),
         "volo: {root}/volo.yml: the lock of repo 'c' of entry 'default' must be a full commit id (40 hex digits); `volo repo update` sets it\n"),
        (lambda d: d["entries"]["default"]["services"][0]["idl"].update(source="git", repo="c"),
         "volo: {root}/volo.yml: the idl of service 1 of entry 'default' is from git, so its 'repo' must name one of the entry's repos\n"),
    ],
)  # fmt: skip
def test_config_errors_are_one_sentence_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    data = config()
    edit(data)  # type: ignore[operator]
    Path("volo.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    before = snapshot(tmp_path)
    for args in (["gen"], ["gen", "--check"]):
        assert run(*args) == (1, "", message.format(root=tmp_path))
    assert snapshot(tmp_path) == before


def test_idl_add_refuses_another_protocol_in_an_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    before = snapshot(tmp_path)
    assert run("idl", "add", "idl/audit.thrift", "-n", "grpc") == (
        1, "",
        "volo: entry 'grpc' is a protobuf entry and idl/audit.thrift is thrift: an entry "
        "generates one package with one protocol, so add it to another entry with -n\n",
    )  # fmt: skip
    assert snapshot(tmp_path) == before


# ---- volo gen --check --------------------------------------------------------------------


def test_gen_check_names_stale_files_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("echo.thrift").write_text(ECHO_V1)
    assert run("init", "echo", "echo.thrift")[0] == 0
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
    Path("echo.thrift").write_text(ECHO_V2)
    before = snapshot(tmp_path)
    assert run("gen", "--check") == (
        1, "", "volo: 1 generated file out of date (run `volo gen`): echo/gen/echo.py\n"
    )
    assert snapshot(tmp_path) == before
    Path("echo/gen/py.typed").unlink()
    assert run("gen", "--check")[2].endswith(": echo/gen/echo.py, echo/gen/py.typed\n")
    assert run("gen")[0] == 0
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")


# ---- the previous format, and volo migrate -----------------------------------------------

LEGACY = """\
# volo.yml: what `volo gen` generates from which IDL, and where.
# Paths are relative to this file.
package: echo
generated: echo/gen
idls:
- path: idl/echo.thrift
  includes:
  - idl
options:
  keep_unknown_fields: true
"""


def legacy_project(root: Path) -> None:
    (root / "idl").mkdir()
    (root / "idl" / "echo.thrift").write_text(ECHO_V1)
    (root / "volo.yml").write_text(LEGACY)


def test_a_legacy_volo_yml_keeps_working_and_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    legacy_project(tmp_path)
    assert run("gen") == (0, "generated echo/gen: 3 files, 3 rewritten\n", "")
    assert '"_unknown_fields"' in Path("echo/gen/echo.py").read_text()
    assert run("gen", "--check")[0] == 0
    # commands that rewrite volo.yml ask for the migration first
    before = snapshot(tmp_path)
    assert run("idl", "add", "idl/echo.thrift") == (
        1, "",
        f"volo: {tmp_path / 'volo.yml'} is in the previous format: run `volo migrate` first "
        "(it keeps a backup), then run this command again\n",
    )  # fmt: skip
    assert snapshot(tmp_path) == before
    assert run("migrate") == (0, "migrated volo.yml (the original is in volo.yml.bak)\n", "")
    assert Path("volo.yml.bak").read_text() == LEGACY
    entry = config()["entries"]["default"]  # type: ignore[index]
    assert entry["protocol"] == "thrift" and entry["generated"] == "echo/gen"
    assert entry["services"] == [
        {"idl": {"source": "local", "path": "idl/echo.thrift", "includes": ["idl"]},
         "codegen_option": {"keep_unknown_fields": True}}
    ]  # fmt: skip
    assert run("gen", "--check") == (0, "generated code is up to date\n", "")
    before = snapshot(tmp_path)
    assert run("migrate") == (
        1, "", f"volo: {tmp_path / 'volo.yml'} is already in the current format: nothing to migrate\n"
    )
    assert snapshot(tmp_path) == before


def test_migrate_keeps_an_existing_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    legacy_project(tmp_path)
    Path("volo.yml.bak").write_text("mine\n")
    before = snapshot(tmp_path)
    assert run("migrate") == (
        1, "", f"volo: {tmp_path / 'volo.yml.bak'} exists: move it away first, so no backup is lost\n"
    )
    assert snapshot(tmp_path) == before


def test_a_failed_migration_puts_the_original_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the new volo.yml is written (here: generating from it) restores
    the original and removes the backup."""
    from volo_cli import project

    monkeypatch.chdir(tmp_path)
    legacy_project(tmp_path)
    real = project.generate_all
    calls: list[int] = []

    def second_call_fails(*args: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            assert "entries:" in Path("volo.yml").read_text()  # the new file is in place
            raise OSError(28, "No space left on device", "echo/gen")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(project, "generate_all", second_call_fails)
    before = snapshot(tmp_path)
    assert run("migrate") == (
        1, "", "volo: cannot write 'echo/gen': No space left on device; nothing was changed\n"
    )
    assert len(calls) == 2
    assert Path("volo.yml").read_text() == LEGACY
    assert {k for k in snapshot(tmp_path)} == set(before)


# ---- volo idl package --------------------------------------------------------------------


def test_idl_package_installs_with_pip_in_a_fresh_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_packaging import build_wheel, wheel_environment

    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    code, out, err = run("idl", "package", "--name", "users-idl", "--version", "1.2.0")
    assert (code, err) == (0, "")
    assert out == "wrote dist/users-idl: import users_idl; install it with pip install dist/users-idl\n"
    pyproject = Path("dist/users-idl/pyproject.toml").read_text()
    assert 'name = "users-idl"' in pyproject and 'version = "1.2.0"' in pyproject
    assert 'dependencies = ["volo-py>=' in pyproject
    code, out, err = run("idl", "package", "-n", "grpc", "--name", "greet-idl")
    assert (code, err) == (0, "")
    # a fresh virtual environment: our runtime from its wheel, then both IDL packages
    env = wheel_environment(build_wheel(tmp_path / "runtime"), tmp_path / "env")
    python = env / "bin" / "python"
    # Offline, the build runs without isolation, on this environment's setuptools (which
    # builds wheels itself, as the `setuptools>=61` pip would fetch does): the venv's own
    # older copy, which needs the `wheel` package, goes.
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=True)
    for folder in ("dist/users-idl", "dist/greet-idl"):
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", folder],
            cwd=tmp_path, check=True, capture_output=True,
        )  # fmt: skip
    script = textwrap.dedent("""
        import users_idl.users as users
        from users_idl import audit
        from greet_idl.greet import greeter
        assert "site-packages" in users.__file__, users.__file__
        user = users.User(user_id=7, display_name="Ada", keepMe=1)
        data = user.to_bytes()
        assert users.User.from_bytes(data) == user
        assert audit.Event.from_bytes(audit.Event(kind="x").to_bytes()).kind == "x"
        reply = greeter.HelloReply(message="hi")
        assert greeter.HelloReply.from_bytes(reply.to_bytes()) == reply
        print(data.hex())
    """)
    elsewhere = tmp_path / "elsewhere"  # not the project, whose packages would shadow them
    elsewhere.mkdir()
    done = subprocess.run(
        [python, "-I", "-c", script], cwd=elsewhere, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # i64 field 1 = 7, string field 2 = "Ada", i32 field 3 = 1, stop
    assert done.stdout.strip() == "0a00010000000000000007" "0b000200000003416461" "080003" "00000001" "00"
    shown = subprocess.run(
        [python, "-m", "pip", "show", "users-idl"], capture_output=True, text=True, check=True
    ).stdout
    assert "Version: 1.2.0" in shown and "Requires: volo-py" in shown


def test_idl_package_refusals_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    two_entry_project(tmp_path)
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("keep\n")
    before = snapshot(tmp_path)
    cases = {
        ("-o", "mine"): "volo: mine exists and `volo idl package` did not write it: choose another folder with -o, or move it away\n",
        ("--version", "one"): "volo: version 'one' must be a version like 1.0 or 2.1.0rc1\n",
        ("--name", "-bad"): "volo: package name '-bad' must be letters, digits, '.', '_' or '-', starting and ending with a letter or digit\n",
        ("-n", "nope"): "volo: volo.yml has no entry 'nope' (its entries: 'default', 'grpc')\n",
    }  # fmt: skip
    for args, message in cases.items():
        assert run("idl", "package", *args) == (1, "", message)
    assert snapshot(tmp_path) == before
    # a folder an earlier run wrote is replaced whole
    assert run("idl", "package", "-o", "out")[0] == 0
    Path("out/stray.txt").write_text("old\n")
    assert run("idl", "package", "-o", "out")[0] == 0
    assert not Path("out/stray.txt").exists() and Path("out/users_svc_default_idl/users.py").is_file()


def test_idl_diff_locked_shows_what_repo_update_would_bring(central: Central) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "main")[0] == 0
    assert run("idl", "diff", "--locked") == (0, "no findings at level wire\n", "")
    changed = ECHO_V2.replace("2: i32 count", "2: string count")
    breaking = commit(central.folder, {"api/echo.thrift": changed}, "count becomes a string")
    before = snapshot(Path.cwd())
    code, out, err = run("idl", "diff", "--locked")
    assert (code, err) == (1, "")
    assert f"central@main:{breaking[:12]}:api/echo.thrift:1:" in out
    assert out.endswith("1 finding at level wire\n")
    assert snapshot(Path.cwd()) == before  # it only reads (the cache aside)
    assert run("repo", "update")[0] == 0
    assert run("idl", "diff", "--locked") == (0, "no findings at level wire\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--locked", "api/echo.thrift"], "--locked compares the project's git IDL: give no paths and no --against"),
        (["--locked", "--repo", "elsewhere"], "entry 'default' has no repo 'elsewhere' (its repos: 'central')"),
        (["--locked", "-n", "other"], "volo.yml has no entry 'other' (its entries: 'default')"),
        (["a.thrift", "b.thrift", "--repo", "central"], "--repo goes with --locked"),
    ],
)  # fmt: skip
def test_idl_diff_locked_refusals(central: Central, args: list[str], message: str) -> None:
    assert run("init", "echo", "api/echo.thrift", "-g", central.url, "-r", "main")[0] == 0
    assert run("idl", "diff", *args) == (2, "", f"volo: {message}\n")


def test_idl_diff_locked_needs_git_idl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("echo.thrift").write_text(ECHO_V1)
    assert run("init", "echo", "echo.thrift")[0] == 0
    message = "entry 'default' takes no IDL from git: --locked compares a repo's lock with what its ref names now"
    assert run("idl", "diff", "--locked") == (2, "", f"volo: {message}\n")
