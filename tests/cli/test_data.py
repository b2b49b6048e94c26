import json
import os
import subprocess
import sys

from click.testing import CliRunner

from macedonizer.cli import main
from tests.conftest import SAMPLE_DIR, read_jsonl_gz


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_clean_end_to_end_on_the_sample(tmp_path):
    out = tmp_path / "corpus"
    result = invoke("clean", SAMPLE_DIR, "-o", out, "--rejects", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "Kept " in result.output and "not_macedonian" in result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["documents"]["out"] == len(read_jsonl_gz(out)) > 800
    assert read_jsonl_gz(out / "rejects", "*.jsonl.gz")


def test_clean_options_reach_the_pipeline(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"body": "Добар ден.\n\nКако си?"}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("clean", path, "-o", out, "--text-field", "body", "--filters", "langid", "-q")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert [r["text"] for r in read_jsonl_gz(out)] == ["Добар ден.\n\nКако си?"]


def test_user_errors_are_one_sentence_and_exit_1(tmp_path):
    cases = [
        (["clean", tmp_path / "missing.txt", "-o", tmp_path / "o"], "Input not found"),
        (["clean", SAMPLE_DIR, "-o", tmp_path / "o", "--filters", "bogus"], "Unknown filter group"),
        (["clean", "corpus:nope", "-o", tmp_path / "o"], "Unknown corpus recipe"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 1
        assert result.output.startswith("Error: ") and message in result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("clean", SAMPLE_DIR, "-o", blocker / "out")
    assert result.exit_code == 1 and result.output.startswith("Error: Cannot write the output")
    assert result.output.count("\n") == 1
    result = invoke("clean", SAMPLE_DIR, "-o", tmp_path / "o", "--shard", "3/2")
    assert result.exit_code == 2 and "Invalid value for '--shard'" in result.output


def test_an_unreachable_dataset_is_a_clean_error(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [sys.executable, "-m", "macedonizer", "clean", "hf:nobody/no-such-dataset", "-o", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Cannot read Hugging Face dataset hf:nobody/no-such-dataset")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_huge_single_line_is_skipped_and_counted(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.write("Првата реченица е тука и е доволно долга за да помине.\n".encode())
        f.write(b"x" * 50_000_000 + b"\n")
    out = tmp_path / "out"
    result = invoke("clean", path, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["skipped_on_read"] == {"line_too_long": 1}
    assert report["documents"] == {"in": 1, "out": 1}


def test_corpora_lists_the_recipes():
    result = invoke("corpora")
    assert result.exit_code == 0
    for name in ("wikipedia", "fineweb2", "culturax", "hplt2", "lvstck", "sample"):
        assert f"corpus:{name}" in result.output


def test_tokenizer_names_its_alphabet_and_the_characters_behind_unk(tmp_path):
    symbols = tmp_path / "symbols.txt"
    symbols.write_text("Цената е 5 € ⟨x⟩ 😀 😀\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["tokenizer", str(SAMPLE_DIR / "mk-sample.txt"), "-o", str(tmp_path / "tok"),
                                       "--vocab-size", "1500", "--eval-text", str(symbols)])
    assert result.exit_code == 0, result.output
    assert "Alphabet: " in result.output and "symbol blocks covered: none; left out for want of room: " \
        "Latin-1 Supplement" in result.output
    assert "[UNK] from: 😀 (U+1F600) ×2" in result.output
