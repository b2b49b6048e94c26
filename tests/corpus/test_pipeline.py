import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from macedonizer.corpus.pipeline import CleanConfig, RunOptions, parse_filters, run
from macedonizer.errors import MacedonizerError
from tests.conftest import SAMPLE_DIR, read_jsonl_gz

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
        reason, record = got[f"{DIRTY}:{lineno}"]
        assert reason == row["expect"], (row["note"], record["text"])
    kept = [r for r in read_jsonl_gz(out)]
    texts = "\n".join(r["text"] for r in kept)
    # Repaired, scrubbed, never passed on broken.
    assert "Јазикот е најголемото богатство" in texts and "Ð" not in texts and "Р°" not in texts
    assert "marija.petrovska@primer.mk" not in texts and "<EMAIL>" in texts and "<IBAN>" in texts
    assert "Почетна" not in texts and "Плата на наставниците" in texts
    assert all(set(r) >= {"text", "source", "mk_score", "id"} for r in kept)


def test_report_explains_every_drop(tmp_path):
    out = run([str(SAMPLE_DIR)], tmp_path / "out", options=QUIET)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    docs = report["documents"]
    assert docs["in"] == docs["out"] + sum(d["docs"] for d in report["drops"].values())
    chars = report["characters"]
    assert chars["out"] + sum(d["chars"] for d in report["drops"].values()) <= chars["in"]
    assert sum(report["mk_score_histogram"].values()) <= docs["in"]
    assert report["skipped_on_read"] == {"unsupported_file": 2}  # README.md and __init__.py
    assert report["outputs"] == ["part-00000.jsonl.gz"]
    assert set(report["timings_s"]) >= {"normalize", "langid", "quality", "wall"}
    assert report["pii_replaced"] == {"email": 1, "phone": 1, "iban": 1}
    # Every sentence of the clean sample survives every filter.
    sample_lines = (SAMPLE_DIR / "mk-sample.txt").read_text(encoding="utf-8").splitlines()
    kept_ids = {r["id"] for r in read_jsonl_gz(out)}
    assert sum(1 for i in range(1, len(sample_lines) + 1) if f"{SAMPLE_DIR / 'mk-sample.txt'}:{i}" in kept_ids) \
        == len(sample_lines)


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
