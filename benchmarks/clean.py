"""Throughput of `macedonizer clean`, 1 and 2 workers; with --compare datatrove, against datatrove's pipeline.

Builds a corpus of at least --size-mb MB (default 100) from DATA/wiki.txt
(``--data DATA``; default $MACEDONIZER_CORPORA/mk): articles-like documents of 2-5 consecutive
paragraphs, grouped differently in each of the first four passes over the
file, so that their documents are near duplicates of each other (the fifth
pass repeats the first's grouping: exact duplicates), written as --files
JSONL files (default 4) so that datatrove, which gives each task whole
files, has work for every worker.

Without --compare it cleans the corpus with every filter group, first with one
worker and then with two, and prints MB/s per run, MB/s per worker, the
scaling ratio (2 workers against 1) and the ratio against the I/O floor
(reading the input and writing it gzip'd, which any cleaner pays).

With --compare datatrove it runs, for each worker count, ours and datatrove's
own pipeline (its readers, formatters, filters, writers and multi-stage exact
and MinHash dedup; see ``datatrove_chain``) on the same files and prints both
throughputs, the ratio per core, each tool's step times, what each dropped and
why, and how many of the paragraphs each kept are distinct (the corpus repeats
wiki.txt's paragraphs, so the repeats are what dedup missed).
datatrove's language filter needs a fastText model downloaded from the Hub, so
it is left out and ours is compared without ``langid`` too; ours with every
filter is printed beside it ("ours+langid").

    python benchmarks/clean.py --data $DATA                       # 100 MB, 1 and 2 workers
    python benchmarks/clean.py --data $DATA --size-mb 20          # a quicker look
    pip install -e '.[compare]'                                   # datatrove, and spaCy: its Macedonian word splitter
    python benchmarks/clean.py --data $DATA --compare datatrove   # against datatrove, 1 and 2 workers
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from macedonizer.corpus.dedup import lsh_bands
from macedonizer.corpus.pipeline import CleanConfig, RunOptions, run
from corpora import DEFAULT_DATA, wiki_path  # benchmarks/corpora.py (scripts run from benchmarks/)

# What datatrove can match offline: everything but the language ID.
COMPARED_FILTERS = ("quality", "dedup", "near-dedup", "pii")


def build_corpus(wiki: Path, folder: Path, size_mb: float, files: int = 1) -> tuple[list[Path], int]:
    """``files`` JSONL files of at least ``size_mb`` MB in all; each record has ``text`` and a global ``id``."""
    paragraphs = [line.rstrip("\n") for line in open(wiki, encoding="utf-8") if line.strip()]
    target = int(size_mb * 1e6)
    lines: list[str] = []
    written = 0
    copy = 0
    while written < target:
        group = 2 + copy % 4
        for start in range(copy % group, len(paragraphs), group):
            record = {"text": "\n".join(paragraphs[start : start + group]), "id": str(len(lines))}
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            written += len(lines[-1].encode("utf-8"))
            if written >= target:
                break
        copy += 1
    paths = []
    per_file = -(-len(lines) // files)
    for i in range(files):
        paths.append(folder / f"corpus-{i:02d}.jsonl")
        paths[-1].write_text("".join(lines[i * per_file : (i + 1) * per_file]), encoding="utf-8")
    return paths, written


def io_floor(paths: list[Path], out: Path) -> float:
    """Seconds to read every document and write it back gzip'd: the cost no cleaner avoids."""
    start = time.perf_counter()
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=6) as dst:
        for path in paths:
            with open(path, encoding="utf-8") as src:
                for line in src:
                    text = json.loads(line)["text"]
                    dst.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return time.perf_counter() - start


def _texts(parts: list[Path]) -> list[str]:
    return [json.loads(line)["text"] for part in parts for line in gzip.open(part, "rt", encoding="utf-8")]


def paragraphs(texts: list[str]) -> tuple[int, int]:
    """(paragraphs, distinct paragraphs): the corpus repeats wiki.txt's paragraphs, so what dedup left over."""
    found = [p for text in texts for p in text.split("\n") if p.strip()]
    return len(found), len(set(found))


def run_ours(paths: list[Path], out: Path, workers: int, filters) -> dict:
    """Clean ``paths`` with ``filters``; seconds, counts and the paragraphs kept."""
    start = time.perf_counter()
    run([str(p) for p in paths], out, CleanConfig(filters=tuple(filters)), RunOptions(workers=workers, progress=False))
    seconds = time.perf_counter() - start
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    drops = {reason: d["docs"] for reason, d in report["drops"].items()}
    return {"seconds": seconds, "in": report["documents"]["in"], "kept": report["documents"]["out"],
            "exact": drops.pop("duplicate", 0), "near": drops.pop("near_duplicate", 0),
            "quality": sum(drops.values()), "reasons": drops,
            "paragraphs": paragraphs(_texts(sorted(out.glob("part-*.jsonl.gz")))),
            "steps": {k: v for k, v in report["timings_s"].items() if k != "wall"}}


# datatrove's filters, set as near ours as their parameters allow (ours: macedonizer.corpus.filters).
def datatrove_filters(language: str) -> list:
    from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.formatters import FTFYFormatter, PIIFormatter

    return [
        FTFYFormatter(),  # ours: normalize (mojibake, NFC, invisible characters); always on
        # ours: boilerplate lines; C4's line rules without those we do not have (terminal punctuation,
        # 3+ words per line, 5+ sentences per document, no "{" anywhere)
        C4QualityFilter(filter_no_terminal_punct=False, min_num_sentences=-1, min_words_per_line=-1,
                        filter_curly_bracket=False, language=language),
        # ours: the same Gopher thresholds (applied to all lengths where ours needs 100+ words)
        GopherRepetitionFilter(language=language),
        # ours: min_words 3, mean word length 2.5-12, alpha words 0.7; no English stop words
        GopherQualityFilter(min_doc_words=3, max_doc_words=None, min_avg_word_length=2.5,
                            max_avg_word_length=12, max_non_alpha_words_ratio=0.7, min_stop_words=None,
                            language=language),
        PIIFormatter(),  # ours: pii (e-mail, phone, IBAN; datatrove: e-mail, IP)
    ]


def exact_content(doc) -> bytes:
    """What datatrove's exact dedup hashes: like ours, the text without case, punctuation and spacing."""
    from datatrove.utils.text import TextNormConfig, simplify_text

    config = TextNormConfig(norm_unicode_diacritics=False, norm_numbers=False)
    return simplify_text(doc.text, config).encode("utf-8")  # its xxhash takes bytes


def xxhash64_text(text: str) -> int:
    """datatrove's default MinHash hash, xxhash64; datatrove 0.10.1 passes it str, which xxhash 4 refuses."""
    import xxhash

    return xxhash.xxh64_intdigest(text.encode("utf-8"))


def datatrove_chain(paths: list[Path], work: Path, workers: int) -> list[tuple[str, object]]:
    """datatrove's own way: filter and write, exact dedup in 3 stages, MinHash dedup in 4, each stage on disk."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (ExactDedupFilter, ExactDedupSignature, ExactFindDedups,
                                          MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                          MinhashDedupSignature)
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    language = "mk"
    defaults = CleanConfig()
    bands, rows = lsh_bands(defaults.near_dup_threshold, defaults.minhash_perm)  # the same LSH as ours
    minhash = MinhashConfig(n_grams=defaults.shingle_words, num_buckets=bands, hashes_per_bucket=rows)
    exact = ExactDedupConfig(content_getter=exact_content)
    tasks = len(paths)
    minhash_signature = MinhashDedupSignature(str(work / "mh_sigs"), minhash, language=language)
    minhash_signature._hash_func = xxhash64_text  # its own choice of hash, only made to run (see xxhash64_text)

    def stage(name, pipeline, n_tasks):
        return name, LocalPipelineExecutor(pipeline, tasks=n_tasks, workers=min(workers, n_tasks),
                                           logging_dir=str(work / "logs" / name), skip_completed=False)

    src = str(paths[0].parent)
    return [
        stage("filter", [JsonlReader(src, glob_pattern="*.jsonl"), *datatrove_filters(language),
                         JsonlWriter(str(work / "filtered")), ExactDedupSignature(str(work / "exact_sigs"), exact)],
              tasks),
        stage("exact find", [ExactFindDedups(str(work / "exact_sigs"), str(work / "exact_dups"), exact)], 1),
        stage("exact filter", [JsonlReader(str(work / "filtered")), ExactDedupFilter(str(work / "exact_dups"), exact),
                               JsonlWriter(str(work / "exact")),
                               minhash_signature], tasks),
        stage("minhash buckets", [MinhashDedupBuckets(str(work / "mh_sigs"), str(work / "mh_buckets"),
                                                      config=minhash)], bands),
        stage("minhash cluster", [MinhashDedupCluster(str(work / "mh_buckets"), str(work / "mh_remove"),
                                                      config=minhash)], 1),
        stage("minhash filter", [JsonlReader(str(work / "exact")), MinhashDedupFilter(str(work / "mh_remove")),
                                 JsonlWriter(str(work / "out"))], tasks),
    ]


@contextlib.contextmanager
def _stderr_to(path: Path):
    """datatrove logs every task to stderr; keep it in a file (the fd, so that its worker processes follow)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def run_datatrove(paths: list[Path], work: Path, workers: int, docs_in: int) -> dict:
    work.mkdir()
    steps = {}
    start = time.perf_counter()
    with _stderr_to(work / "datatrove.log"):
        for name, executor in datatrove_chain(paths, work, workers):
            t = time.perf_counter()
            executor.run()
            steps[name] = time.perf_counter() - t
    seconds = time.perf_counter() - start
    filtered, exact, kept = (_texts(sorted((work / name).glob("*.jsonl.gz"))) for name in ("filtered", "exact", "out"))
    stats = json.loads((work / "logs" / "filter" / "stats.json").read_text(encoding="utf-8"))
    reasons = {key.removeprefix("dropped_"): value for step in stats for key, value in step["stats"].items()
               if key.startswith("dropped_")}
    return {"seconds": seconds, "in": docs_in, "kept": len(kept), "quality": docs_in - len(filtered),
            "reasons": reasons, "exact": len(filtered) - len(exact), "near": len(exact) - len(kept),
            "paragraphs": paragraphs(kept), "steps": steps}


def _row(name: str, result: dict, mb: float, workers: int, per: str = "core") -> str:
    rate = mb / result["seconds"]
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in result["steps"].items())
    return (f"  {name:12s} {rate:6.2f} MB/s {rate / workers:6.2f} MB/s per {per} {result['seconds']:6.0f}s  "
            f"kept {result['kept']:,} of {result['in']:,} (quality -{result['quality']:,}, "
            f"exact -{result['exact']:,}, near -{result['near']:,})  [{steps}]")


def compare(paths: list[Path], tmp: Path, mb: float, worker_counts: list[int], docs_in: int) -> None:
    try:
        import datatrove  # noqa: F401
        import spacy  # noqa: F401  (datatrove's word tokenizer for Macedonian)
    except ImportError:
        raise SystemExit("Error: --compare datatrove needs datatrove and spaCy: pip install -e '.[compare]' (datatrove, spaCy).")
    for workers in worker_counts:
        ours = run_ours(paths, tmp / f"ours{workers}", workers, COMPARED_FILTERS)
        theirs = run_datatrove(paths, tmp / f"datatrove{workers}", workers, docs_in)
        with_langid = run_ours(paths, tmp / f"ours-langid{workers}", workers, CleanConfig().filters)
        print(f"{workers} worker(s):")
        print(_row("ours", ours, mb, workers))
        print(_row("datatrove", theirs, mb, workers))
        print(_row("ours+langid", with_langid, mb, workers))
        print(f"  per core, ours / datatrove: {theirs['seconds'] / ours['seconds']:.2f}x "
              f"(ours+langid / datatrove: {theirs['seconds'] / with_langid['seconds']:.2f}x)")
        for name, result in (("ours", ours), ("datatrove", theirs)):
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(result["reasons"].items(), key=lambda kv: -kv[1]))
            total, distinct = result["paragraphs"]
            print(f"  {name}: {total:,} paragraphs out, {distinct:,} distinct ({1 - distinct / total:.1%} repeats); "
                  f"quality drops: {reasons}")


def throughput(paths: list[Path], tmp: Path, mb: float, worker_counts: list[int]) -> None:
    floor = io_floor(paths, tmp / "floor.jsonl.gz")
    print(f"I/O floor (read + gzip write): {mb / floor:.1f} MB/s")
    results = {}
    for workers in worker_counts:
        result = run_ours(paths, tmp / f"out{workers}", workers, CleanConfig().filters)
        results[workers] = mb / result["seconds"]
        print(_row("ours", result, mb, workers, per="worker"))
    if 1 in results:
        for workers, rate in results.items():
            if workers > 1:
                print(f"scaling {workers} workers / 1 worker: {rate / results[1]:.2f}x (ideal {workers}x)")
        print(f"1 worker / I/O floor: {results[1] / (mb / floor):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--files", type=int, default=4, help="the corpus is split into this many JSONL files")
    parser.add_argument("--compare", choices=["datatrove"], help="also run datatrove's pipeline on the same files")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"A folder holding wiki.txt (default: {DEFAULT_DATA}, where it exists).")
    args = parser.parse_args()
    wiki = wiki_path(args.data)
    worker_counts = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "corpus").mkdir()
        paths, size = build_corpus(wiki, tmp / "corpus", args.size_mb, args.files)
        mb = size / 1e6
        texts = [json.loads(line)["text"] for p in paths for line in open(p, encoding="utf-8")]
        docs_in = len(texts)
        total, distinct = paragraphs(texts)
        print(f"corpus: {mb:.1f} MB, {docs_in:,} documents, {total:,} paragraphs ({distinct:,} distinct) "
              f"in {len(paths)} files built from {wiki}; "
              f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
        if args.compare:
            compare(paths, tmp, mb, worker_counts, docs_in)
        else:
            throughput(paths, tmp, mb, worker_counts)
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
