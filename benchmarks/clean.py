"""Throughput of `macedonizer clean` with all filters on, 1 and 2 workers.

Builds a corpus of at least --size-mb MB (default 100) from DATA/wiki.txt
(``--data DATA``; default $MACEDONIZER_CORPORA/mk): articles-like documents of 2-5 consecutive
paragraphs, grouped differently in every pass over the file so that the
copies are not exact duplicates. Then it cleans it with every filter group,
first with one worker and then with two, and prints MB/s per run, MB/s per
worker, the scaling ratio (2 workers against 1) and the ratio against the
I/O floor (reading the input and writing it gzip'd, which any cleaner pays).

    python benchmarks/clean.py --data $DATA                 # 100 MB, 1 and 2 workers
    python benchmarks/clean.py --data $DATA --size-mb 20    # a quicker look
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

from macedonizer.corpus.pipeline import CleanConfig, RunOptions, run
from corpora import DEFAULT_DATA, wiki_path  # benchmarks/corpora.py (scripts run from benchmarks/)



def build_corpus(wiki: Path, path: Path, size_mb: float) -> int:
    paragraphs = [line.rstrip("\n") for line in open(wiki, encoding="utf-8") if line.strip()]
    target = int(size_mb * 1e6)
    written = 0
    copy = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            group = 2 + copy % 4
            for start in range(copy % group, len(paragraphs), group):
                line = json.dumps({"text": "\n".join(paragraphs[start : start + group])}, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode("utf-8"))
                if written >= target:
                    break
            copy += 1
    return written


def io_floor(path: Path, out: Path) -> float:
    """Seconds to read every document and write it back gzip'd: the cost no cleaner avoids."""
    start = time.perf_counter()
    with open(path, encoding="utf-8") as src, gzip.open(out, "wt", encoding="utf-8", compresslevel=6) as dst:
        for line in src:
            text = json.loads(line)["text"]
            dst.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"A folder holding wiki.txt (default: {DEFAULT_DATA}, where it exists).")
    args = parser.parse_args()
    wiki = wiki_path(args.data)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus.jsonl"
        size = build_corpus(wiki, corpus, args.size_mb)
        mb = size / 1e6
        print(f"corpus: {mb:.1f} MB built from {wiki}; {os.cpu_count()} CPU cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        floor = io_floor(corpus, tmp / "floor.jsonl.gz")
        print(f"I/O floor (read + gzip write): {mb / floor:.1f} MB/s")
        results = {}
        for workers in (int(w) for w in args.workers.split(",")):
            start = time.perf_counter()
            out = run([str(corpus)], tmp / f"out{workers}", CleanConfig(),
                      RunOptions(workers=workers, progress=False))
            seconds = time.perf_counter() - start
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
            results[workers] = mb / seconds
            kept = report["documents"]["out"] / report["documents"]["in"]
            stages = ", ".join(f"{k} {v:.0f}s" for k, v in report["timings_s"].items() if k != "wall")
            print(f"{workers} worker(s): {mb / seconds:5.2f} MB/s, {mb / seconds / workers:5.2f} MB/s per worker, "
                  f"{seconds:.0f}s, kept {kept:.1%} [{stages}]")
        if 1 in results:
            for workers, rate in results.items():
                if workers > 1:
                    print(f"scaling {workers} workers / 1 worker: {rate / results[1]:.2f}x (ideal {workers}x)")
            print(f"1 worker / I/O floor: {results[1] / (mb / floor):.2f}")
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
