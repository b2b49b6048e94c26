"""Writing stage outputs so that a reader never sees a half-written folder."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MacedonizerError


def temporary_sibling(out: Path) -> Path:
    """A fresh, empty hidden folder next to ``out``, on the same file system."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def refuse_non_empty(out: Path, overwrite: bool) -> None:
    """A user error when ``out`` holds anything and ``overwrite`` is not given."""
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --overwrite to replace it).")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary sibling to write into: put in place of ``out`` when the block ends, removed if it fails."""
    tmp = temporary_sibling(out)
    try:
        yield tmp
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(tmp: Path, out: Path) -> None:
    """Put the finished ``tmp`` in place of ``out`` with renames only."""
    backup = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(backup)
    tmp.rename(out)
    shutil.rmtree(backup, ignore_errors=True)


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    """``data`` as indented UTF-8 JSON (non-ASCII letters kept as they are)."""
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (metrics.jsonl, diagnostics.jsonl), blank lines skipped."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary sibling and a rename, so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
