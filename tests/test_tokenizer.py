import itertools
import json
import os
import subprocess
import sys
import unicodedata

import pytest
from click.testing import CliRunner
from tokenizers import Tokenizer, trainers

from macedonizer.cli import main
from macedonizer.corpus.pipeline import RunOptions
from macedonizer.corpus.pipeline import run as clean
from macedonizer import alphabet as alphabet_module
from macedonizer import tokenizer as tokenizer_module
from macedonizer.errors import MacedonizerError
from macedonizer.tokenizer import (
    ALPHABET_SHARE,
    AUTO_VOCAB_RANGE,
    COVERED_BLOCKS,
    LOWER,
    MACEDONIAN_LETTERS,
    SANITY_SENTENCE,
    SPECIAL_TOKENS,
    TokenizerConfig,
    block_characters,
    coverage,
    plan_alphabet,
    required_pieces,
    run,
)
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
SYMBOLS = "Град 東京 😀, а😀😀 и 😀."


@pytest.fixture(scope="module")
def cased(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    (root / "symbols.txt").write_text(SYMBOLS + "\n", encoding="utf-8")
    config = TokenizerConfig(vocab_size=1500, eval_texts=(str(root / "symbols.txt"),))
    return run([SAMPLE], root / "cased", config, progress=False)


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
    # 1,500 entries leave no room for a block: the stats say so, block by block.
    assert stats["alphabet"]["blocks"] == {} and list(stats["alphabet"]["blocks_left_out"]) == [
        name for name, _, _ in COVERED_BLOCKS]


def test_stats_name_the_characters_behind_unk(cased):
    stats = json.loads((cased / "stats.json").read_text(encoding="utf-8"))
    symbols = stats["evaluation"]["symbols.txt"]
    # 😀 alone twice and inside а😀😀 (one [UNK] for the word); 東 and 京 are words of their own.
    assert symbols["unk_characters"] == {"😀": 3, "京": 1, "東": 1}
    assert symbols["unk_rate"] == pytest.approx(5 / symbols["tokens"]) and symbols["unk_long_words"] == 0
    tok = Tokenizer.from_file(str(cased / "tokenizer.json"))
    too_long = coverage(tok, ["а" * 101])
    assert too_long["unk_characters"] == {} and too_long["unk_long_words"] == 1


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
    # The special tokens, the alphabet, its ## pieces (with the required ones
    # the corpus lacks), each in code point order, then the merges.
    vocab = (cased / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == SPECIAL_TOKENS
    letters = list(itertools.takewhile(lambda token: len(token) == 1, vocab[5:]))
    pieces = list(itertools.takewhile(lambda token: len(token) == 3 and token.startswith("##"),
                                      vocab[5 + len(letters) :]))
    assert letters == sorted(letters) and set(MACEDONIAN_LETTERS) <= set(letters)
    assert pieces == sorted(pieces) and len(pieces) > 30
    assert not any(len(token) == 1 for token in vocab[5 + len(letters) :])


# Characters the normalizer drops inside words (\x00 \x01 U+FFFD U+200B U+00AD U+0085), ideographs, emoji, İ and Σ
# lowercased, spaces (U+2028 U+3000 tab), punctuation and symbols inside words, combining marks.
TRICKY = ["Град 東京 😀, а😀😀 и 😀.", "ʣ\x00ʥ\x01ʦ \x01ʨ \ufffdʪ x\u200bʫ so\u00adʬ ab\x85ʭ",
          "İstanbul ΟΔΟΣ ǅemal ﬁne Straße", "5°C ⅷ a\u0301b #hash ##x e.g. 3,14", "ab\u0085cd\u2028ef\tgh\u3000ij",
          "\x01", "東a東 a東b", "x\u0130y ՙa aՙ", ""]


@pytest.mark.parametrize("uncased", [False, True])
def test_the_starting_vocabulary_is_what_a_training_pass_starts_from(monkeypatch, uncased):
    # _starting_vocabulary reads the corpus with numpy; the trainer's own pass (no merges) is the reference.
    required = required_pieces(uncased)
    texts = [*TRICKY, *(SAMPLE_DIR / "mk-sample.txt").read_text(encoding="utf-8").split("\n\n")[:50]]
    tokenizer = tokenizer_module._build_tokenizer(None, uncased)
    trainer = trainers.WordPieceTrainer(vocab_size=0, initial_alphabet=[p for p in required if len(p) == 1],
                                        continuing_subword_prefix="##", show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    vocab = tokenizer.get_vocab()
    expected = [token for token in sorted(vocab, key=vocab.get) if not token.startswith("##")]
    expected += sorted({token for token in [*vocab, *required] if token.startswith("##")})
    monkeypatch.setattr(alphabet_module, "CHUNK_CHARS", 100)  # batches end between documents, never inside one
    assert tokenizer_module._starting_vocabulary(texts, uncased, required) == expected
    assert {"##ʥ", "##ʦ", "##ʫ", "##ʬ", "##ʭ", "ʨ", "ʪ"} <= set(expected) and not {"##ʣ", "##ʨ", "##ʪ"} & set(expected)


def test_blocks_take_room_in_order_within_a_share_of_the_vocabulary():
    names = [name for name, _, _ in COVERED_BLOCKS]
    for uncased in (False, True):
        core = len(SPECIAL_TOKENS) + len(required_pieces(uncased))
        for vocab_size in (1200, 2000, 8000, 16000, 32000):
            plan = plan_alphabet(vocab_size, uncased)
            assert list(plan.blocks) + list(plan.left_out) == names  # the first blocks, then those left out
            assert len(SPECIAL_TOKENS) + len(plan.pieces) == core + sum(plan.blocks.values())
            assert core + sum(plan.blocks.values()) <= max(core, vocab_size * ALPHABET_SHARE)
    assert plan_alphabet(2000, False).blocks == {}  # the demo's vocabulary: no room, it still trains
    issue_18 = ["Latin-1 Supplement", "General Punctuation", "Letterlike Symbols", "Arrows", "Mathematical Operators",
                "Miscellaneous Technical", "Box Drawing", "Currency Symbols", "Miscellaneous Mathematical Symbols-A"]
    assert set(issue_18) <= set(plan_alphabet(16000, False).blocks)
    assert plan_alphabet(32000, False).left_out == {}


def _unknown(tokenizer_dir, chars: list[str]) -> list[str]:
    """Those of ``chars`` that give an [UNK] alone, first in a word or inside one, as given or in NFC."""
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    texts = [f"{ch} {ch}а а{ch}{ch}б {unicodedata.normalize('NFC', ch)}" for ch in chars]
    return [ch for ch, encoding in zip(chars, tok.encode_batch(texts)) if "[UNK]" in encoding.tokens]


@pytest.mark.parametrize("uncased", [False, True])
def test_every_printable_character_of_the_covered_blocks_has_a_token(cased, tmp_path, monkeypatch, uncased):
    # Room for every block in a vocabulary the sample can fill; the sample lacks nearly all of them.
    monkeypatch.setattr(tokenizer_module, "ALPHABET_SHARE", 1.0)
    out = run([SAMPLE], tmp_path / "tok", TokenizerConfig(vocab_size=4500, uncased=uncased), progress=False)
    assert json.loads((out / "stats.json").read_text(encoding="utf-8"))["alphabet"]["blocks_left_out"] == {}
    chars = [ch for _, first, last in COVERED_BLOCKS for ch in block_characters(first, last)]
    assert len(chars) > 1700 and {"⟨", "⟩", "≤", "→", "€", "№", "°", "±", "×", "…", "─", "⌀"} <= set(chars)
    assert _unknown(out, chars) == []
    assert len(_unknown(cased, chars)) > 1500  # what the sample alone gives


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
    ideographs = tmp_path / "ideographs.txt"  # 1,000 characters of its own: more than 1,200 entries can hold
    ideographs.write_text("".join(chr(0x4E00 + i) for i in range(1000)), encoding="utf-8")
    with pytest.raises(MacedonizerError, match="alphabet does not fit in a vocabulary of 1200"):
        run([str(ideographs)], tmp_path / "e", TokenizerConfig(vocab_size=1200), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "file", "ideographs.txt"]


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


def test_the_automatic_size_is_a_ceiling_a_small_corpus_need_not_reach(tmp_path):
    out = run([SAMPLE], tmp_path / "auto", TokenizerConfig(vocab_size=0), progress=False)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert 0 < stats["vocab_size"] < AUTO_VOCAB_RANGE[0]  # the sample yields fewer than the smallest automatic size
    assert len((out / "vocab.txt").read_text(encoding="utf-8").splitlines()) == stats["vocab_size"]
    with pytest.raises(MacedonizerError, match="too small for a vocabulary of 4000"):
        run([SAMPLE], tmp_path / "asked", TokenizerConfig(vocab_size=4000), progress=False)  # asked for: it must
