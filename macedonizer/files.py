"""Writing stage outputs so that a reader never sees a half-written folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def temporary_sibling(out: Path) -> Path:
    """A fresh, empty hidden folder next to ``out``, on the same file system."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def replace_folder(tmp: Path, out: Path) -> None:
    """Put the finished ``tmp`` in place of ``out`` with renames only."""
    backup = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(backup)
    tmp.rename(out)
    shutil.rmtree(backup, ignore_errors=True)
