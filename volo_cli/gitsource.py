"""IDL from git repositories, pinned by commit, through the system `git`.

A ref (branch, tag, `HEAD`, or a commit id) resolves to a commit, which
volo.yml keeps as the repo's `lock`. Generation reads the IDL at the locked
commit from a local cache, so it works offline once the commit is there:

    $VOLO_CACHE_DIR (else $XDG_CACHE_HOME/volo, else ~/.cache/volo)
      git/<name>-<hash>/            a bare repository per URL: the fetched commits
      trees/<name>-<hash>/<commit>/ the files at a commit, as generation reads them

Nothing under the cache is ever edited in place: a tree is extracted beside
its final name and renamed into place whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from volo_cli.config import ProjectError

CACHE_ENV = "VOLO_CACHE_DIR"
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")


def cache_root() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "volo"


def repo_name(url: str) -> str:
    """The name a repo gets when none is given: the last part of its URL (volo's rule)."""
    tail = url.rstrip("/").removesuffix(".git").rstrip("/")
    return re.split(r"[/:]", tail)[-1] or "repo"


def resolve(url: str, ref: str) -> str:
    """The commit `ref` names in the repository at `url` (fetched into the cache)."""
    listed = _git("ls-remote", url, what=f"read the git repository {url}")
    refs: dict[str, str] = {}  # full ref name -> commit (annotated tags peeled)
    for line in listed.splitlines():
        commit, _, name = line.partition("\t")
        peeled = name.endswith("^{}")
        name = name.removesuffix("^{}")
        if peeled or name not in refs:
            refs[name] = commit
    matches = sorted(n for n in refs if n == ref or n.endswith("/" + ref))
    if len(matches) > 1:
        raise ProjectError(
            f"ref {ref!r} of {url} is ambiguous: it names {', '.join(matches)}; "
            "give one of them in full with -r"
        )
    if matches:
        commit = refs[matches[0]]
        ensure_commit(url, commit)
        return commit
    if _HEX.match(ref):
        found = _find_commit(url, ref)
        if found is not None:
            return found
    raise ProjectError(f"ref {ref!r} is not a branch, tag or commit of {url}")


def ensure_commit(url: str, commit: str) -> None:
    """The commit is in the cache's copy of `url`, fetched if it is not."""
    bare = _bare(url)
    if _has_commit(bare, commit):
        return
    try:
        _git("fetch", "--quiet", url, commit, cwd=bare, what=f"fetch commit {commit} of {url}")
    except ProjectError:
        # a server that serves no commit by id: its branches and tags may hold it
        if not _fetch_refs(url, bare):
            raise
    if not _has_commit(bare, commit):
        raise ProjectError(f"commit {commit} is not in {url}")


def tree(url: str, commit: str) -> Path:
    """The files of `url` at `commit`; read from the cache when it has them (no git run)."""
    slot = cache_root() / "trees" / _slug(url)
    target = slot / commit
    if target.is_dir():
        return target
    ensure_commit(url, commit)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit],
        cwd=_bare(url), capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        raise ProjectError(f"cannot read commit {commit} of {url}: {_reason(archive.stderr)}")
    slot.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=slot))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout), mode="r:") as tar:
            tar.extractall(staging, filter="data")
        os.replace(staging, target)
    except OSError:
        if not target.is_dir():  # unless another run put it there first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _find_commit(url: str, abbreviated: str) -> str | None:
    """The commit a (possibly abbreviated) id names, once the repository's branches
    and tags are fetched; a full id that no ref reaches is fetched on its own."""
    bare = _bare(url)
    if not _fetch_refs(url, bare):
        raise ProjectError(f"cannot fetch the branches and tags of {url}")
    if len(abbreviated) == 40 and not _has_commit(bare, abbreviated):
        fetched = subprocess.run(
            ["git", "fetch", "--quiet", url, abbreviated], cwd=bare, capture_output=True,
            check=False,
        )  # fmt: skip
        if fetched.returncode != 0:
            return None
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{abbreviated}^{{commit}}"],
        cwd=bare, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return found.stdout.strip() if found.returncode == 0 else None


def _fetch_refs(url: str, bare: Path) -> bool:
    """Fetches every branch and tag of `url` into the cache; whether that worked."""
    fetched = subprocess.run(
        ["git", "fetch", "--quiet", url, "+refs/heads/*:refs/volo/heads/*",
         "+refs/tags/*:refs/volo/tags/*"],
        cwd=bare, capture_output=True, check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )  # fmt: skip
    return fetched.returncode == 0


def _bare(url: str) -> Path:
    bare = cache_root() / "git" / _slug(url)
    if not (bare / "HEAD").is_file():
        bare.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".init-", dir=bare.parent))
        try:
            _git("init", "--quiet", "--bare", str(staging), what="make the git cache")
            os.replace(staging, bare)
        except OSError:
            if not (bare / "HEAD").is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return bare


def _has_commit(bare: Path, commit: str) -> bool:
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=bare, capture_output=True,
        check=False,
    )  # fmt: skip
    return found.returncode == 0


def _slug(url: str) -> str:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', repo_name(url))}-{digest}"


def _git(*args: str, what: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail rather than ask for a password
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
        )
    except FileNotFoundError:
        raise ProjectError(f"cannot {what}: the `git` command is not installed") from None
    if done.returncode != 0:
        raise ProjectError(f"cannot {what}: {_reason(done.stderr)}")
    return done.stdout


def _reason(stderr: str | bytes) -> str:
    """git's own reason: its first `fatal:` or `error:` line (advice follows it)."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
    reason = first or (lines[-1] if lines else "git failed")
    return reason.removeprefix("fatal: ").removeprefix("error: ").rstrip(".")
