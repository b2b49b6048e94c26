"""Readers: every input ``clean`` accepts becomes a stream of Documents.

Inputs are files (``.txt``, ``.txt.gz``, ``.jsonl``, ``.jsonl.gz``,
``.parquet``, MediaWiki ``.xml.bz2`` dumps), folders and globs of those,
Hugging Face datasets as ``hf:ID[:CONFIG[:SPLIT]]`` (streamed, never
downloaded whole) and bundled recipes as ``corpus:NAME``.

Damage inside a file (invalid UTF-8, a malformed JSON line, a line too long
to be text) is skipped and counted; a problem that makes the whole input
unusable (a missing path, a Parquet file without the text column, an
unreachable dataset) raises :class:`~macedonizer.errors.InputError`; a
malformed spec, :class:`~macedonizer.errors.ConfigError` (``macedonizer.specs``).
"""

from __future__ import annotations

import bz2
import glob
import gzip
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..hub import network_errors
from ..specs import SAMPLE_RECIPE, HubDatasetSpec, LocalSpec, RecipeSpec, parse
from .document import Document
from .recipes import corpora_dir, load_recipe

TEXT_SUFFIXES = (".txt", ".txt.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
WIKI_SUFFIXES = (".xml.bz2", ".xml")
ALL_SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES + WIKI_SUFFIXES

_BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read (the reading part of the clean config)."""

    paragraphs: bool = False
    """``.txt``: documents are separated by blank lines, not one per line."""
    text_field: str = "text"
    """JSONL, Parquet and datasets: the field that holds the text."""
    max_line_bytes: int = 4_000_000
    """A line longer than this is not text anyone wrote; skipped, not read whole."""


@dataclass(frozen=True)
class Source:
    """One concrete input: a file, or a dataset on the Hub."""

    kind: str  # "txt" | "jsonl" | "parquet" | "wiki" | "hf"
    location: str
    name: str
    config: str | None = None
    split: str = "train"
    text_field: str | None = None


def _suffix_kind(path: str) -> str | None:
    lower = path.lower()
    for kind, suffixes in (
        ("txt", TEXT_SUFFIXES),
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
        ("wiki", WIKI_SUFFIXES),
    ):
        if lower.endswith(suffixes):
            return kind
    return None


def resolve_inputs(specs: Iterable[str]) -> tuple[list[Source], Counter]:
    """Expand paths, folders, globs, ``hf:`` and ``corpus:`` specs into Sources.

    Returns the sources and a count of files skipped while expanding folders
    (unsupported types), for the report.
    """
    sources: list[Source] = []
    skipped: Counter = Counter()
    for text in specs:
        spec = parse(text)
        if isinstance(spec, HubDatasetSpec):
            sources.append(_dataset_source(spec, text))
        elif isinstance(spec, RecipeSpec) and not spec.is_sample:
            recipe = load_recipe(spec.name)
            sources.append(_dataset_source(recipe.spec, text, recipe.text_field))
        else:
            folder = LocalSpec(str(corpora_dir() / SAMPLE_RECIPE)) if isinstance(spec, RecipeSpec) else spec
            sources.extend(_local_sources(folder, skipped))
    if not sources:
        raise InputError("No input files found.")
    return sources, skipped


def _dataset_source(spec: HubDatasetSpec, name: str, text_field: str | None = None) -> Source:
    return Source("hf", spec.id, name, config=spec.config, split=spec.split, text_field=text_field)


def _local_sources(spec: LocalSpec, skipped: Counter) -> list[Source]:
    """The readable files a path, folder or glob names (unsupported files in folders counted)."""
    if spec.is_glob:
        matches = sorted(glob.glob(spec.path, recursive=True))
        if not matches:
            raise InputError(f"No files match {spec.path!r}.")
    elif not os.path.exists(spec.path):
        raise InputError(f"Input not found: {spec.path}")
    else:
        matches = [spec.path]
    sources = []
    for match in matches:
        if os.path.isdir(match):
            sources.extend(_folder_sources(Path(match), skipped))
            continue
        kind = _suffix_kind(match)
        if kind is None:
            raise InputError(f"Unsupported input type: {match} (expected one of {', '.join(ALL_SUFFIXES)}).")
        sources.append(Source(kind, match, match))
    return sources


def _folder_sources(folder: Path, skipped: Counter) -> list[Source]:
    if any(folder.glob("report*.json")):
        # The output of `clean` (e.g. shards for a global dedup pass):
        # its documents, not its rejects or reports.
        files = sorted(str(p) for p in folder.glob("part*.jsonl.gz"))
    else:
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    sources = []
    for path in files:
        kind = _suffix_kind(path)
        if kind is None:
            skipped["unsupported_file"] += 1
        else:
            sources.append(Source(kind, path, path))
    return sources


def _open_binary(path: str):
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    if path.lower().endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def _looks_binary(path: str) -> bool:
    with _open_binary(path) as f:
        head = f.read(_BINARY_SNIFF_BYTES)
    return b"\x00" in head


def _decode(raw: bytes, stats: Counter) -> str | None:
    """UTF-8, or CP1251 for legacy Cyrillic text; None (counted) if neither."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Much older Macedonian web text is Windows-1251. Bytes that are not UTF-8
    # but decode to mostly Cyrillic letters under CP1251 are that.
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        stats["invalid_utf8"] += 1
        return None
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    if letters and cyrillic / len(letters) >= 0.8:
        stats["decoded_cp1251"] += 1
        return text
    stats["invalid_utf8"] += 1
    return None


def _raw_lines(f, max_bytes: int, stats: Counter) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, bytes) with lines over ``max_bytes`` skipped unread."""
    lineno = 0
    while True:
        chunk = f.readline(max_bytes + 1)
        if not chunk:
            return
        lineno += 1
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            stats["line_too_long"] += 1
            # Skip the rest of the line in bounded pieces.
            while chunk and not chunk.endswith(b"\n"):
                chunk = f.readline(max_bytes + 1)
            continue
        yield lineno, chunk.rstrip(b"\r\n")


def _read_txt(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    with _open_binary(source.location) as f:
        paragraph: list[str] = []
        start = 0
        for lineno, raw in _raw_lines(f, options.max_line_bytes, stats):
            text = _decode(raw, stats)
            if text is None:
                continue
            if not options.paragraphs:
                if text.strip():
                    yield Document(text, source.name, f"{source.name}:{lineno}")
                continue
            if text.strip():
                if not paragraph:
                    start = lineno
                paragraph.append(text)
            elif paragraph:
                yield Document("\n".join(paragraph), source.name, f"{source.name}:{start}")
                paragraph = []
        if paragraph:
            yield Document("\n".join(paragraph), source.name, f"{source.name}:{start}")


def _read_jsonl(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    field = source.text_field or options.text_field
    with _open_binary(source.location) as f:
        for lineno, raw in _raw_lines(f, options.max_line_bytes, stats):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                stats["malformed_json"] += 1
                continue
            text = record.get(field) if isinstance(record, dict) else None
            if not isinstance(text, str):
                stats["missing_text_field"] += 1
                continue
            doc_id = record.get("id")
            doc_id = f"{source.name}:{doc_id}" if isinstance(doc_id, (str, int)) else f"{source.name}:{lineno}"
            yield Document(text, source.name, doc_id)


def _read_parquet(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    field = source.text_field or options.text_field
    try:
        parquet = pq.ParquetFile(source.location)
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid: not Parquet; OSError: a truncated footer
        raise InputError(f"Cannot read Parquet file {source.location}: {exc}") from None
    columns = parquet.schema_arrow.names
    if field not in columns:
        raise InputError(
            f"Parquet file {source.location} has no column {field!r} "
            f"(columns: {', '.join(columns)}); choose one with --text-field."
        )
    row = 0
    for batch in parquet.iter_batches(columns=[field], batch_size=1024):
        for text in batch.column(0).to_pylist():
            row += 1
            if not isinstance(text, str):
                stats["missing_text_field"] += 1
                continue
            yield Document(text, source.name, f"{source.name}:{row}")


def _read_hf(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    field = source.text_field or options.text_field
    for row, record in enumerate(_dataset_rows(source), start=1):
        text = record.get(field)
        if isinstance(text, str):
            yield Document(text, source.name, f"{source.name}:{record.get('id', row)}")
        elif row == 1 and field not in record:
            raise InputError(
                f"Dataset {source.name} has no field {field!r} "
                f"(fields: {', '.join(record)}); choose one with --text-field."
            )
        else:
            stats["missing_text_field"] += 1


def _dataset_rows(source: Source) -> Iterator[dict]:
    """The rows of a streamed dataset; InputError when it cannot be reached or read."""
    import datasets
    from datasets.exceptions import DatasetsError

    # Not reachable: OSError and the HTTP library's errors (network_errors); a bad config or split
    # name: ValueError; a dataset that needs a loading script: RuntimeError; damaged data: DatasetsError.
    errors = (*network_errors(), ValueError, RuntimeError, DatasetsError)
    try:
        datasets.logging.set_verbosity_error()
        yield from datasets.load_dataset(source.location, source.config, split=source.split, streaming=True)
    except errors as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Cannot read Hugging Face dataset {source.name}: {reason}") from None


def _read_wiki(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    from .wiki import iter_articles

    for title, text in iter_articles(source.location, stats):
        yield Document(text, source.name, f"{source.name}:{title}")


_READERS = {
    "txt": _read_txt,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "hf": _read_hf,
    "wiki": _read_wiki,
}


def read_source(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    """Stream the documents of one source; damage is counted in ``stats``."""
    if source.kind != "hf":
        if os.path.getsize(source.location) == 0:
            stats["empty_file"] += 1
            return
        try:
            # Text formats only: Parquet and bzip2'd XML are binary by nature.
            if source.kind in ("txt", "jsonl") and _looks_binary(source.location):
                stats["binary_file"] += 1
                return
        except (OSError, EOFError):
            stats["corrupt_file"] += 1
            return
    try:
        yield from _READERS[source.kind](source, options, stats)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        # A truncated or damaged archive: keep what was read, count the file.
        if isinstance(exc, PermissionError):
            raise InputError(f"Cannot read {source.location}: permission denied.") from None
        stats["corrupt_file"] += 1


def iter_texts(sources: list[Source], stats: Counter, options: ReadOptions | None = None) -> Iterator[str]:
    """The non-empty texts of ``sources``, in order (damage counted in ``stats``)."""
    options = options or ReadOptions()
    for source in sources:
        for doc in read_source(source, options, stats):
            if doc.text.strip():
                yield doc.text
