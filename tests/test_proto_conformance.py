"""Google's protobuf conformance suite against tests/conformance/testee.py (our
generated classes), through the kit in ../shared/tools/protobuf-conformance.

With `--maximum_edition 2023` the suite has 5567 binary and JSON tests. Google's
own Python (upb) passes 5559 of them and fails 8 Recommended ones (two names for
one field, `FieldNameDuplicateDifferentCasing*`), which the runner only warns
about. Ours must pass every one of the 5567 (no failure, no warning, no failure
list), and skip only the 883 text-format tests, with the pure-Python codec and
with the compiled one when it is built.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, need_shared
from tests.proto_support import proto_codecs

TESTEE = REPO / "tests" / "conformance" / "testee.py"
BINARY_AND_JSON_TESTS = 5567
TEXT_FORMAT_TESTS = 883  # skipped: text format is not supported


def run_suite(kit: Path, pure: bool) -> str:
    env = {**os.environ, "PB_CONFORMANCE_FLAGS": "--maximum_edition 2023"}
    env.pop("PILOTA_PURE_PYTHON", None)
    if pure:
        env["PILOTA_PURE_PYTHON"] = "1"
    result = subprocess.run(
        [str(kit / "run.sh"), sys.executable, str(TESTEE)],
        env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    "pure",
    [True, *([False] if len(proto_codecs()) > 1 else [])],
    ids=lambda pure: "pure" if pure else "compiled",
)
def test_conformance(pure: bool) -> None:
    kit = need_shared("tools", "protobuf-conformance")
    output = run_suite(kit, pure)
    summary = re.search(r"^conformance: (\d+) passed, (\d+) failed$", output, re.MULTILINE)
    assert summary is not None, output[-3000:]
    passed, failed = int(summary.group(1)), int(summary.group(2))
    failures = re.findall(r"^ERROR, test=(\S+)", output, re.MULTILINE)
    assert failed == 0, failures[:50]
    warnings = re.findall(r"^WARNING, test=(\S+)", output, re.MULTILINE)
    assert warnings == []
    assert passed == BINARY_AND_JSON_TESTS, output[-3000:]
    skipped = re.search(r"^conformance: (\d+) skipped$", output, re.MULTILINE)
    assert skipped is not None and int(skipped.group(1)) == TEXT_FORMAT_TESTS, output[-3000:]
    assert "expected failures" not in output or re.search(
        r"^conformance: 0 expected failures", output, re.MULTILINE
    )
