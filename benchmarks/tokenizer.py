"""Tokenizer training time against the bare `tokenizers` trainer, and encoding throughput.

1. Trains a 32k cased vocabulary (``--vocab-size``) on DATA/wiki.txt
   (``--data DATA``; default $MACEDONIZER_CORPORA/mk) through
   macedonizer (streaming reader, held-out split, required letters, sanity
   round trip, coverage stats, writing the folder) and with the bare
   `tokenizers` WordPieceTrainer on the same file (same normalizer and
   pre-tokenizer), and prints the ratio (target: at most 1.5).
2. Encodes every line of wiki.txt in batches with the trained tokenizer,
   through `tokenizers` and through `transformers.AutoTokenizer`, and prints
   tokens/s (target: at least 1 M tokens/s on 2 cores).

    python benchmarks/tokenizer.py --data $DATA
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
from tokenizers.models import WordPiece

from macedonizer.configs import TokenizerConfig
from macedonizer.tokenizer import SPECIAL_TOKENS, run
from corpora import DEFAULT_DATA, wiki_path  # benchmarks/corpora.py (scripts run from benchmarks/)

VOCAB = 32000


def bare_training(wiki: Path, vocab: int) -> float:
    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(strip_accents=False, lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                        show_progress=False)
    start = time.perf_counter()
    tokenizer.train([str(wiki)], trainer)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help=f"A folder holding wiki.txt (default: {DEFAULT_DATA}, where it exists).")
    parser.add_argument("--vocab-size", type=int, default=VOCAB, help="Vocabulary to train (default 32000).")
    args = parser.parse_args()
    wiki, vocab = wiki_path(args.data), args.vocab_size
    print(f"{wiki}: {wiki.stat().st_size / 1e6:.1f} MB; {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        bare = min(bare_training(wiki, vocab) for _ in range(2))
        ours = []
        for _ in range(2):
            start = time.perf_counter()
            out = run([str(wiki)], Path(tmp) / "tok", TokenizerConfig(vocab_size=vocab), progress=False)
            ours.append(time.perf_counter() - start)
        print(f"train {vocab // 1000}k: macedonizer {min(ours):.1f}s, bare tokenizers {bare:.1f}s, "
              f"ratio {min(ours) / bare:.2f} (target <= 1.5)")

        lines = [line.rstrip("\n") for line in open(wiki, encoding="utf-8") if line.strip()]
        tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        # encode_batch_fast skips the character offsets that training data
        # does not need; encode_batch computes them (what apps use).
        for method in ("encode_batch_fast", "encode_batch"):
            encode = getattr(tokenizer, method)
            start = time.perf_counter()
            n_tokens = 0
            for i in range(0, len(lines), 1000):
                n_tokens += sum(len(e.ids) for e in encode(lines[i : i + 1000]))
            seconds = time.perf_counter() - start
            print(f"encode (tokenizers.{method}): {n_tokens / seconds / 1e6:.2f} M tokens/s "
                  f"({n_tokens:,} tokens in {seconds:.1f}s; target >= 1 M tokens/s)")

        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(str(out), model_max_length=10**6)  # no truncation warning
        start = time.perf_counter()
        n_tokens = 0
        for i in range(0, len(lines), 1000):
            n_tokens += sum(len(ids) for ids in hf(lines[i : i + 1000])["input_ids"])
        seconds = time.perf_counter() - start
        print(f"encode (transformers AutoTokenizer): {n_tokens / seconds / 1e6:.2f} M tokens/s")
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
