"""Readers: every input ``clean`` accepts becomes a stream of Documents.

Inputs are files (``.txt``, ``.txt.gz``, ``.jsonl``, ``.jsonl.gz``,
``.parquet``, MediaWiki ``.xml.bz2`` dumps), folders and globs of those,
Hugging Face datasets as ``hf:ID[:CONFIG[:SPLIT]]`` (streamed, never
downloaded whole) and bundled recipes as ``corpus:NAME``.

Damage inside a file (invalid UTF-8, a malformed JSON line, a line too long
to be text) is skipped and counted. A file that cannot be read to its end
(a truncated or corrupt ``.gz`` or ``.bz2`` stream, a Parquet file cut short
or with a damaged row group, an XML dump that stops mid-way, binary data
named ``.txt``) is skipped from the damage on and reported, never fatal: the
documents read before the damage are kept, ``ReadStats.unreadable`` names the
file with the reason and how many documents were kept, and the run goes on
with the next input. (Garbage inside a compressed stream, unlike a cut, is
noticed a little after it starts: the last document read may be garbled.)
A problem that makes an input unusable as asked (a
missing path, a Parquet file without the text column, a file without read
permission, an unreachable dataset) raises
:class:`~macedonizer.errors.InputError` and stops the run; a malformed spec,
:class:`~macedonizer.errors.ConfigError` (``macedonizer.specs``).

pyarrow and datasets are imported by the readers that need them (Parquet
files, ``hf:`` datasets): 0.2 s and 1 s, measured on two cores, which a
clean of text files, the tokenizer and every other reader of plain text
would otherwise pay for nothing.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import ParseError

from mwxml.errors import MalformedXML

from ..errors import InputError, first_line
from ..hub import network_errors
from ..specs import SAMPLE_RECIPE, HubDatasetSpec, LocalSpec, RecipeSpec, parse
from .config import ReadOptions
from .document import Document
from .recipes import corpora_dir, load_recipe
from .wiki import iter_articles

TEXT_SUFFIXES = (".txt", ".txt.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
WIKI_SUFFIXES = (".xml.bz2", ".xml")
ALL_SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES + WIKI_SUFFIXES

_BINARY_SNIFF_BYTES = 8192

# What reading a truncated or corrupt file raises: gzip and bz2 at the end of a
# cut stream (EOFError) or on bad data (OSError, gzip.BadGzipFile, zlib.error);
# pyarrow's ArrowIOError is an OSError. Readers turn their own (pyarrow's
# ArrowInvalid, XML parse errors) into DamagedInput.
_STREAM_ERRORS = (OSError, EOFError, zlib.error)


class DamagedInput(InputError):
    """A file that cannot be read to its end; :func:`read_source` reports it and goes on."""


class ReadStats(Counter):
    """What reading skipped: counts by kind, and the files that could not be read to their end.

    ``unreadable`` maps each such file to one line saying why and how many of
    its documents were kept. A plain ``Counter`` works too, with the counts only.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unreadable: dict[str, str] = {}


def unreadable_lines(unreadable: dict[str, str]) -> list[str]:
    """One line per file a report's ``unreadable`` names, for people."""
    return [f"unreadable input {path}: {reason}" for path, reason in unreadable.items()]


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
        root = _glob_root(spec.path) if spec.is_glob else os.path.dirname(match)
        sources.append(Source(kind, match, os.path.relpath(match, root or ".")))
    return sources


def _glob_root(pattern: str) -> str:
    """The folder a glob searches: its parts before the first one with a wildcard."""
    parts = Path(pattern).parts
    fixed = parts[:next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    return str(Path(*fixed)) if fixed else "."


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
        else:  # named relative to the folder: documents record no absolute path
            sources.append(Source(kind, path, os.path.relpath(path, folder)))
    return sources


def _open_binary(path: str):
    if path.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    if path.lower().endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def _looks_binary(path: str) -> bool:
    """Whether the (decompressed) start holds a NUL byte; judged on what precedes any damage."""
    head = b""
    with _open_binary(path) as f:
        try:
            while len(head) < _BINARY_SNIFF_BYTES:
                piece = f.read1(_BINARY_SNIFF_BYTES - len(head))
                if not piece:
                    break
                head += piece
        except _STREAM_ERRORS:
            pass  # the reader meets the same damage and reports it
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
    except pa.ArrowInvalid as exc:  # not Parquet, or cut short (no footer); a damaged footer: OSError
        raise DamagedInput(str(exc)) from None
    columns = parquet.schema_arrow.names
    if field not in columns:
        raise InputError(
            f"Parquet file {source.location} has no column {field!r} "
            f"(columns: {', '.join(columns)}); choose one with --text-field."
        )
    row = 0
    # Row group by row group, so that damage in one keeps the rows before it.
    for group in range(parquet.num_row_groups):
        try:
            for batch in parquet.iter_batches(columns=[field], batch_size=1024, row_groups=[group]):
                for text in batch.column(0).to_pylist():
                    row += 1
                    if not isinstance(text, str):
                        stats["missing_text_field"] += 1
                        continue
                    yield Document(text, source.name, f"{source.name}:{row}")
        except (pa.ArrowException, OSError) as exc:  # ArrowInvalid, or OSError: a damaged page
            raise DamagedInput(f"row group {group + 1} of {parquet.num_row_groups}: {exc}") from None


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
        raise InputError(f"Cannot read Hugging Face dataset {source.name}: {first_line(exc)}") from None


def _read_wiki(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    try:
        for title, text in iter_articles(source.location, stats):
            yield Document(text, source.name, f"{source.name}:{title}")
    except (ParseError, MalformedXML) as exc:  # an XML dump that stops mid-way
        raise DamagedInput(f"malformed XML: {exc}") from None


_READERS = {
    "txt": _read_txt,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "hf": _read_hf,
    "wiki": _read_wiki,
}


def read_source(source: Source, options: ReadOptions, stats: Counter) -> Iterator[Document]:
    """Stream the documents of one source; damage is counted in ``stats``.

    A file that cannot be read to its end yields its documents up to the
    damage and is counted as ``corrupt_file`` (or ``binary_file``) and, when
    ``stats`` is a :class:`ReadStats`, named in ``stats.unreadable``.
    """
    kept = 0
    try:
        if source.kind != "hf":
            if os.path.getsize(source.location) == 0:
                stats["empty_file"] += 1
                return
            # Text formats only: Parquet and bzip2'd XML are binary by nature.
            if source.kind in ("txt", "jsonl") and _looks_binary(source.location):
                _skip_file(stats, "binary_file", source, "binary data, not text")
                return
        for doc in _READERS[source.kind](source, options, stats):
            kept += 1
            yield doc
    except PermissionError:
        raise InputError(f"Cannot read {source.location}: permission denied.") from None
    except (DamagedInput, *_STREAM_ERRORS) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        _skip_file(stats, "corrupt_file", source,
                   f"truncated or corrupt ({reason}); read {kept:,} documents before the damage")


def _skip_file(stats: Counter, kind: str, source: Source, reason: str) -> None:
    stats[kind] += 1
    if isinstance(stats, ReadStats):
        # By its full path: the warning must say which file to repair (a document names its file relatively).
        stats.unreadable[source.location if source.kind != "hf" else source.name] = reason


def iter_texts(sources: list[Source], stats: Counter, options: ReadOptions | None = None) -> Iterator[str]:
    """The non-empty texts of ``sources``, in order (damage counted in ``stats``)."""
    options = options or ReadOptions()
    for source in sources:
        for doc in read_source(source, options, stats):
            if doc.text.strip():
                yield doc.text
