import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from click.testing import CliRunner

from macedonizer.cli import main
from macedonizer.corpus.pipeline import CleanConfig, RunOptions, parse_filters, run
from macedonizer.errors import MacedonizerError
from tests.conftest import SAMPLE_DIR, read_jsonl_gz
from tests.corpus import damaged

DIRTY = SAMPLE_DIR / "dirty.jsonl"
QUIET = RunOptions(progress=False)


def outcomes(out):
    result = {r["id"]: ("keep", r) for r in read_jsonl_gz(out)}
    result.update({r["id"]: (r["reason"], r) for r in read_jsonl_gz(out / "rejects", "*.jsonl.gz")})
    return result


def test_dirty_sample_is_repaired_or_dropped_as_annotated(tmp_path):
    out = run([str(DIRTY)], tmp_path / "out", options=RunOptions(progress=False, rejects=True))
    got = outcomes(out)
    expected = [json.loads(line) for line in DIRTY.read_text(encoding="utf-8").splitlines()]
    for lineno, row in enumerate(expected, 1):
        reason, record = got[f"{DIRTY.name}:{lineno}"]
        assert reason == row["expect"], (row["note"], record["text"])
    kept = [r for r in read_jsonl_gz(out)]
    texts = "\n".join(r["text"] for r in kept)
    # Repaired, scrubbed, never passed on broken.
    assert "Јазикот е најголемото богатство" in texts and "Ð" not in texts and "Р°" not in texts
    assert "marija.petrovska@primer.mk" not in texts and "<EMAIL>" in texts and "<IBAN>" in texts
    assert "Почетна" not in texts and "Плата на наставниците" in texts
    assert all(set(r) >= {"text", "source", "mk_score", "id"} for r in kept)


def test_report_explains_every_drop(tmp_path):
    out = run([str(SAMPLE_DIR)], tmp_path / "out", options=RunOptions(progress=False, rejects=True))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    docs = report["documents"]
    assert docs["in"] == docs["out"] + sum(d["docs"] for d in report["drops"].values())
    chars = report["characters"]
    assert chars["out"] + sum(d["chars"] for d in report["drops"].values()) <= chars["in"]
    # The histogram counts every document that reached the language identifier, kept or dropped after it.
    scored = [r["mk_score"] for _, r in outcomes(out).values() if r["mk_score"] is not None]
    bins = [0] * len(report["mk_score_histogram"])
    for value in scored:
        bins[min(len(bins) - 1, int(value * len(bins)))] += 1
    assert list(report["mk_score_histogram"].values()) == bins and 0 < len(scored) < docs["in"]
    assert report["skipped_on_read"] == {"unsupported_file": 2}  # README.md and __init__.py
    assert report["outputs"] == ["part-00000.jsonl.gz"]
    assert set(report["timings_s"]) >= {"normalize", "langid", "quality", "wall"}
    assert report["pii_replaced"] == {"email": 1, "phone": 1, "iban": 1}
    # Every sentence of the clean sample survives every filter.
    sample_lines = (SAMPLE_DIR / "mk-sample.txt").read_text(encoding="utf-8").splitlines()
    kept_ids = {r["id"] for r in read_jsonl_gz(out)}
    assert sum(1 for i in range(1, len(sample_lines) + 1) if f"mk-sample.txt:{i}" in kept_ids) \
        == len(sample_lines)


@pytest.mark.slow
def test_output_does_not_depend_on_the_number_of_workers(tmp_path):
    one = run([str(SAMPLE_DIR)], tmp_path / "one", options=QUIET)
    two = run([str(SAMPLE_DIR)], tmp_path / "two", options=RunOptions(progress=False, workers=2, batch_size=64))
    assert read_jsonl_gz(one) == read_jsonl_gz(two)


def test_shards_split_the_work_and_share_the_output_folder(tmp_path):
    out = tmp_path / "out"
    sample = str(SAMPLE_DIR / "mk-sample.txt")
    for index in range(3):
        run([sample], out, options=RunOptions(progress=False, shard=(index, 3)))
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"part-shard{i:05d}-of-00003-00000.jsonl.gz" for i in range(3)]
        + [f"report-shard{i:05d}-of-00003.json" for i in range(3)]
    )
    ids = [r["id"] for r in read_jsonl_gz(out, "part-shard*.jsonl.gz")]
    assert len(ids) == len(set(ids)) == 803
    # A shard run again replaces only its own files.
    run([sample], out, options=RunOptions(progress=False, shard=(1, 3)))
    assert len(list(out.iterdir())) == 6


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(MacedonizerError, match="exists and is not empty"):
        run([str(DIRTY)], out, options=QUIET)
    assert (out / "keep.txt").exists()
    run([str(DIRTY)], out, options=RunOptions(progress=False, overwrite=True))
    assert not (out / "keep.txt").exists() and (out / "report.json").exists()


def test_a_failing_run_leaves_nothing_behind(tmp_path):
    good = tmp_path / "a.txt"
    good.write_text("Првата реченица е тука и е доволно долга.\n" * 10, encoding="utf-8")
    bad = tmp_path / "b.parquet"
    pq.write_table(pa.table({"body": ["x"]}), bad)
    with pytest.raises(MacedonizerError, match="no column 'text'"):
        run([str(good), str(bad)], tmp_path / "out", options=QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.parquet"]


def test_inputs_without_documents_are_an_error(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(MacedonizerError, match="no documents"):
        run([str(tmp_path / "empty.txt")], tmp_path / "out", options=QUIET)
    assert not (tmp_path / "out").exists()


def test_filter_groups(tmp_path):
    assert parse_filters("all") == ("langid", "quality", "dedup", "near-dedup", "pii")
    assert parse_filters("lang") == ("langid", "dedup")
    assert parse_filters("pii,langid") == ("langid", "pii")
    assert parse_filters("none") == ()
    with pytest.raises(MacedonizerError, match="Unknown filter group 'lagn'"):
        parse_filters("lagn")
    path = tmp_path / "short.txt"
    path.write_text("Добар ден.\nДобар ден!\nСе гледаме утре, пријателе.\n", encoding="utf-8")
    out = run([str(path)], tmp_path / "out", CleanConfig(filters=parse_filters("lang")), QUIET)
    # Short sentences pass (no quality filters), the duplicate does not.
    assert [r["text"] for r in read_jsonl_gz(out)] == ["Добар ден.", "Се гледаме утре, пријателе."]


def test_threshold_is_an_option(tmp_path):
    path = tmp_path / "bg.txt"
    path.write_text("Това е добре, но вече е късно за среща.\n", encoding="utf-8")
    out = run([str(path)], tmp_path / "default", options=QUIET)
    assert read_jsonl_gz(out) == []
    out = run([str(path)], tmp_path / "zero", CleanConfig(mk_threshold=0.0), QUIET)
    [record] = read_jsonl_gz(out)
    assert record["mk_score"] < 0.5


def test_without_the_lang_filter_the_language_id_does_not_run(tmp_path, monkeypatch):
    def no_language_id(*args, **kwargs):
        raise AssertionError("the language ID ran without the langid filter")

    monkeypatch.setattr("macedonizer.corpus.worker.langid.score", no_language_id)
    out = run([str(DIRTY)], tmp_path / "out", CleanConfig(filters=parse_filters("quality,dedup,pii")),
              RunOptions(progress=False, rejects=True))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    records = [r for _, r in outcomes(out).values()]
    assert records and all(r["mk_score"] is None for r in records)
    assert sum(report["mk_score_histogram"].values()) == 0 and "langid" not in report["timings_s"]


def test_a_clean_output_folder_is_an_input_for_a_global_dedup_pass(tmp_path):
    shards = tmp_path / "shards"
    for index in range(2):
        run([str(DIRTY)], shards, options=RunOptions(progress=False, rejects=True, shard=(index, 2)))
    assert (shards / "rejects").is_dir()
    out = run([str(shards)], tmp_path / "global", CleanConfig(filters=parse_filters("dedup,near-dedup")), QUIET)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    kept_by_shards = len(read_jsonl_gz(shards, "part*.jsonl.gz"))
    # Rejects and reports are not read back in.
    assert report["documents"]["in"] == kept_by_shards
    assert report["skipped_on_read"] == {}
    # The duplicate pairs of the dirty sample are consecutive lines, so the
    # shards split them and only the global pass can see both copies.
    assert set(report["drops"]) == {"duplicate", "near_duplicate"}


GOOD = ["Добро утро, драги пријатели од Охрид.", "Вечерта помина мирно покрај езерото."]


def damaged_among_good(tmp_path):
    """A good .txt and four damaged inputs around it: .gz, .xml.bz2, Parquet cut and Parquet row group."""
    good = tmp_path / "good.txt"
    good.write_text("".join(f"{text}\n" for text in GOOD), encoding="utf-8")
    bad = [make(tmp_path) for make in (damaged.gzip_cut, damaged.wiki_bz2_cut, damaged.parquet_cut,
                                       damaged.parquet_row_group_damaged)]
    return [bad[0], good, *bad[1:]], bad


def documents_read(reason: str) -> int:
    return int(reason.rpartition("read ")[2].split()[0])


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_damaged_inputs_are_reported_per_file_and_the_rest_is_cleaned(tmp_path, workers):
    inputs, bad = damaged_among_good(tmp_path)
    out = run([str(p) for p in inputs], tmp_path / "out", CleanConfig(filters=()),
              RunOptions(progress=False, workers=workers, batch_size=16))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert list(report["unreadable"]) == [str(p) for p in bad]
    assert report["skipped_on_read"] == {"corrupt_file": len(bad)}
    # Nothing lost: the good file whole, each damaged one up to its damage, in input order.
    read = [documents_read(report["unreadable"][str(p)]) for p in bad]
    assert read[0] > 0 and read[1:] == [0, 0, 2 * damaged.ROWS_PER_GROUP]
    assert [r["text"] for r in read_jsonl_gz(out)] == damaged.DOCS[: read[0]] + GOOD + damaged.DOCS[: read[3]]


def test_inputs_that_are_all_damaged_say_which_in_the_error(tmp_path):
    bad = [damaged.wiki_bz2_cut(tmp_path), damaged.parquet_cut(tmp_path)]
    with pytest.raises(MacedonizerError, match="no documents") as caught:
        run([str(p) for p in bad], tmp_path / "out", options=QUIET)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[0].strip() for line in lines[1:]] == [f"unreadable input {p}" for p in bad]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers, quiet", [("1", []), pytest.param("2", ["-q"], marks=pytest.mark.slow)])
def test_the_cli_warns_once_per_damaged_file_and_exits_0(tmp_path, workers, quiet):
    inputs, bad = damaged_among_good(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["clean", *map(str, inputs), "-o", str(out), "--filters", "none",
                                       "--workers", workers, *quiet])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == len(bad)
    for path, line in zip(bad, warnings):
        assert line.startswith(f"Warning: unreadable input {path}: truncated or corrupt (")
        assert sum(str(path) in other for other in result.output.splitlines()) == 1
    texts = [r["text"] for r in read_jsonl_gz(out)]
    assert all(text in texts for text in GOOD)
