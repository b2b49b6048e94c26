"""Is tokenizer training reproducible, and what does reproducibility cost?

1. Trains the same vocabulary in fresh processes that differ in
   PYTHONHASHSEED and in the number of threads of the `tokenizers` trainer
   (RAYON_NUM_THREADS), each into its own folder, and prints a hash of
   tokenizer.json and vocab.txt for each: they must all be equal (issue 15).
   Exits 1 where they are not.
2. Times, in this process, the first pass that makes training reproducible
   (`_starting_vocabulary`, one more read of the corpus) against the whole
   `tokenizer.run`, in CPU seconds (the wall clock of a shared machine says
   little).

    python benchmarks/tokenizer_reproducibility.py                 # 3 MB of wiki.txt, 8k
    python benchmarks/tokenizer_reproducibility.py --full --vocab-size 32000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from macedonizer import tokenizer as tok

WIKI = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "mk" / "wiki.txt"
TRAIN = """
import sys
from macedonizer.configs import TokenizerConfig
from macedonizer.tokenizer import run
run([sys.argv[1]], sys.argv[2], TokenizerConfig(vocab_size=int(sys.argv[3])), progress=False)
"""
RUNS = [("0", "1"), ("1", "2"), ("2", "1"), ("random", "2")]  # (PYTHONHASHSEED, RAYON_NUM_THREADS)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=WIKI)
    parser.add_argument("--full", action="store_true", help="Use the whole corpus, not its first 3 MB.")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"Benchmark text not found: {args.corpus}")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if not args.full:
            corpus = Path(tmp) / "corpus.txt"
            with open(args.corpus, "rb") as f:
                corpus.write_bytes(f.read(3_000_000).decode("utf-8", "ignore").encode("utf-8"))
        print(f"{corpus.stat().st_size / 1e6:.1f} MB, vocabulary {args.vocab_size}, {os.cpu_count()} CPU cores")

        seen = set()
        for seed, threads in RUNS:
            out = Path(tmp) / f"seed-{seed}-threads-{threads}"
            env = {**os.environ, "PYTHONHASHSEED": seed, "RAYON_NUM_THREADS": threads}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", TRAIN, str(corpus), str(out), str(args.vocab_size)],
                           env=env, check=True)
            hashes = digest(out / "tokenizer.json"), digest(out / "vocab.txt")
            seen.add(hashes)
            print(f"PYTHONHASHSEED={seed:<6} RAYON_NUM_THREADS={threads}: tokenizer.json {hashes[0]}  "
                  f"vocab.txt {hashes[1]}  ({time.perf_counter() - start:.1f}s)")
        print("identical" if len(seen) == 1 else f"NOT REPRODUCIBLE: {len(seen)} different results")

        first_pass = []
        original = tok._starting_vocabulary

        def timed(*a, **k):
            started = time.process_time()
            try:
                return original(*a, **k)
            finally:
                first_pass.append(time.process_time() - started)

        tok._starting_vocabulary = timed
        try:
            started = time.process_time()
            tok.run([str(corpus)], Path(tmp) / "timed", tok.TokenizerConfig(vocab_size=args.vocab_size), progress=False)
            total = time.process_time() - started
        finally:
            tok._starting_vocabulary = original
        print(f"CPU: whole run {total:.2f}s, of which the reproducibility pass {first_pass[0]:.2f}s "
              f"({first_pass[0] / total:.0%}; without it the run would take {total - first_pass[0]:.2f}s)")
    sys.exit(0 if len(seen) == 1 else 1)


if __name__ == "__main__":
    main()
