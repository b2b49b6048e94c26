"""Pre-tokenised, packed training data, and the order in which a run reads it.

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
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from ..baselines import NGRAM_FILE, NgramBaseline, count_ngrams, save_ngrams
from ..corpus.readers import iter_texts, resolve_inputs
from ..errors import InputError
from ..files import read_json
from ..specs import portable

VAL_EVERY = 50
CACHE_VERSION = 2  # 2: n-gram counts beside the token counts
STAMP_FILE = "stamp.json"
"""The modification times of the inputs a cache folder was packed from (apart: meta.json is the same anywhere)."""
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


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
        dtype, seq_len = np.dtype(meta["dtype"]), meta["seq_len"]
        return cls(
            folder=folder,
            seq_len=seq_len,
            vocab_size=meta["vocab_size"],
            train=_rows(folder / "train.bin", dtype, meta["train_sequences"], seq_len),
            val=_rows(folder / "val.bin", dtype, meta["val_sequences"], seq_len),
            token_counts=np.load(folder / "token_counts.npy"),
            meta=meta,
        )

    def ngram_baseline(self) -> NgramBaseline:
        """The n-gram baseline of these training tokens (loaded once)."""
        if self._ngram is None:
            object.__setattr__(self, "_ngram", NgramBaseline.load(self.folder / NGRAM_FILE, self.token_counts))
        return self._ngram


def _rows(path: Path, dtype, rows: int, seq_len: int) -> np.ndarray:
    """The ``rows`` sequences stored in ``path``, memory-mapped (an empty array for none)."""
    if rows == 0:
        return np.zeros((0, seq_len), dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(rows, seq_len))


def tokenizer_fingerprint(tokenizer_dir: Path) -> str:
    return hashlib.sha256((tokenizer_dir / "tokenizer.json").read_bytes()).hexdigest()[:16]


def _inputs_fingerprint(sources) -> str:
    """Names (relative to their input) and sizes: the same files in any folder give the same cache folder."""
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode())
        if source.kind != "hf":
            digest.update(f"{os.stat(source.location).st_size}".encode())
    return digest.hexdigest()[:16]


def _stamp(sources) -> list:
    """The inputs' modification times: a cache whose files changed since (at the same size) is built again."""
    return [os.stat(source.location).st_mtime_ns if source.kind != "hf" else None for source in sources]


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
    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise InputError(f"No tokenizer at {tokenizer_dir} (expected tokenizer.json from `macedonizer tokenizer`).")
    sources, _ = resolve_inputs(inputs)
    key = hashlib.sha256(
        f"{CACHE_VERSION}:{_inputs_fingerprint(sources)}:{tokenizer_fingerprint(tokenizer_dir)}:{seq_len}:{VAL_EVERY}"
        .encode()
    ).hexdigest()[:16]
    folder = tokenizer_dir / "cache" / f"seq{seq_len}-{key}"
    stamp = _stamp(sources)
    if (folder / "meta.json").is_file():
        if read_json(folder / STAMP_FILE) == stamp:
            return PackedData.open(folder)
        shutil.rmtree(folder)

    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        started = time.time()
        tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        packed = _pack(iter_texts(sources, Counter()), tokenizer, tmp, seq_len, progress, batch_size)
        (tmp / STAMP_FILE).write_text(json.dumps(stamp), encoding="utf-8")
        meta = {"version": CACHE_VERSION, "inputs": [portable(text) for text in inputs],
                "tokenizer": portable(str(tokenizer_dir)),
                "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer_dir), "seq_len": seq_len, **packed,
                "seconds": round(time.time() - started, 2)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if folder.exists():  # another run built it meanwhile: theirs is as good
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PackedData.open(folder)


def _pack(texts: Iterable[str], tokenizer: Tokenizer, tmp: Path, seq_len: int, progress: bool,
          batch_size: int) -> dict:
    """Tokenise ``texts`` into ``tmp``: train.bin, val.bin, the training-token and n-gram counts; their meta."""
    vocab_size = tokenizer.get_vocab_size()
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    ids = {name: tokenizer.token_to_id(name) for name in ("[CLS]", "[SEP]", "[PAD]")}
    counts = np.zeros(vocab_size, dtype=np.int64)
    documents = {"train": 0, "val": 0}
    with open(tmp / "train.bin", "wb") as train_file, open(tmp / "val.bin", "wb") as val_file:
        packers = {
            split: Packer(seq_len, ids["[CLS]"], ids["[SEP]"], ids["[PAD]"],
                          lambda sequence, f=f: f.write(np.asarray(sequence, dtype=dtype).tobytes()))
            for split, f in (("train", train_file), ("val", val_file))
        }
        bar = tqdm(desc="tokenise", unit=" docs", disable=None if progress else True)
        for batch in _batches(texts, batch_size):
            for encoding in tokenizer.encode_batch_fast(batch, add_special_tokens=False):
                index = sum(documents.values()) + 1  # this document's number, from 1
                split = "val" if index % VAL_EVERY == 0 else "train"
                documents[split] += 1
                if split == "train":
                    counts[:] += np.bincount(encoding.ids, minlength=vocab_size)[:vocab_size]
                packers[split].add(encoding.ids)
            bar.update(len(batch))
        bar.close()
        for packer in packers.values():
            packer.close()
    if documents["train"] + documents["val"] == 0:
        raise InputError("The corpus contains no text to train on.")
    np.save(tmp / "token_counts.npy", counts)
    train = _rows(tmp / "train.bin", dtype, packers["train"].sequences, seq_len)
    special = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    save_ngrams(tmp / NGRAM_FILE, count_ngrams(train, vocab_size, [i for i in special if i is not None]), vocab_size)
    del train
    return {"vocab_size": vocab_size, "dtype": np.dtype(dtype).name, "documents": documents,
            "train_sequences": packers["train"].sequences, "val_sequences": packers["val"].sequences,
            "train_tokens": int(counts.sum())}


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Order:
    """Which training sequences step s uses: epochs of seeded permutations."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self._epoch, self._perm = -1, None

    def indices(self, start: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.int64)
        for i in range(count):
            k = start + i
            epoch, offset = divmod(k, self.n)
            if epoch != self._epoch:
                self._epoch = epoch
                self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            out[i] = self._perm[offset]
        return out
