"""The per-document steps of ``clean``, run in worker processes: normalise, language ID, quality, PII, dedup keys."""

from __future__ import annotations

import json
import time
from collections import Counter

from . import dedup, langid, pii
from .config import CleanConfig
from .document import Document
from .filters import QualityFilter, remove_boilerplate_lines
from .normalize import Repairs, normalize

HISTOGRAM_BINS = 10


class Worker:
    """The per-document steps; one instance per process."""

    def __init__(self, config: CleanConfig, keep_text: bool = True):
        self.config = config
        # The main process needs a document's text only to write it as a reject.
        self.keep_text = keep_text
        self.groups = set(config.filters)
        self.quality = QualityFilter(config.quality)

    def process(self, doc: Document, stats: "BatchStats") -> dict:
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
        if repairs.escaped_breaks:
            stats.repairs["escaped_breaks"] += repairs.escaped_breaks
        if repairs.lines_dropped:
            stats.lines.update(repairs.lines_dropped)
        t1 = time.perf_counter()
        stats.timings["normalize"] += t1 - t0
        if not text:
            reason = max(repairs.lines_dropped, key=repairs.lines_dropped.get) if repairs.lines_dropped else "empty"
            return self._drop(doc, reason)

        # The language ID runs only for the ``langid`` filter; without it ``mk_score`` is None (null).
        mk_score = None
        t2 = t1
        if "langid" in self.groups:
            verdict = langid.score(text)
            t2 = time.perf_counter()
            stats.timings["langid"] += t2 - t1
            mk_score = round(verdict.mk_score, 4)
            stats.histogram[min(HISTOGRAM_BINS - 1, int(mk_score * HISTOGRAM_BINS))] += 1
            if mk_score < c.mk_threshold:
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

    def process_batch(self, docs: list[Document]) -> tuple[list[dict], "BatchStats"]:
        stats = BatchStats()
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


class BatchStats:
    """What the workers counted over one batch, merged into the report."""

    def __init__(self):
        self.repairs: Counter = Counter()
        self.lines: Counter = Counter()
        self.pii: Counter = Counter()
        self.timings: Counter = Counter()
        self.histogram = [0] * HISTOGRAM_BINS


_WORKER: Worker | None = None


def init_worker(config: CleanConfig, keep_text: bool) -> None:
    global _WORKER
    _WORKER = Worker(config, keep_text)


def process_batch(docs: list[Document]) -> list[dict]:
    assert _WORKER is not None
    return _WORKER.process_batch(docs)
