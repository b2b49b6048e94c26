import bz2
import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from macedonizer.corpus.readers import ReadOptions, ReadStats, Source, read_source, resolve_inputs
from macedonizer.errors import MacedonizerError
from tests.corpus import damaged

MK = ["Првата реченица е тука.", "Втората реченица е по неа.", "Третата реченица е последна."]


def read_all(spec, **options):
    sources, skipped = resolve_inputs([str(spec)])
    stats = ReadStats(skipped)
    docs = [d for s in sources for d in read_source(s, ReadOptions(**options), stats)]
    return docs, stats


def test_txt_one_document_per_line(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(MK[0] + "\n\n" + MK[1] + "\r\n" + MK[2], encoding="utf-8")
    docs, stats = read_all(path)
    assert [d.text for d in docs] == MK
    assert [d.id for d in docs] == ["a.txt:1", "a.txt:3", "a.txt:4"]  # named relative to the input: no folder
    assert all(d.source == "a.txt" for d in docs)


def test_txt_paragraphs(tmp_path):
    path = tmp_path / "a.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(f"{MK[0]}\n{MK[1]}\n\n\n{MK[2]}\n")
    docs, _ = read_all(path, paragraphs=True)
    assert [d.text for d in docs] == [f"{MK[0]}\n{MK[1]}", MK[2]]


def test_jsonl_with_damage_counted(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"id": "x1", "body": MK[0]}, ensure_ascii=False) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"other": 1}) + "\n")
        f.write(json.dumps([1, 2]) + "\n")
        f.write(json.dumps({"body": MK[1]}, ensure_ascii=False) + "\n")
    docs, stats = read_all(path, text_field="body")
    assert [d.text for d in docs] == MK[:2]
    assert docs[0].id == f"{path.name}:x1" and docs[1].id == f"{path.name}:5"
    assert stats["malformed_json"] == 1 and stats["missing_text_field"] == 2


def test_parquet_and_missing_column(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": [MK[0], None, MK[1]], "n": [1, 2, 3]}), path)
    docs, stats = read_all(path)
    assert [d.text for d in docs] == MK[:2] and stats["missing_text_field"] == 1
    with pytest.raises(MacedonizerError, match="no column 'content'.*columns: text, n"):
        read_all(path, text_field="content")
    for damage in (b"not parquet at all", b"PAR1" + bytes(64) + b"PAR1"):  # ArrowInvalid, then OSError
        path.write_bytes(damage)
        docs, stats = read_all(path)
        assert docs == [] and stats == Counter(corrupt_file=1) and list(stats.unreadable) == [str(path)]


def test_folders_and_globs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text(MK[0], encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text(MK[1], encoding="utf-8")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    docs, stats = read_all(tmp_path)
    assert [d.text for d in docs] == MK[:2]
    assert stats["unsupported_file"] == 1
    docs, _ = read_all(tmp_path / "**" / "*.txt")
    assert sorted(d.text for d in docs) == sorted(MK[:2])


def test_missing_inputs_are_errors(tmp_path):
    with pytest.raises(MacedonizerError, match="Input not found"):
        resolve_inputs([str(tmp_path / "nope.txt")])
    with pytest.raises(MacedonizerError, match="No files match"):
        resolve_inputs([str(tmp_path / "*.jsonl")])
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(MacedonizerError, match="Unsupported input type"):
        resolve_inputs([str(tmp_path / "x.pdf")])


def test_invalid_utf8_binary_and_empty_files_are_counted(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(MK[0].encode() + b"\n\xff\xfe\x80 broken \xc3\x28\n" + MK[1].encode() + b"\n")
    docs, stats = read_all(bad)
    assert [d.text for d in docs] == MK[:2] and stats["invalid_utf8"] == 1

    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    assert read_all(binary) == ([], Counter(binary_file=1))

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert read_all(empty) == ([], Counter(empty_file=1))


def test_legacy_cp1251_lines_are_decoded(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes(MK[0].encode("cp1251") + b"\n")
    docs, stats = read_all(path)
    assert [d.text for d in docs] == [MK[0]] and stats["decoded_cp1251"] == 1


def test_a_huge_line_is_skipped_without_reading_it_whole(tmp_path):
    path = tmp_path / "huge.txt"
    path.write_bytes(MK[0].encode() + b"\n" + b"a" * 10_000 + b"\n" + MK[1].encode())
    docs, stats = read_all(path, max_line_bytes=1000)
    assert [d.text for d in docs] == MK[:2] and stats["line_too_long"] == 1


def test_hf_specs_resolve_to_datasets_by_their_spec():
    sources, _ = resolve_inputs(["hf:wikimedia/wikipedia:20231101.mk", "hf:a/b::validation"])
    assert sources == [
        Source("hf", "wikimedia/wikipedia", "hf:wikimedia/wikipedia:20231101.mk", config="20231101.mk", split="train"),
        Source("hf", "a/b", "hf:a/b::validation", split="validation")]
    with pytest.raises(MacedonizerError, match="Invalid dataset spec 'hf:'"):
        resolve_inputs(["hf:"])


def test_hf_dataset_is_streamed_from_a_local_folder(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    with open(folder / "train.jsonl", "w", encoding="utf-8") as f:
        for text in MK:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    docs, _ = read_all(f"hf:{folder}")
    assert [d.text for d in docs] == MK
    with pytest.raises(MacedonizerError, match="no field 'body'"):
        read_all(f"hf:{folder}", text_field="body")


def test_corpus_recipes_resolve_to_datasets():
    sources, _ = resolve_inputs(["corpus:wikipedia"])
    assert sources == [Source("hf", "wikimedia/wikipedia", "corpus:wikipedia", config="20231101.mk",
                              split="train", text_field="text")]
    with pytest.raises(MacedonizerError, match="Unknown corpus recipe 'nope'.*wikipedia"):
        resolve_inputs(["corpus:nope"])


WIKI_XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="mk">
  <siteinfo><sitename>Википедија</sitename><dbname>mkwiki</dbname><base>https://mk.wikipedia.org</base>
    <generator>MediaWiki 1.41</generator><case>first-letter</case>
    <namespaces><namespace key="0" case="first-letter" /></namespaces></siteinfo>
  <page><title>Охрид</title><ns>0</ns><id>1</id>
    <revision><id>10</id><timestamp>2024-01-01T00:00:00Z</timestamp>
      <contributor><username>Тест</username><id>1</id></contributor>
      <model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">{{Инфокутија град|име=Охрид}}
'''Охрид''' е град во [[Северна Македонија|Македонија]], на [[Охридско Езеро|Охридското Езеро]].&lt;ref&gt;Извор&lt;/ref&gt;

== Историја ==
Градот бил познат како Лихнид.
[[Податотека:Ohrid.jpg|мини|Поглед]]

== Наводи ==
* Некој извор
[[Категорија:Градови]]
[[en:Ohrid]]</text></revision></page>
  <page><title>Стар Охрид</title><ns>0</ns><id>2</id><redirect title="Охрид" />
    <revision><id>11</id><timestamp>2024-01-01T00:00:00Z</timestamp>
      <contributor><username>Тест</username><id>1</id></contributor>
      <model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">#REDIRECT [[Охрид]]</text></revision></page>
  <page><title>Разговор:Охрид</title><ns>1</ns><id>3</id>
    <revision><id>12</id><timestamp>2024-01-01T00:00:00Z</timestamp>
      <contributor><username>Тест</username><id>1</id></contributor>
      <model>wikitext</model><format>text/x-wiki</format>
      <text xml:space="preserve">Дискусија.</text></revision></page>
</mediawiki>
"""


def test_mediawiki_dump_articles_become_plain_text(tmp_path):
    path = tmp_path / "mkwiki-latest-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(WIKI_XML.encode("utf-8")))
    docs, _ = read_all(path)
    assert [d.text for d in docs] == [
        "Охрид е град во Македонија, на Охридското Езеро.\n\nГрадот бил познат како Лихнид."
    ]
    assert docs[0].id == f"{path.name}:Охрид"



# What each damaged file raised before it was reported (a traceback, or for
# Parquet an InputError that stopped the run), the reason that names it now,
# and how many of its documents are read before the damage at least. Garbage
# in a bz2 block or a Parquet file without its footer yields nothing.
DAMAGED = {
    damaged.gzip_cut: ("Compressed file ended before the end-of-stream marker", 70),  # EOFError
    damaged.gzip_jsonl_cut: ("Compressed file ended before the end-of-stream marker", 70),  # EOFError
    damaged.gzip_overwritten: ("Error -3 while decompressing", 70),  # zlib.error
    damaged.wiki_bz2_cut: ("Compressed file ended before the end-of-stream marker", 0),  # EOFError
    damaged.wiki_bz2_overwritten: ("Invalid data stream", 0),  # OSError
    damaged.wiki_xml_cut: ("malformed XML", 90),  # xml.etree.ElementTree.ParseError
    damaged.parquet_cut: ("magic bytes not found", 0),  # ArrowInvalid
    damaged.parquet_footer_cut: ("deserialize thrift", 0),  # OSError
    damaged.parquet_row_group_damaged: ("row group 3 of 4", 2 * damaged.ROWS_PER_GROUP),  # OSError
}


@pytest.mark.parametrize("make", DAMAGED, ids=lambda make: make.__name__)
def test_a_truncated_or_corrupt_file_keeps_the_documents_before_the_damage_and_is_named(tmp_path, make):
    message, at_least = DAMAGED[make]
    path = make(tmp_path)
    docs, stats = read_all(path)
    wiki = path.name.endswith((".xml", ".xml.bz2"))
    read = [d.id.rpartition(":")[2] for d in docs] if wiki else [d.text for d in docs]
    if "overwritten" in make.__name__:
        read = read[:-1]  # garbage is noticed a little after it starts: the last document may be garbled
    assert read == (damaged.titles() if wiki else damaged.DOCS)[: len(read)]  # the beginning, in order
    assert len(docs) >= at_least  # gzip: more than the 8 KiB a binary sniff reads, which must not fail first
    assert stats == Counter(corrupt_file=1)
    [(name, reason)] = stats.unreadable.items()
    assert name == str(path) and message in reason and "\n" not in reason
    assert reason.endswith(f"read {len(docs)} documents before the damage")
