"""A build with a ``[downstream]`` table: every model fine-tuned and scored, in its card and the summary."""

from __future__ import annotations

import json
import re
import shutil
import tomllib

import pytest
from huggingface_hub import ModelCard

from macedonizer.build.config import configs_dir, from_table, resolved_table
from macedonizer.build.stages import Build, plan
from macedonizer.configs import FinetuneConfig
from macedonizer.errors import MacedonizerError
from tests.build.conftest import FAST, MODELS, SIZES, invoke, ran, write
from tests.downstream.conftest import UPOS_SAMPLE

DOWNSTREAM = """
[downstream]
train = "tagged/upos.conllu"
test = "tagged/upos.conllu"
max_steps = 2
batch_size = 4
max_length = 32
"""


def test_the_downstream_table_is_optional_and_checked(tmp_path):
    plain = from_table({})
    assert plain.downstream is None and "downstream" not in resolved_table(plain)
    assert not [s for s in plan(Build(plain, tmp_path)) if s.name.startswith("downstream")]
    config = from_table({"downstream": {"train": "a.conllu", "lr": 1e-3}}, base=tmp_path)
    assert config.downstream.train == str(tmp_path / "a.conllu") and config.downstream.finetune.lr == 1e-3
    assert resolved_table(config, portable_paths=True)["downstream"]["train"] == "a.conllu"
    names = [s.name for s in plan(Build(config, tmp_path))]
    assert names.index("downstream tiny") > names.index("eval mini") and names[-1] == "cards"
    with pytest.raises(MacedonizerError, match="train: name the CoNLL-U"):
        from_table({"downstream": {"test": "a.conllu"}})
    with pytest.raises(MacedonizerError, match=r"\[downstream\] unknown key 'epoch'"):
        from_table({"downstream": {"train": "a.conllu", "epoch": 3}})


def test_a_build_with_downstream_scores_every_model_into_its_card_and_the_summary(built, tmp_path):
    source, _ = built
    out = tmp_path / "out"
    shutil.copytree(source, out)  # the pretrained family, up to date: only the new stages run
    (tmp_path / "tagged").mkdir()
    shutil.copy(UPOS_SAMPLE, tmp_path / "tagged" / "upos.conllu")
    # The bundled config the family was built with, and a [downstream] table: no other stage's fingerprint moves.
    config = write(tmp_path, (configs_dir() / "demo.toml").read_text(encoding="utf-8") + DOWNSTREAM)
    result = invoke(config, *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    assert ran(result.output) == {*(f"downstream {s}" for s in SIZES), "cards"}
    assert "upos accuracy" in result.output and "most frequent tag" in result.output
    record = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert record["config"]["downstream"]["train"] == "upos.conllu"
    for row, name in zip(record["models"], MODELS):
        scores = row["downstream"]["scores"]
        assert set(scores) == {"model", "most_frequent_tag", "random_init"}
        assert (out / "downstream" / name / "scores.json").is_file()
        results = [r for r in ModelCard.load(out / "models" / name / "README.md").data.eval_results
                   if r.task_type == "token-classification"]
        assert results[0].metric_type == "accuracy" and results[0].metric_value == scores["model"]["accuracy"]
        assert results[0].dataset_name == "upos.conllu"
        card = (out / "models" / name / "README.md").read_text(encoding="utf-8")
        assert "## Downstream" in card and "| UPOS accuracy |" in card
        line = next(line for line in result.output.splitlines() if line.startswith(row["model"] + " "))
        assert all(f"{scores[tagger]['accuracy']:.1%}" in line for tagger in scores)
    header = next(line for line in result.output.splitlines() if line.startswith("model "))
    assert re.search(r"train time +upos +upos most-freq +upos random +output", header)
    again = invoke(config, *FAST, "-o", out)
    assert again.exit_code == 0, again.output
    assert ran(again.output) == set()


def test_print_config_fills_in_the_downstream_table_and_reads_it_back(tmp_path):
    config = write(tmp_path, '[downstream]\ntrain = "tagged/upos.conllu"\nlr = 1e-3\n')
    result = invoke(config, "--print-config")
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)["downstream"]
    assert printed["train"] == str(tmp_path / "tagged" / "upos.conllu") and printed["lr"] == 1e-3
    assert printed["task"] == "upos" and printed["epochs"] == FinetuneConfig().epochs  # defaults filled in
    assert "dev" not in printed and "test" not in printed  # no null in TOML: absent files stay absent
    again = from_table(tomllib.loads(result.output))
    assert resolved_table(again) == resolved_table(from_table(tomllib.loads(config.read_text()), base=tmp_path))


def test_without_dev_or_test_each_card_scores_the_held_out_training_sentences(built, tmp_path):
    source, _ = built
    out = tmp_path / "out"
    shutil.copytree(source, out)
    (tmp_path / "tagged").mkdir()
    shutil.copy(UPOS_SAMPLE, tmp_path / "tagged" / "upos.conllu")
    table = DOWNSTREAM.replace('test = "tagged/upos.conllu"\n', "")
    config = write(tmp_path, (configs_dir() / "demo.toml").read_text(encoding="utf-8") + table)
    result = invoke(config, *FAST, "-o", out)
    assert result.exit_code == 0, result.output
    assert "on upos.conllu (held-out dev (10% of train, seed 0, by sentence);" in result.output
    for name in MODELS:
        record = json.loads((out / "models" / name / "downstream.json").read_text(encoding="utf-8"))
        assert record["test"] == "upos.conllu" and record["split"].startswith("held-out dev (10% of train")
        assert 0 < record["words"] < len([line for line in UPOS_SAMPLE.read_text(encoding="utf-8").splitlines()
                                          if line[:1].isdigit()])  # a share of the training words, not all
        results = [r for r in ModelCard.load(out / "models" / name / "README.md").data.eval_results
                   if r.task_type == "token-classification"]
        assert results[0].dataset_name == "upos.conllu" and results[0].dataset_split == record["split"]
