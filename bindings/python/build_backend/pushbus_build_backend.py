"""PEP 517 backend: maturin (``bindings = "cffi"``) with a cffi-clean header.

maturin's cffi mode feeds a C header to ``cffi.FFI.cdef``. When the crate's
cargo target directory holds a ``header.h``, maturin uses it; otherwise it
runs cbindgen itself, and cbindgen's output for this crate (a C23-guarded
enum base, ``UINT64_MAX``) is C that cffi's parser refuses. So before
delegating every hook to maturin, this backend writes ``header.h`` there,
made from the committed C ABI manual ``include/pushbus.h`` by
``pushbus_cdef.cdef_from_header``, and removes it afterwards.

The result is still maturin's: one ``py3-none-<platform>`` wheel holding
the cdylib and an ABI-mode cffi loader (no compiler at install time).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import maturin  # type: ignore[import-untyped]
from maturin import (  # re-exported hooks that need no header
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pushbus_cdef import cdef_from_header  # noqa: E402

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

_HERE = Path(__file__).resolve().parent.parent  # bindings/python


def _manifest() -> Path:
    """The crate's Cargo.toml, as [tool.maturin] manifest-path names it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # maturin itself requires tomli before 3.11
    with open(_HERE / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
    relative = str(config.get("tool", {}).get("maturin", {}).get("manifest-path", "Cargo.toml"))
    return (_HERE / relative).resolve()


def _target_dir(manifest: Path) -> Path:
    """Where cargo (and so maturin) puts build outputs for this crate."""
    cargo = os.environ.get("CARGO", "cargo")
    output = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps", "--manifest-path", str(manifest)],
        check=True,
        capture_output=True,
    ).stdout
    return Path(json.loads(output)["target_directory"])


@contextlib.contextmanager
def _cffi_header() -> Iterator[None]:
    manifest = _manifest()
    header = manifest.parent / "include" / "pushbus.h"
    target = _target_dir(manifest)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "header.h"
    path.write_text(cdef_from_header(header.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    with _cffi_header():
        return str(maturin.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    with _cffi_header():
        return str(maturin.build_editable(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    return str(maturin.build_sdist(sdist_directory, config_settings))

