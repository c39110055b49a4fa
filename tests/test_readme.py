"""What the README tells a user to type, checked where it can be without running it."""

from __future__ import annotations

import re

from tests.conftest import REPO

# A volo-py checkout installed editable: `-e 'path/to/volo-py[grpc]'`, `-e ".[http]"`.
_EDITABLE_VOLO = re.compile(r"""-e\s+['"]?(?:path/to/volo-py|\.\[)""")


def test_editable_installs_of_volo_py_keep_make_s_mode() -> None:
    """An extra added to the `.venv` of `make demo` as the README says keeps setuptools'
    "compat" editable mode: a plain `pip install -e` replaces it with an import hook,
    after which mypy cannot find `volo` in the user's project (it did, for the gRPC
    section's `pip install -e 'path/to/volo-py[grpc,proto]'`)."""
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    commands = [c for c in re.findall(r"`(pip install [^`]*)`", text) if _EDITABLE_VOLO.search(c)]
    assert len(commands) >= 3, commands  # the gRPC, HTTP and bench sections
    plain = [c for c in commands if "--config-settings editable_mode=compat" not in c]
    assert not plain, plain
