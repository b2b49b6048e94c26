"""The output of ``clean``: gzip'd JSON-lines shards, per-shard report names, and moving a finished run into place."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

from ..files import replace_folder
from .config import RunOptions


class ShardWriter:
    """gzip'd JSON lines, a new file every ``per_shard`` records."""

    def __init__(self, folder: Path, prefix: str, per_shard: int):
        self.folder, self.prefix, self.per_shard = folder, prefix, per_shard
        self.paths: list[Path] = []
        self._file = None
        self._count = 0

    def write_line(self, line: str) -> None:
        if self._file is None or self._count >= self.per_shard:
            self.close()
            path = self.folder / f"{self.prefix}-{len(self.paths):05d}.jsonl.gz"
            self.paths.append(path)
            # mtime 0: the same documents give the same bytes (gzip stores the time of writing otherwise)
            self._file = io.TextIOWrapper(gzip.GzipFile(path, "wb", compresslevel=5, mtime=0), encoding="utf-8")
            self._count = 0
        self._file.write(line + "\n")
        self._count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def report_name(options: RunOptions) -> str:
    """The report file of a run: ``report.json``, or one per shard."""
    return f"report{shard_tag(options)}.json"


def shard_tag(options: RunOptions) -> str:
    """What marks the files of shard I of N in their names; empty when the run is not sharded."""
    if options.shard is None:
        return ""
    index, count = options.shard
    return f"-shard{index:05d}-of-{count:05d}"


def publish(tmp: Path, out: Path, options: RunOptions) -> None:
    """Move finished output into place so OUT is never half-written."""
    if options.shard is None:
        replace_folder(tmp, out)
        return
    # A shard owns only its own files inside a shared OUT.
    out.mkdir(parents=True, exist_ok=True)
    tag = shard_tag(options)
    for old in out.glob(f"*{tag}*"):
        if old.is_file():
            old.unlink()
    rejects = tmp / "rejects"
    if rejects.exists():
        (out / "rejects").mkdir(exist_ok=True)
        for path in rejects.iterdir():
            os.replace(path, out / "rejects" / path.name)
        rejects.rmdir()
    # The report goes last: its presence marks the shard as complete.
    for path in sorted(tmp.iterdir(), key=lambda p: p.name.startswith("report")):
        os.replace(path, out / path.name)
    tmp.rmdir()
