"""Pre-tokenised, packed training data and dynamic MLM masking.

The corpus is tokenised once (the Rust tokenizer on all cores) into
fixed-length sequences, ``[CLS] doc₁ [SEP] doc₂ [SEP] …``: documents are
packed back to back, a ``[SEP]`` marks every boundary, a document longer
than the room left continues in the next sequence, and the last sequence is
padded. One document in ``VAL_EVERY`` goes to validation instead (split by
document, never inside one). Sequences are stored as memory-mapped
uint16/uint32 arrays in a cache folder next to the tokenizer whose name is a
fingerprint of the corpus, the tokenizer and the sequence length, so every
size and every run reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .baselines import NGRAM_FILE, NgramBaseline, count_ngrams, save_ngrams
from .configs import MaskingConfig
from .errors import InputError

VAL_EVERY = 50
CACHE_VERSION = 2  # 2: n-gram counts beside the token counts


@dataclass(frozen=True)
class PackedData:
    """A cache folder: train/val sequences, token counts, and what made them."""

    folder: Path
    seq_len: int
    vocab_size: int
    train: np.ndarray
    val: np.ndarray
    token_counts: np.ndarray
    meta: dict
    _ngram: NgramBaseline | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, folder: Path) -> PackedData:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        dtype = np.dtype(meta["dtype"])
        seq_len = meta["seq_len"]

        def load(name: str, rows: int) -> np.ndarray:
            if rows == 0:
                return np.zeros((0, seq_len), dtype=dtype)
            return np.memmap(folder / name, dtype=dtype, mode="r", shape=(rows, seq_len))

        return cls(
            folder=folder,
            seq_len=seq_len,
            vocab_size=meta["vocab_size"],
            train=load("train.bin", meta["train_sequences"]),
            val=load("val.bin", meta["val_sequences"]),
            token_counts=np.load(folder / "token_counts.npy"),
            meta=meta,
        )

    def ngram_baseline(self) -> NgramBaseline:
        """The n-gram baseline of these training tokens (loaded once)."""
        if self._ngram is None:
            object.__setattr__(self, "_ngram", NgramBaseline.load(self.folder / NGRAM_FILE, self.token_counts))
        return self._ngram


def tokenizer_fingerprint(tokenizer_dir: Path) -> str:
    return hashlib.sha256((tokenizer_dir / "tokenizer.json").read_bytes()).hexdigest()[:16]


def _inputs_fingerprint(sources) -> str:
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode())
        if source.kind != "hf":
            stat = os.stat(source.location)
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


class Packer:
    """Packs documents' token ids into fixed-length ``[CLS] … [SEP] … [SEP]`` sequences.

    Each finished sequence goes to ``emit`` (a list of ``seq_len`` ids); the
    last one is padded by ``close``. Training data and ``macedonizer eval``
    pack text the same way through this class.
    """

    def __init__(self, seq_len: int, cls_id: int, sep_id: int, pad_id: int, emit):
        self.seq_len, self.cls_id, self.sep_id, self.pad_id, self.emit = seq_len, cls_id, sep_id, pad_id, emit
        self.current: list[int] = [cls_id]
        self.sequences = 0

    def add(self, ids: list[int]) -> None:
        ids = ids + [self.sep_id]
        while ids:
            room = self.seq_len - len(self.current)
            self.current.extend(ids[:room])
            ids = ids[room:]
            if len(self.current) == self.seq_len:
                self._flush()

    def _flush(self) -> None:
        self.emit(self.current)
        self.sequences += 1
        self.current = [self.cls_id]

    def close(self) -> None:
        if len(self.current) > 1:
            self.current.extend([self.pad_id] * (self.seq_len - len(self.current)))
            self._flush()


def build_cache(inputs: list[str], tokenizer_dir: str | os.PathLike, seq_len: int,
                progress: bool = True, batch_size: int = 2000) -> PackedData:
    """Tokenise and pack ``inputs`` once; reuse the cache when nothing changed."""
    from tokenizers import Tokenizer
    from tqdm import tqdm

    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise InputError(f"No tokenizer at {tokenizer_dir} (expected tokenizer.json from `macedonizer tokenizer`).")
    from collections import Counter

    from .corpus.readers import iter_texts, resolve_inputs

    sources, _ = resolve_inputs(inputs)
    texts = iter_texts(sources, Counter())
    key = hashlib.sha256(
        f"{CACHE_VERSION}:{_inputs_fingerprint(sources)}:{tokenizer_fingerprint(tokenizer_dir)}:{seq_len}:{VAL_EVERY}"
        .encode()
    ).hexdigest()[:16]
    folder = tokenizer_dir / "cache" / f"seq{seq_len}-{key}"
    if (folder / "meta.json").is_file():
        return PackedData.open(folder)

    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    vocab_size = tokenizer.get_vocab_size()
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    ids = {name: tokenizer.token_to_id(name) for name in ("[CLS]", "[SEP]", "[PAD]")}
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files = {split: open(tmp / f"{split}.bin", "wb") for split in ("train", "val")}
        packers = {
            split: Packer(seq_len, ids["[CLS]"], ids["[SEP]"], ids["[PAD]"],
                          lambda sequence, f=f: f.write(np.asarray(sequence, dtype=dtype).tobytes()))
            for split, f in files.items()
        }
        counts = np.zeros(vocab_size, dtype=np.int64)
        documents = {"train": 0, "val": 0}
        started = time.time()
        bar = tqdm(desc="tokenise", unit=" docs", disable=None if progress else True)
        batch: list[str] = []
        index = 0

        def flush():
            nonlocal index
            for encoding in tokenizer.encode_batch_fast(batch, add_special_tokens=False):
                index += 1
                split = "val" if index % VAL_EVERY == 0 else "train"
                documents[split] += 1
                if split == "train":
                    counts[:] += np.bincount(encoding.ids, minlength=vocab_size)[:vocab_size]
                packers[split].add(encoding.ids)
            bar.update(len(batch))
            batch.clear()

        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        bar.close()
        for packer in packers.values():
            packer.close()
        for f in files.values():
            f.close()
        if documents["train"] + documents["val"] == 0:
            raise InputError("The corpus contains no text to train on.")
        np.save(tmp / "token_counts.npy", counts)
        train_rows = packers["train"].sequences
        train = (np.memmap(tmp / "train.bin", dtype=dtype, mode="r", shape=(train_rows, seq_len)) if train_rows
                 else np.zeros((0, seq_len), dtype=dtype))
        special = [tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
        save_ngrams(tmp / NGRAM_FILE, count_ngrams(train, vocab_size, [i for i in special if i is not None]), vocab_size)
        del train
        meta = {
            "version": CACHE_VERSION,
            "inputs": list(inputs),
            "tokenizer": str(tokenizer_dir),
            "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer_dir),
            "seq_len": seq_len,
            "vocab_size": vocab_size,
            "dtype": np.dtype(dtype).name,
            "documents": documents,
            "train_sequences": packers["train"].sequences,
            "val_sequences": packers["val"].sequences,
            "train_tokens": int(counts.sum()),
            "seconds": round(time.time() - started, 2),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if folder.exists():  # another run built it meanwhile: theirs is as good
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackedData.open(folder)


# ---------------------------------------------------------------- masking


class Masker:
    """Dynamic MLM masking on batches of token ids (torch tensors)."""

    def __init__(self, config: MaskingConfig, vocab: dict[str, int]):
        import torch

        self.config = config
        size = max(vocab.values()) + 1
        self.special = torch.zeros(size, dtype=torch.bool)
        for token in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
            if token in vocab:
                self.special[vocab[token]] = True
        self.continuation = torch.zeros(size, dtype=torch.bool)
        for token, index in vocab.items():
            if token.startswith("##"):
                self.continuation[index] = True
        self.mask_id = vocab["[MASK]"]
        # Random replacements come from ordinary tokens only.
        self.ordinary = torch.nonzero(~self.special).flatten()
        self.vocab = vocab
        self._evaluation: Masker | None = None

    def for_evaluation(self) -> Masker:
        """The same positions drawn at this masker's rate, every one of them replaced by ``[MASK]``.

        Evaluation must not leave a scored token in the input (a model that
        copies its input would score on it) nor swap in a random one.
        """
        if self.config.mask_share == 1.0 and self.config.random_share == 0.0:
            return self
        if self._evaluation is None:  # built once: a run evaluates many times, and building walks the vocabulary
            self._evaluation = Masker(replace(self.config, mask_share=1.0, random_share=0.0), self.vocab)
        return self._evaluation

    def __call__(self, input_ids, generator, total_rows: int | None = None, row_offset: int = 0):
        """Return (inputs, labels); labels are -100 where nothing is predicted.

        Under data parallelism each process holds rows ``row_offset …`` of a
        batch of ``total_rows``: the random draws are made for the whole
        batch and sliced, so the masks do not depend on the process count.
        """
        import torch

        ids = input_ids.long()
        rows = slice(row_offset, row_offset + ids.shape[0])
        shape = (total_rows or ids.shape[0], ids.shape[1])

        def draw(fn, *args):
            return fn(*args, shape, generator=generator)[rows]

        special = self.special[ids]
        scores = draw(torch.rand)
        if self.config.whole_word:
            # Every piece of a word takes the draw of the word's first piece.
            continuation = self.continuation[ids] & ~special
            positions = torch.arange(ids.shape[1]).expand_as(ids)
            starts = torch.cummax(torch.where(continuation, torch.zeros_like(positions), positions), dim=1).values
            scores = torch.gather(scores, 1, starts)
        chosen = (scores < self.config.rate) & ~special
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        action = draw(torch.rand)
        to_mask = chosen & (action < self.config.mask_share)
        to_random = chosen & (action >= self.config.mask_share) & (
            action < self.config.mask_share + self.config.random_share
        )
        inputs = ids.clone()
        inputs[to_mask] = self.mask_id
        random_tokens = self.ordinary[draw(torch.randint, len(self.ordinary))]
        inputs[to_random] = random_tokens[to_random]
        return inputs, labels
