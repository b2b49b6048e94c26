"""The clean stage: inputs → normalised, Macedonian, deduplicated shards.

Per document, in worker processes: normalise and repair → language ID →
boilerplate lines → quality filters → PII scrubbing → dedup keys. In the main
process, in input order: exact and near-duplicate removal, then writing. The
output therefore does not depend on the number of workers.
"""

from __future__ import annotations

import gzip
import itertools
import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputError, MacedonizerError
from ..files import replace_folder, temporary_sibling
from . import dedup, langid, pii
from .document import Document
from .filters import QualityConfig, QualityFilter, remove_boilerplate_lines
from .normalize import Repairs, normalize
from .readers import ReadOptions, Source, read_source, resolve_inputs

FILTER_GROUPS = ("langid", "quality", "dedup", "near-dedup", "pii")
# Presets: what a name on --filters expands to.
FILTER_PRESETS = {
    "all": FILTER_GROUPS,
    "lang": ("langid", "dedup"),
    "none": (),
}
HISTOGRAM_BINS = 10


def parse_filters(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"all"``, ``"lang"``, ``"none"`` or a comma list of groups, to groups."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    groups: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in FILTER_PRESETS:
            expanded = FILTER_PRESETS[name]
        elif name in FILTER_GROUPS:
            expanded = (name,)
        else:
            known = ", ".join((*FILTER_PRESETS, *FILTER_GROUPS))
            raise ConfigError(f"Unknown filter group {name!r} (known: {known}).")
        groups.extend(g for g in expanded if g not in groups)
    return tuple(g for g in FILTER_GROUPS if g in groups)


@dataclass(frozen=True)
class CleanConfig:
    """Everything that decides what ``clean`` keeps (the ``[clean]`` table)."""

    filters: tuple[str, ...] = FILTER_GROUPS
    """Filter groups to run; normalisation always runs."""
    mk_threshold: float = 0.5
    """Documents with ``mk_score`` below this are dropped (``not_macedonian``)."""
    near_dup_threshold: float = 0.8
    """Estimated Jaccard similarity at which a document is a near duplicate."""
    minhash_perm: int = 128
    """MinHash permutations: more is more precise and slower."""
    shingle_words: int = 5
    """Near-dedup shingles are runs of this many words."""
    read: ReadOptions = field(default_factory=ReadOptions)
    quality: QualityConfig = field(default_factory=QualityConfig)
    docs_per_shard: int = 100_000
    """Output shard size in documents."""


@dataclass(frozen=True)
class RunOptions:
    """How the stage runs; changes speed and layout, never which text is kept."""

    workers: int = 1
    shard: tuple[int, int] | None = None
    """(I, N): process only shard I of N (0-based), for N independent jobs."""
    rejects: bool = False
    """Also write dropped documents with their reason."""
    overwrite: bool = False
    progress: bool = True
    batch_size: int = 256


# ---------------------------------------------------------------- per document


class _Worker:
    """The per-document steps; one instance per process."""

    def __init__(self, config: CleanConfig, keep_text: bool = True):
        self.config = config
        # The main process needs a document's text only to write it as a reject.
        self.keep_text = keep_text
        self.groups = set(config.filters)
        self.quality = QualityFilter(config.quality)

    def process(self, doc: Document, stats: "_BatchStats") -> dict:
        """Return ``{"keep": bool, "reason": str|None, ...}`` for one document."""
        c = self.config
        if len(doc.text) > c.quality.max_chars:
            return self._drop(doc, "too_long")

        t0 = time.perf_counter()
        repairs = Repairs()
        text = normalize(doc.text, repairs)
        if repairs.mojibake:
            stats.repairs["mojibake"] += repairs.mojibake
        if repairs.homoglyph_words:
            stats.repairs["homoglyph_words"] += repairs.homoglyph_words
        if repairs.lines_dropped:
            stats.lines.update(repairs.lines_dropped)
        t1 = time.perf_counter()
        stats.timings["normalize"] += t1 - t0
        if not text:
            reason = max(repairs.lines_dropped, key=repairs.lines_dropped.get) if repairs.lines_dropped else "empty"
            return self._drop(doc, reason)

        verdict = langid.score(text, use_statistical="langid" in self.groups)
        t2 = time.perf_counter()
        stats.timings["langid"] += t2 - t1
        mk_score = round(verdict.mk_score, 4)
        stats.histogram[min(HISTOGRAM_BINS - 1, int(mk_score * HISTOGRAM_BINS))] += 1
        if "langid" in self.groups and mk_score < c.mk_threshold:
            reason = {"latin": "latin_script", "none": "no_letters"}.get(verdict.script, "not_macedonian")
            return self._drop(doc, reason, mk_score)

        if "quality" in self.groups:
            text, removed = remove_boilerplate_lines(text)
            if removed:
                stats.lines["boilerplate"] += removed
            keep, reason = (False, "boilerplate") if not text else self.quality(Document(text, doc.source, doc.id))
            t3 = time.perf_counter()
            stats.timings["quality"] += t3 - t2
            t2 = t3
            if not keep:
                return self._drop(doc, reason, mk_score)

        if "pii" in self.groups:
            text = pii.scrub(text, stats.pii)
            t3 = time.perf_counter()
            stats.timings["pii"] += t3 - t2
            t2 = t3

        result = {"keep": True, "chars_in": len(doc.text), "chars_out": len(text),
                  "text": text if self.keep_text else None,
                  "source": doc.source, "id": doc.id, "mk_score": mk_score}
        if "dedup" in self.groups or "near-dedup" in self.groups:
            words = dedup.words_of(text)
            if "dedup" in self.groups:
                result["exact_key"] = dedup.exact_key(words)
            if "near-dedup" in self.groups:
                result["words"] = words  # signatures are computed for the whole batch at once
            stats.timings["dedup_keys"] += time.perf_counter() - t2
        # Serialised here, in parallel, so the main process only decides and writes.
        result["line"] = json.dumps(
            {"text": text, "source": doc.source, "id": doc.id, "mk_score": mk_score}, ensure_ascii=False
        )
        return result

    def _drop(self, doc: Document, reason: str, mk_score: float | None = None) -> dict:
        return {"keep": False, "reason": reason, "chars_in": len(doc.text),
                "text": doc.text if self.keep_text else None,
                "source": doc.source, "id": doc.id, "mk_score": mk_score}

    def process_batch(self, docs: list[Document]) -> tuple[list[dict], "_BatchStats"]:
        stats = _BatchStats()
        results = [self.process(doc, stats) for doc in docs]
        if "near-dedup" in self.groups:
            t = time.perf_counter()
            kept = [r for r in results if r["keep"]]
            if kept:
                c = self.config
                sigs = dedup.signatures([r.pop("words") for r in kept], c.minhash_perm, c.shingle_words)
                for result, keys in zip(kept, dedup.band_keys(sigs, c.near_dup_threshold, c.minhash_perm)):
                    result["bands"] = keys
            stats.timings["dedup_keys"] += time.perf_counter() - t
        return results, stats


class _BatchStats:
    """What the workers counted over one batch, merged into the report."""

    def __init__(self):
        self.repairs: Counter = Counter()
        self.lines: Counter = Counter()
        self.pii: Counter = Counter()
        self.timings: Counter = Counter()
        self.histogram = [0] * HISTOGRAM_BINS


_WORKER: _Worker | None = None


def _init_worker(config: CleanConfig, keep_text: bool) -> None:
    global _WORKER
    _WORKER = _Worker(config, keep_text)


def _process_batch(docs: list[Document]) -> list[dict]:
    assert _WORKER is not None
    return _WORKER.process_batch(docs)


# ---------------------------------------------------------------- output


class _ShardWriter:
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
            self._file = gzip.open(path, "wt", encoding="utf-8", compresslevel=5)
            self._count = 0
        self._file.write(line + "\n")
        self._count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# ---------------------------------------------------------------- the stage


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
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("macedonizer", "ftfy", "lingua-language-detector", "datasketch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class _Report(_BatchStats):
    """Counts everything the stage did, for ``report.json`` and the summary."""

    def __init__(self):
        super().__init__()
        self.docs_in = self.chars_in = self.docs_out = self.chars_out = 0
        self.drops: dict[str, Counter] = {}

    def merge(self, batch: _BatchStats) -> None:
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
    if options.shard is None and out.exists() and any(out.iterdir()) and not options.overwrite:
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --overwrite to replace it).")
    sources, file_skips = resolve_inputs(inputs)

    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        tmp = temporary_sibling(out)
        report = _run_into(tmp, sources, file_skips, config, options, inputs)
        if report["documents"]["in"] == 0:
            raise InputError("The inputs contain no documents.")
        _publish(tmp, out, options)
    except OSError as exc:  # unwritable OUT, full disk: say so in one line
        shutil.rmtree(tmp, ignore_errors=True)
        where = f" ({exc.filename})" if exc.filename else ""
        raise MacedonizerError(f"Cannot write the output{where}: {exc.strerror or exc}.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def report_name(options: RunOptions) -> str:
    """The report file of a run: ``report.json``, or one per shard."""
    return f"report{_shard_tag(options)}.json"


def _shard_tag(options: RunOptions) -> str:
    if options.shard is None:
        return ""
    index, count = options.shard
    return f"-shard{index:05d}-of-{count:05d}"


def _publish(tmp: Path, out: Path, options: RunOptions) -> None:
    """Move finished output into place so OUT is never half-written."""
    if options.shard is None:
        replace_folder(tmp, out)
        return
    # A shard owns only its own files inside a shared OUT.
    out.mkdir(parents=True, exist_ok=True)
    tag = _shard_tag(options)
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


def _run_into(tmp: Path, sources: list[Source], file_skips: Counter, config: CleanConfig,
              options: RunOptions, inputs: list[str]) -> dict:
    from tqdm import tqdm

    started = time.time()
    read_stats: Counter = Counter(file_skips)
    report = _Report()
    tag = _shard_tag(options)
    writer = _ShardWriter(tmp, f"part{tag}", config.docs_per_shard)
    rejects = None
    if options.rejects:
        (tmp / "rejects").mkdir()
        rejects = _ShardWriter(tmp / "rejects", f"rejects{tag}", config.docs_per_shard)
    exact_seen: set[int] = set()
    near_index = (
        dedup.NearDuplicateIndex(config.near_dup_threshold, config.minhash_perm)
        if "near-dedup" in config.filters else None
    )

    docs = _shard_documents(sources, config.read, read_stats, options.shard)
    batches = _batches(docs, options.batch_size)
    pool = None
    if options.workers > 1:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(options.workers, initializer=_init_worker, initargs=(config, options.rejects))
        results_iter = pool.imap(_process_batch, batches, chunksize=1)
    else:
        worker = _Worker(config, options.rejects)
        results_iter = map(worker.process_batch, batches)

    bar = tqdm(desc="clean", unit=" docs", disable=None if options.progress else True, dynamic_ncols=True)
    try:
        for batch, batch_stats in results_iter:
            t = time.perf_counter()
            report.merge(batch_stats)
            for result in batch:
                _route(result, report, exact_seen, near_index, writer, rejects)
            report.timings["dedup_and_write"] += time.perf_counter() - t
            bar.update(len(batch))
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
        writer.close()
        if rejects is not None:
            rejects.close()

    data = {
        "inputs": list(inputs),
        "shard": list(options.shard) if options.shard else None,
        "config": _jsonable(asdict(config)),
        "documents": {"in": report.docs_in, "out": report.docs_out},
        "characters": {"in": report.chars_in, "out": report.chars_out},
        "drops": {reason: dict(c) for reason, c in sorted(report.drops.items(), key=lambda kv: -kv[1]["docs"])},
        "skipped_on_read": dict(read_stats),
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


def _route(result: dict, report: _Report, exact_seen: set, near_index, writer: _ShardWriter, rejects) -> None:
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
