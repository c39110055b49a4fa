"""`make bench` on a fresh clone: what needs ../shared is skipped, and said so.

The benchmarks themselves are never run here (the machine is shared); only
the choice of inputs is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_parse_bench_skips_what_needs_the_shared_corpus_and_says_so(tmp_path: Path) -> None:
    clone = tmp_path / "volo-py"  # no ../shared beside it
    (clone / "bench").mkdir(parents=True)
    shutil.copy2(REPO / "bench" / "parse.py", clone / "bench" / "parse.py")
    done = subprocess.run(
        [sys.executable, "bench/parse.py", "--inputs"], cwd=clone, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    shared = tmp_path / "shared" / "corpus"
    missing = "is missing (the shared corpus sits beside the project)"
    assert done.stdout.splitlines() == [
        f"skipped ThriftTest.thrift (0.17): {shared}/thrift/apache-0.17/ThriftTest.thrift {missing}",
        f"skipped test_messages_proto3.proto: {shared}/proto/google/protobuf/test_messages_proto3.proto {missing}",
        f"skipped descriptor.proto: {shared}/proto/google/protobuf/descriptor.proto {missing}",
        "input generated, 500 lines",
        "input generated, 5000 lines",
        "input generated, 5,000 lines",
    ]


def test_http_bench_apps_answer_alike() -> None:
    """bench/http_bench.py --check: each framework's app (ours, Starlette, FastAPI) serves
    each route and answers as the others do; no load is made."""
    done = subprocess.run(
        [sys.executable, "bench/http_bench.py", "--check"], cwd=REPO, capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "ours (volo.http): every route answers as expected",
        "Starlette: every route answers as expected",
        "FastAPI: every route answers as expected",
    ]


def test_no_bench_script_hides_a_module_its_siblings_import() -> None:
    """A script run as `python bench/X.py` puts bench/ first on sys.path, so a
    file there named like a module (`http.py`, `grpc.py`) would be imported in
    its place by every other script."""
    names = sorted(p.stem for p in (REPO / "bench").glob("*.py"))
    probe = "import importlib.util, sys\nprint([n for n in sys.argv[1:] if importlib.util.find_spec(n)])"
    done = subprocess.run(
        [sys.executable, "-c", probe, *names], cwd="/", capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", names
