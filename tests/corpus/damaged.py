"""Inputs damaged the way real ones are: cut short by a failed copy, or overwritten mid-way.

Each maker writes one damaged file into a folder and returns its path; the
documents it held intact are ``DOCS`` (or, for the wiki dumps, ``titles``),
so a test can check that what a reader kept is their beginning.
"""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DOCS = [f"Ова е реченицата број {i} од еден подолг македонски текст." for i in range(200)]
ROWS_PER_GROUP = 50


def _text() -> bytes:
    return "".join(f"{doc}\n" for doc in DOCS).encode()


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _overwrite_middle(data: bytes, size: int = 64) -> bytes:
    middle = len(data) // 2
    return data[:middle] + b"\xa5" * size + data[middle + size:]


def gzip_cut(folder: Path) -> Path:
    """A .txt.gz cut in half: gzip raises EOFError at the cut."""
    path = folder / "cut.txt.gz"
    path.write_bytes(_half(gzip.compress(_text(), mtime=0)))
    return path


def gzip_jsonl_cut(folder: Path) -> Path:
    path = folder / "cut.jsonl.gz"
    lines = "".join(json.dumps({"text": doc}, ensure_ascii=False) + "\n" for doc in DOCS)
    path.write_bytes(_half(gzip.compress(lines.encode(), mtime=0)))
    return path


def gzip_overwritten(folder: Path) -> Path:
    """A .txt.gz with garbage in the middle of the deflate stream: zlib.error."""
    path = folder / "overwritten.txt.gz"
    path.write_bytes(_overwrite_middle(gzip.compress(_text(), mtime=0)))
    return path


def _dump(pages: int) -> str:
    body = "".join(
        f"<page><title>Страница {i}</title><ns>0</ns><id>{i + 1}</id><revision><id>{i + 100}</id>"
        f"<timestamp>2024-01-01T00:00:00Z</timestamp><contributor><username>Тест</username><id>1</id>"
        f"</contributor><model>wikitext</model><format>text/x-wiki</format>"
        f'<text xml:space="preserve">{DOCS[i]}</text></revision></page>\n'
        for i in range(pages)
    )
    return (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="mk">\n'
        "<siteinfo><sitename>Википедија</sitename><dbname>mkwiki</dbname></siteinfo>\n"
        f"{body}</mediawiki>\n"
    )


def titles(pages: int = len(DOCS)) -> list[str]:
    return [f"Страница {i}" for i in range(pages)]


def wiki_bz2_cut(folder: Path) -> Path:
    """A MediaWiki .xml.bz2 dump cut in half: bz2 raises EOFError."""
    path = folder / "cut-pages-articles.xml.bz2"
    path.write_bytes(_half(bz2.compress(_dump(len(DOCS)).encode())))
    return path


def wiki_bz2_overwritten(folder: Path) -> Path:
    """A .xml.bz2 dump with garbage in the middle: bz2 raises OSError (invalid data stream)."""
    path = folder / "overwritten-pages-articles.xml.bz2"
    path.write_bytes(_overwrite_middle(bz2.compress(_dump(len(DOCS)).encode())))
    return path


def wiki_xml_cut(folder: Path) -> Path:
    """An uncompressed .xml dump that stops mid-way: the XML parser raises ParseError."""
    path = folder / "cut-pages-articles.xml"
    path.write_bytes(_half(_dump(len(DOCS)).encode()))
    return path


def _parquet(folder: Path) -> bytes:
    scratch = folder / ".whole.parquet"
    pq.write_table(pa.table({"text": DOCS}), scratch, row_group_size=ROWS_PER_GROUP)
    data = scratch.read_bytes()
    scratch.unlink()
    return data


def parquet_cut(folder: Path) -> Path:
    """A Parquet file cut in the middle of its row groups: no footer, pyarrow raises ArrowInvalid."""
    path = folder / "cut.parquet"
    path.write_bytes(_half(_parquet(folder)))
    return path


def parquet_footer_cut(folder: Path) -> Path:
    """A Parquet file whose footer lost bytes (its length and magic kept): pyarrow raises OSError."""
    path = folder / "footer.parquet"
    data = _parquet(folder)
    path.write_bytes(data[:-40] + data[-8:])
    return path


def parquet_row_group_damaged(folder: Path, group: int = 2) -> Path:
    """A Parquet file with garbage over the page header of one row group (footer intact).

    pyarrow reads it lazily and fails at that group; the ``group * ROWS_PER_GROUP``
    rows before it are readable.
    """
    path = folder / "row-group.parquet"
    data = _parquet(folder)
    path.write_bytes(data)
    offset = pq.ParquetFile(path).metadata.row_group(group).column(0).data_page_offset
    path.write_bytes(data[:offset] + b"\xab" * 64 + data[offset + 64:])
    return path
