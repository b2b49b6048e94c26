"""finetune → eval round trip on the tiny model; the folder loads with plain transformers; failures leave nothing."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from macedonizer.cli import main
from macedonizer.configs import FinetuneConfig
from macedonizer.downstream import finetune
from macedonizer.downstream.conllu import read_conllu
from macedonizer.downstream.scoring import learn_most_frequent_tag, score, tag_most_frequent
from macedonizer.errors import ConfigError

from .conftest import UPOS_SAMPLE


def test_folder_holds_tagger_scores_and_baselines(tagger):
    config = json.loads((tagger / "config.json").read_text())
    assert set(config["label2id"]) == {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
                                       "PRON", "PROPN", "PUNCT", "SCONJ", "VERB"}
    assert {config["id2label"][str(i)]: i for i in range(len(config["id2label"]))} == config["label2id"]
    scores = json.loads((tagger / "scores.json").read_text())
    assert set(scores["scores"]) == {"model", "most_frequent_tag", "random_init"}
    assert scores["training"]["model"]["steps"] >= 1 and scores["settings"]["max_length"] == 32
    # the most-frequent-tag tagger learned from the file it is scored on gets every word of it right
    assert scores["scores"]["most_frequent_tag"]["accuracy"] == 1.0
    assert (tagger / "random_init" / "model.safetensors").is_file()
    card = (tagger / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and "language: mk" in card and "random init" in card


def test_eval_scores_the_three_taggers_on_a_test_file(tagger, tmp_path):
    result = CliRunner().invoke(main, ["eval", str(tagger), "--task", "upos", "--test", str(UPOS_SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["scores"]) == {"model", "most_frequent_tag", "random_init"}
    assert report["words"] == sum(len(s) for s in read_conllu(UPOS_SAMPLE))
    saved = json.loads((tagger / "scores.json").read_text())["scores"]
    assert report["scores"]["model"]["accuracy"] == pytest.approx(saved["model"]["accuracy"])  # same file as dev
    table = CliRunner().invoke(main, ["eval", str(tagger), "--task", "upos", "--test", str(UPOS_SAMPLE)])
    assert "most frequent tag" in table.output and "random init" in table.output and "NOUN" in table.output


def test_eval_learns_the_baseline_from_train_when_given(tagger, tmp_path):
    other = tmp_path / "other.conllu"
    other.write_text("1\tКнига\t_\tVERB\t_\t_\t_\t_\t_\t_\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(tagger), "--task", "upos", "--test", str(UPOS_SAMPLE),
                                       "--train", str(other), "--json"])
    sentences = read_conllu(UPOS_SAMPLE)
    expected = score(sentences, tag_most_frequent(learn_most_frequent_tag(read_conllu(other)), sentences))
    assert json.loads(result.output)["scores"]["most_frequent_tag"]["accuracy"] == expected["accuracy"]


def test_eval_needs_its_input(tagger):
    result = CliRunner().invoke(main, ["eval", str(tagger), "--task", "upos"])
    assert result.exit_code == 1 and "--test" in result.output
    result = CliRunner().invoke(main, ["eval", str(tagger)])
    assert result.exit_code == 1 and "--text" in result.output


PLAIN = """
import sys
sys.modules["macedonizer"] = None
from transformers import pipeline
tagger = pipeline("token-classification", model=sys.argv[1])
assert len(tagger.tokenizer) == tagger.model.config.vocab_size  # the model's own tokenizer, not a stand-in
tags = tagger("Децата играат во паркот.")
assert tags and all(t["entity"] in tagger.model.config.label2id for t in tags), tags
assert "[UNK]" not in {t["word"] for t in tags}, tags
print("ok", len(tags))
"""


@pytest.mark.slow  # a fresh interpreter
def test_folder_loads_with_plain_transformers(tagger):
    done = subprocess.run([sys.executable, "-c", PLAIN, str(tagger)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-2000:]


def test_a_failure_leaves_no_output(tiny_model, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(finetune, "write_report", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        finetune.run(FinetuneConfig(max_steps=1, baselines=False, max_length=32), str(tiny_model), UPOS_SAMPLE, out,
                     progress=False)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_dev_split_is_seeded_and_by_sentence():
    sentences = read_conllu(UPOS_SAMPLE)
    train, dev = finetune.split_dev(sentences, 0.25, seed=1)
    assert len(dev) == 4 and len(train) == 12 and sorted(map(str, train + dev)) == sorted(map(str, sentences))
    assert finetune.split_dev(sentences, 0.25, seed=1) == (train, dev)
    assert finetune.split_dev(sentences, 0.25, seed=2)[1] != dev


@pytest.mark.parametrize("bad", [{"task": "ner"}, {"lr": 0}, {"dev_share": 0.9}, {"max_length": 4},
                                 {"patience": 0}, {"max_steps": 0}])
def test_config_checks_itself(bad):
    with pytest.raises(ConfigError):
        FinetuneConfig(**bad)
