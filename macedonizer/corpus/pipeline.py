"""The clean stage: inputs → normalised, Macedonian, deduplicated shards.

Per document, in worker processes: normalise and repair → language ID →
boilerplate lines → quality filters → PII scrubbing → dedup keys. In the main
process, in input order: exact and near-duplicate removal, then writing. The
output therefore does not depend on the number of workers.

The modules of the stage: ``config`` (``CleanConfig``, ``RunOptions``, the
filter groups), ``worker`` (the per-document steps), ``shards`` (writing and
publishing the output) and this one, which runs them and writes the report.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tqdm import tqdm

from ..errors import ConfigError, InputError, MacedonizerError
from ..files import refuse_non_empty, temporary_sibling
from ..specs import portable
from . import dedup
from .config import FILTER_GROUPS, FILTER_PRESETS, CleanConfig, RunOptions, parse_filters
from .document import Document
from .readers import ReadOptions, ReadStats, Source, read_source, resolve_inputs, unreadable_lines
from .shards import ShardWriter, publish, report_name, shard_tag
from .worker import HISTOGRAM_BINS, BatchStats, Worker, init_worker, process_batch

# Names callers import from here.
__all__ = ["FILTER_GROUPS", "FILTER_PRESETS", "HISTOGRAM_BINS", "CleanConfig", "RunOptions", "parse_filters",
           "report_name", "run"]


def _shard_documents(sources: list[Source], options: ReadOptions, stats: Counter, shard) -> Iterator[Document]:
    """Documents of this shard: whole files when there are enough, else every N-th."""
    if shard is None:
        for source in sources:
            yield from read_source(source, options, stats)
        return
    index, count = shard
    if len(sources) >= count:
        for source in sources[index::count]:
            yield from read_source(source, options, stats)
        return
    docs = itertools.chain.from_iterable(read_source(s, options, stats) for s in sources)
    yield from itertools.islice(docs, index, None, count)


def _batches(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    while True:
        batch = list(itertools.islice(docs, size))
        if not batch:
            return
        yield batch


def _library_versions() -> dict:
    out = {}
    for name in ("macedonizer", "ftfy", "lingua-language-detector", "wordfreq", "datasketch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class _Report(BatchStats):
    """Counts everything the stage did, for ``report.json`` and the summary."""

    def __init__(self):
        super().__init__()
        self.docs_in = self.chars_in = self.docs_out = self.chars_out = 0
        self.drops: dict[str, Counter] = {}

    def merge(self, batch: BatchStats) -> None:
        self.repairs.update(batch.repairs)
        self.lines.update(batch.lines)
        self.pii.update(batch.pii)
        self.timings.update(batch.timings)
        self.histogram = [a + b for a, b in zip(self.histogram, batch.histogram)]

    def drop(self, reason: str, chars: int) -> None:
        self.drops.setdefault(reason, Counter()).update(docs=1, chars=chars)


def run(inputs: list[str], out_dir: str | os.PathLike, config: CleanConfig | None = None,
        options: RunOptions | None = None) -> Path:
    """Clean ``inputs`` into ``out_dir``; return the folder. See module docs."""
    config = config or CleanConfig()
    options = options or RunOptions()
    out = Path(out_dir)
    if options.workers < 1:
        raise ConfigError("--workers must be at least 1.")
    if options.shard is not None:
        index, count = options.shard
        if not (count >= 1 and 0 <= index < count):
            raise ConfigError(f"Invalid shard {index}/{count}: expected I/N with 0 <= I < N.")
    if options.shard is None:
        refuse_non_empty(out, options.overwrite)
    sources, file_skips = resolve_inputs(inputs)

    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        tmp = temporary_sibling(out)
        report = _run_into(tmp, sources, file_skips, config, options, inputs)
        if report["documents"]["in"] == 0:
            raise InputError("\n  ".join(["The inputs contain no documents.", *unreadable_lines(report["unreadable"])]))
        publish(tmp, out, options)
    except OSError as exc:  # unwritable OUT, full disk: say so in one line
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise MacedonizerError(f"Cannot write the output{where}: {exc.strerror or exc}.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@contextmanager
def _processed(batches: Iterator[list[Document]], config: CleanConfig, options: RunOptions):
    """The batches through the per-document steps, in order: here, or in ``options.workers`` processes."""
    if options.workers <= 1:
        yield map(Worker(config, options.rejects).process_batch, batches)
        return
    pool = multiprocessing.get_context("spawn").Pool(options.workers, initializer=init_worker,
                                                     initargs=(config, options.rejects))
    try:
        yield pool.imap(process_batch, batches, chunksize=1)
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _run_into(tmp: Path, sources: list[Source], file_skips: Counter, config: CleanConfig,
              options: RunOptions, inputs: list[str]) -> dict:
    started = time.time()
    read_stats = ReadStats(file_skips)
    report = _Report()
    tag = shard_tag(options)
    writer = ShardWriter(tmp, f"part{tag}", config.docs_per_shard)
    rejects = None
    if options.rejects:
        (tmp / "rejects").mkdir()
        rejects = ShardWriter(tmp / "rejects", f"rejects{tag}", config.docs_per_shard)
    exact_seen: set[int] = set()
    near_index = (
        dedup.NearDuplicateIndex(config.near_dup_threshold, config.minhash_perm)
        if "near-dedup" in config.filters else None
    )

    batches = _batches(_shard_documents(sources, config.read, read_stats, options.shard), options.batch_size)
    bar = tqdm(desc="clean", unit=" docs", disable=None if options.progress else True, dynamic_ncols=True)
    try:
        with _processed(batches, config, options) as results:
            for batch, batch_stats in results:
                t = time.perf_counter()
                report.merge(batch_stats)
                for result in batch:
                    _route(result, report, exact_seen, near_index, writer, rejects)
                report.timings["dedup_and_write"] += time.perf_counter() - t
                bar.update(len(batch))
    finally:
        bar.close()
        writer.close()
        if rejects is not None:
            rejects.close()

    data = {
        "inputs": [portable(text) for text in inputs],
        "shard": list(options.shard) if options.shard else None,
        "config": _jsonable(asdict(config)),
        "documents": {"in": report.docs_in, "out": report.docs_out},
        "characters": {"in": report.chars_in, "out": report.chars_out},
        "drops": {reason: dict(c) for reason, c in sorted(report.drops.items(), key=lambda kv: -kv[1]["docs"])},
        "skipped_on_read": dict(read_stats),
        "unreadable": dict(read_stats.unreadable),  # file: why it stopped (documents before it kept)
        "repairs": {k: v for k, v in report.repairs.items() if v},
        "lines_removed": dict(report.lines),
        "pii_replaced": dict(report.pii),
        "mk_score_histogram": {
            f"{i / HISTOGRAM_BINS:.1f}-{(i + 1) / HISTOGRAM_BINS:.1f}": n for i, n in enumerate(report.histogram)
        },
        "outputs": [p.name for p in writer.paths],
        "timings_s": {k: round(v, 3) for k, v in report.timings.items()} | {"wall": round(time.time() - started, 3)},
        "workers": options.workers,
        "versions": _library_versions(),
    }
    with open(tmp / report_name(options), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
    return data


def _route(result: dict, report: _Report, exact_seen: set, near_index, writer: ShardWriter, rejects) -> None:
    """Dedup and write one processed document (main process, input order)."""
    report.docs_in += 1
    report.chars_in += result["chars_in"]
    reason = None if result["keep"] else result["reason"]
    if reason is None and "exact_key" in result:
        if result["exact_key"] in exact_seen:
            reason = "duplicate"
        else:
            exact_seen.add(result["exact_key"])
    if reason is None and near_index is not None and near_index.seen_or_add(result["bands"]):
        reason = "near_duplicate"
    if reason is None:
        writer.write_line(result["line"])
        report.docs_out += 1
        report.chars_out += result["chars_out"]
        return
    report.drop(reason, result["chars_in"])
    if rejects is not None:
        rejects.write_line(json.dumps({"reason": reason, "text": result["text"], "source": result["source"],
                                       "id": result["id"], "mk_score": result["mk_score"]}, ensure_ascii=False))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value

