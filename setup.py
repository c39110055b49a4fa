"""Build script: pure-Python packages plus the optional Cython extensions.

`grammars/` and `templates/` live at the top of the repository but install as
`pilota.grammars` and `pilota.templates`, so the installed package is
self-contained. Every `.pyx` module under `pilota/` and `volo/` is compiled
when Cython and a C compiler are available; each codec has a pure-Python twin
that is used when the extension is missing, so a failed compile only warns
(`pilota.runtime._buffer` holds what the compiled codecs share, and only they
use it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent


def cython_extensions() -> list[Extension]:
    if os.environ.get("PILOTA_NO_EXTENSIONS"):
        return []
    sources = sorted(
        p.relative_to(ROOT) for pkg in ("pilota", "volo") for p in (ROOT / pkg).rglob("*.pyx")
    )
    if not sources:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython is not installed; using the pure-Python fallbacks", file=sys.stderr)
        return []
    extensions = [
        Extension(".".join(src.with_suffix("").parts), [str(src)]) for src in sources
    ]
    return list(
        cythonize(extensions, language_level=3, compiler_directives={"binding": False})
    )


class OptionalBuildExt(build_ext):
    """Compile what can be compiled; the fallbacks cover the rest."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # compiler missing or failing: keep the install working
            if os.environ.get("PILOTA_REQUIRE_EXTENSIONS"):
                raise
            print(f"warning: could not build {ext.name} ({exc}); using its fallback", file=sys.stderr)


# templates/project, templates/python, ...: folders of templates, installed as packages
TEMPLATE_PACKAGES = [
    f"pilota.templates.{folder.name}"
    for folder in sorted((ROOT / "templates").iterdir())
    if any(folder.glob("*.jinja"))
]

setup(
    # Every package under the three roots, found rather than listed (a listed
    # one can be forgotten), and the two data folders with their subfolders.
    packages=[
        *find_packages(include=["pilota", "pilota.*", "volo", "volo.*", "volo_cli", "volo_cli.*"]),
        "pilota.grammars",
        "pilota.templates",
        *TEMPLATE_PACKAGES,
    ],
    package_dir={
        "pilota.grammars": "grammars",
        "pilota.templates": "templates",
    },
    package_data={
        "pilota": ["py.typed"],
        "pilota.grammars": ["*.lark"],
        **{package: ["*.jinja"] for package in TEMPLATE_PACKAGES},
        "volo": ["py.typed"],
        "volo_cli": ["py.typed"],
    },
    ext_modules=cython_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    zip_safe=False,
)
