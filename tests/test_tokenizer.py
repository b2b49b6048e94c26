import itertools
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer

from macedonizer.cli import main
from macedonizer.corpus.pipeline import RunOptions
from macedonizer.corpus.pipeline import run as clean
from macedonizer.errors import MacedonizerError
from macedonizer.tokenizer import (
    LOWER,
    MACEDONIAN_LETTERS,
    SANITY_SENTENCE,
    SPECIAL_TOKENS,
    TokenizerConfig,
    _ensure_required,
    coverage,
    required_pieces,
    run,
)
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")


@pytest.fixture(scope="module")
def cased(tmp_path_factory):
    return run([SAMPLE], tmp_path_factory.mktemp("tok") / "cased", TokenizerConfig(vocab_size=1500), progress=False)


def test_alphabet_is_the_31_letters_and_the_accented_two():
    assert len(MACEDONIAN_LETTERS) == 2 * (31 + 2)
    assert set("ѓќѕљњџјѐѝ") <= set(LOWER)


def test_output_is_a_complete_bert_tokenizer_folder(cased):
    names = {p.name for p in cased.iterdir()}
    assert names == {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "stats.json"}
    vocab = (cased / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 1500 and vocab[:5] == SPECIAL_TOKENS
    config = json.loads((cased / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["strip_accents"] is False and config["do_lower_case"] is False
    assert config["model_max_length"] == 512


def test_every_letter_is_a_token_in_both_positions(cased):
    vocab = Tokenizer.from_file(str(cased / "tokenizer.json")).get_vocab()
    for letter in MACEDONIAN_LETTERS:
        assert letter in vocab and f"##{letter}" in vocab


def test_stats_report_coverage_and_makeup(cased):
    stats = json.loads((cased / "stats.json").read_text(encoding="utf-8"))
    assert stats["vocab_size"] == 1500
    held_out = stats["evaluation"]["held-out"]
    assert held_out["texts"] == 8 and held_out["fertility"] >= 1.0 and held_out["unk_rate"] == 0.0
    makeup = stats["vocabulary"]
    assert makeup["special"] == 5 and makeup["cyrillic"] > 1000 and makeup["continuation"] > 0
    assert stats["corpus"]["documents"] == 803


LOAD_WITHOUT_MACEDONIZER = """
import sys
sys.modules["macedonizer"] = None  # prove the artefact needs nothing of ours
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
text = sys.argv[2]
ids = tok(text)["input_ids"]
print(tok.model_max_length)
print(tok.convert_ids_to_tokens(ids)[0], tok.convert_ids_to_tokens(ids)[-1], tok.unk_token_id in ids)
print(tok.decode(ids, skip_special_tokens=True))
print(tok("а", "б")["token_type_ids"])
"""


@pytest.mark.slow  # a fresh interpreter
@pytest.mark.parametrize("uncased", [False, True])
def test_letters_round_trip_through_plain_transformers(tmp_path, uncased):
    out = run([SAMPLE], tmp_path / "tok", TokenizerConfig(vocab_size=1500, uncased=uncased), progress=False)
    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_MACEDONIZER, str(out), SANITY_SENTENCE],
                            capture_output=True, text=True, check=True)
    max_length, ends, decoded, types = result.stdout.splitlines()
    assert max_length == "512"
    assert ends == "[CLS] [SEP] False"
    expected = SANITY_SENTENCE.lower() if uncased else SANITY_SENTENCE
    squash = lambda s: "".join(s.split())  # noqa: E731  (only spaces around punctuation may differ)
    assert squash(decoded) == squash(expected)
    assert decoded.split()[:3] == expected.split()[:3]
    assert "ѝ" in decoded and "ѐ" in decoded and "ѓ" in decoded  # never folded to и, е, г
    assert types == "[0, 0, 0, 1, 1]"


TRAIN_IN_A_FRESH_PROCESS = """
import sys
from macedonizer.configs import TokenizerConfig
from macedonizer.tokenizer import run
run([sys.argv[1]], sys.argv[2], TokenizerConfig(vocab_size=1500), progress=False)
"""


def test_training_is_byte_identical_in_any_process_folder_and_thread_count(cased, tmp_path):
    # tokenizers' trainer numbers the ## pieces in a hash order seeded afresh
    # in every process, and breaks ties between merges by those numbers: two
    # processes used to give two different vocabularies (issue 15).
    outs = []
    for seed, threads in (("1", "1"), ("2", "2")):
        out = tmp_path / f"seed{seed}-threads{threads}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "RAYON_NUM_THREADS": threads}
        result = subprocess.run([sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, SAMPLE, str(out)],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        outs.append(out)
    vocab = (outs[0] / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert (outs[1] / "vocab.txt").read_text(encoding="utf-8").splitlines() == vocab
    for name in ("vocab.txt", "tokenizer.json"):
        first = (outs[0] / name).read_bytes()
        assert (outs[1] / name).read_bytes() == first, name
        assert (cased / name).read_bytes() == first, name  # this process, another folder


def test_vocabulary_is_numbered_as_the_trainer_numbers_it(cased):
    # The special tokens, the alphabet, its ## pieces, each in code point
    # order, then the merges (and the ## letters _ensure_required put last).
    vocab = (cased / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == SPECIAL_TOKENS
    letters = list(itertools.takewhile(lambda token: len(token) == 1, vocab[5:]))
    pieces = list(itertools.takewhile(lambda token: len(token) == 3 and token.startswith("##"),
                                      vocab[5 + len(letters) :]))
    assert letters == sorted(letters) and set(MACEDONIAN_LETTERS) <= set(letters)
    assert pieces == sorted(pieces) and len(pieces) > 30
    assert not any(len(token) == 1 for token in vocab[5 + len(letters) :])


def test_required_pieces_replace_the_last_learned_tokens():
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + ["а", "б", "##б", "аб", "ба", "##аб"])}
    new, added = _ensure_required(vocab, ["а", "б", "##а", "##б"])
    assert added == ["##а"]
    assert len(new) == len(vocab) and new["##а"] == vocab["##аб"] and "##аб" not in new
    assert sorted(new.values()) == list(range(len(vocab)))


def test_coverage_counts_words_not_punctuation(cased):
    tok = Tokenizer.from_file(str(cased / "tokenizer.json"))
    stats = coverage(tok, ["Ова е тест, „навистина“!", "😀 и 😀"])
    assert stats["words"] == 4 + 3  # ова, е, тест, навистина; 😀 (unknown), и, 😀
    assert stats["unk_rate"] == pytest.approx(2 / stats["tokens"])


def test_a_clean_output_folder_is_a_corpus(tmp_path):
    corpus = clean([str(SAMPLE_DIR)], tmp_path / "corpus", options=RunOptions(progress=False))
    out = run([str(corpus)], tmp_path / "tok", TokenizerConfig(vocab_size=1500), progress=False)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["corpus"]["skipped_on_read"] == {} and stats["corpus"]["documents"] > 800


def test_bad_input_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(MacedonizerError, match="no text"):
        run([str(empty)], tmp_path / "a", TokenizerConfig(vocab_size=500), progress=False)
    with pytest.raises(MacedonizerError, match="too small for a vocabulary of 50000"):
        run([SAMPLE], tmp_path / "b", TokenizerConfig(vocab_size=50000), progress=False)
    with pytest.raises(MacedonizerError, match="not larger than the alphabet"):
        run([SAMPLE], tmp_path / "c", TokenizerConfig(vocab_size=len(required_pieces(False))), progress=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MacedonizerError, match="Cannot write the tokenizer"):
        run([SAMPLE], blocker / "tok", TokenizerConfig(vocab_size=1500), progress=False)
    with pytest.raises(MacedonizerError, match="Evaluation text not found"):
        run([SAMPLE], tmp_path / "d", TokenizerConfig(vocab_size=1500, eval_texts=("nope.txt",)), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "file"]


def test_cli_prints_a_summary(tmp_path):
    eval_text = tmp_path / "eval.txt"
    eval_text.write_text("Утре ќе одам на пазар.\nТаа ѝ рече сѐ.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["tokenizer", SAMPLE, "-o", str(tmp_path / "tok"), "--vocab-size", "1500",
                                       "--eval-text", str(eval_text)])
    assert result.exit_code == 0, result.output
    assert "the letter round trip holds" in result.output and "eval.txt" in result.output
    result = CliRunner().invoke(main, ["tokenizer", SAMPLE, "-o", str(tmp_path / "t2"), "--vocab-size", "10"])
    assert result.exit_code == 1 and result.output.startswith("Error: --vocab-size 10 is not larger")


@pytest.mark.slow
def test_32k_on_real_wikipedia_covers_every_other_text(shared_corpora, tmp_path):
    others = sorted(str(p) for p in (shared_corpora / "mk").glob("*.txt") if p.name != "wiki.txt")
    out = run([str(shared_corpora / "mk" / "wiki.txt")], tmp_path / "tok",
              TokenizerConfig(vocab_size=32000, eval_texts=tuple(others)), progress=False)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["vocab_size"] == 32000
    for path in others:
        row = stats["evaluation"][path.rsplit("/", 1)[-1]]
        assert row["unk_rate"] < 0.001, path
        assert 1.0 < row["fertility"] < 2.0, path
