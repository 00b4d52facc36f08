"""Build: the hot modules of analyzer/compiled.py compiled by mypyc with the machine's C compiler,
or, without one (or without mypyc), pure Python with one warning line. Everything else about the
package is in pyproject.toml.

    python3 -m pip install .                    # compiled when a C compiler works
    SOCKETSCOPE_PURE=1 python3 -m pip install .  # pure Python on purpose
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _warn(why: str) -> None:
    print(
        f"WARNING: socketscope: {why}: installing pure Python (slower; `socketscope --version` says "
        "which build runs)",
        file=sys.stderr,
        flush=True,
    )


class OptionalMypycBuild(build_ext):
    """mypycify() runs when build_ext is set up, not when setup.py is loaded: pip loads setup.py
    several times (metadata, wheel), and the type check behind it takes a while. Any failure, from
    mypyc or from the C compiler, leaves no compiled file behind and installs the pure modules."""

    def finalize_options(self) -> None:
        self.distribution.ext_modules = self._mypyc_extensions()
        super().finalize_options()  # prepares the extensions it is given (names, file names)

    def _mypyc_extensions(self) -> list[Any]:
        if os.environ.get("SOCKETSCOPE_PURE"):
            return []
        try:
            from mypyc.build import mypycify

            modules = runpy.run_path(str(HERE / "analyzer" / "compiled.py"))["COMPILED"]
            paths = [str(Path(*m.split("."))) + ".py" for m in modules]
            # the dependencies without types (msgpack, scapy...) are Any, as in the project's
            # own mypy run
            args = ["--config-file", str(HERE / "pyproject.toml"), "--ignore-missing-imports", *paths]
            return list(mypycify(args, opt_level="3", debug_level="0"))
        except BaseException as exc:  # mypy reports type errors with SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            _warn(f"mypyc could not compile the core ({type(exc).__name__}: {str(exc)[:120]})")
            return []

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, or it failed: CompileError, LinkError, ...
            self._remove_outputs()
            _warn(f"no C compiler could build the compiled core ({type(exc).__name__}: {str(exc)[:120]})")

    def _remove_outputs(self) -> None:
        for ext in self.extensions:
            path = Path(self.get_ext_fullpath(ext.name))
            if path.exists():
                path.unlink()
        self.extensions = []

    def get_outputs(self) -> list[str]:
        return [p for p in super().get_outputs() if Path(p).exists()]


# a placeholder so that setuptools runs build_ext (and tags the wheel for this platform);
# OptionalMypycBuild replaces it with the real extensions when build_ext is set up
_PLACEHOLDER: list[Any] = [Extension("analyzer._mypyc_placeholder", sources=[])]

setup(ext_modules=_PLACEHOLDER, cmdclass={"build_ext": OptionalMypycBuild})
