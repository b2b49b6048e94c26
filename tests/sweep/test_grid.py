import json
from dataclasses import replace

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

from macedonizer import sweep
from macedonizer.cards import render
from macedonizer.configs import ModelSize, RunConfig, TrainConfig
from macedonizer.errors import MacedonizerError
from macedonizer.train import pretrain
from macedonizer.train.evaluate import evaluate_text
from macedonizer.train.model import build_model, build_optimizer
from tests.sweep.conftest import GRID, SAMPLE


# ---------------------------------------------------------------- running a grid


@pytest.mark.slow  # a worker pool
def test_a_second_sweep_reruns_only_what_is_missing(swept, tok, monkeypatch):
    trained = []
    real = pretrain.run

    def counting(inputs, tokenizer_dir, out, config, run_config):
        trained.append((config.lr, config.variant, run_config.resume))
        return real(inputs, tokenizer_dir, out, config, run_config)

    monkeypatch.setattr(pretrain, "run", counting)
    sweep.run([SAMPLE], tok, swept, GRID, progress=False)
    assert trained == []
    (swept / "runs" / "L1-H32-post-ln-wu0-lr0.005" / "outcome.json").unlink()  # as if interrupted
    sweep.run([SAMPLE], tok, swept, replace(GRID, variants=("post-ln",)), progress=False)
    assert trained == [(5e-3, "post-ln", True)]
    with pytest.raises(MacedonizerError, match="another budget"):
        sweep.run([SAMPLE], tok, swept, replace(GRID, steps=7), progress=False)


def test_each_point_trains_under_the_sweeps_budget_and_settings():
    point = GRID.points()[0]
    assert (point.name, len(GRID.points())) == ("L1-H32-post-ln-wu0-lr0.005", 4)
    train, how = point.train_config(GRID), point.run_config(GRID)
    assert (train.size, train.lr, train.max_steps, train.seq_len, train.final_eval_batches) == ("L1/H32", 5e-3, 30, 32, 1)
    assert (how.device, how.resume, how.progress, how.eval_every, how.diagnostics_every) == ("cpu", True, False, 15, 10)
    by_tokens = replace(GRID, steps=None, tokens=7680)  # 30 batches of 8 × 32 tokens
    assert by_tokens.points()[0].train_config(by_tokens).steps() == 30


# ---------------------------------------------------------------- the engine's remedies the grid's axes turn on


def test_mup_scales_only_the_hidden_matrices():
    size = ModelSize(2, 256)
    model = build_model(size, {f"t{i}": i for i in range(100)} | {"[PAD]": 100, "[CLS]": 101, "[SEP]": 102},
                        TrainConfig(lr_scaling="mup"))
    groups = build_optimizer(model, TrainConfig(lr_scaling="mup"), size, torch.device("cpu")).param_groups
    scaled = [g for g in groups if g["lr_scale"] != 1.0]
    assert [g["lr_scale"] for g in scaled] == [0.5]
    assert sum(p.numel() for p in scaled[0]["params"]) == 2 * (4 * 256 * 256 + 2 * 256 * 1024)
    plain = build_optimizer(model, TrainConfig(), size, torch.device("cpu")).param_groups
    assert [g["weight_decay"] for g in plain] == [0.01, 0.0]  # the two groups checkpoints already hold


def test_a_pre_ln_model_loads_in_plain_transformers(tok, tmp_path):
    config = TrainConfig(size="L1/H32", seq_len=32, batch_size=4, max_steps=2, dropout=0.0, variant="pre-ln")
    how = RunConfig(progress=False, eval_every=2, eval_batches=1, diagnostics_every=1)
    out = pretrain.run([SAMPLE], tok, tmp_path / "m", config, how)
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert type(model).__name__ == "RobertaPreLayerNormForMaskedLM"
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer)
    sentence = "Скопје е главниот [MASK] на Македонија."
    answers = fill(sentence)
    inputs = tokenizer(sentence, return_tensors="pt")
    with torch.no_grad():  # the pipeline's scores are the pre-LN model's own softmax at the mask
        logits = model(**inputs).logits[0, inputs["input_ids"][0].tolist().index(tokenizer.mask_token_id)]
    top = torch.softmax(logits, -1).topk(5)
    assert [a["token"] for a in answers] == top.indices.tolist()
    assert [a["score"] for a in answers] == pytest.approx(top.values.tolist(), abs=1e-5)
    assert evaluate_text(out, [SAMPLE], seq_len=32)["mk-sample.txt"]["masked_tokens"] > 0
    assert "fill-mask" in render(out).read_text(encoding="utf-8")
    records = [json.loads(line) for line in (out / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and len(records[0]["attention_entropy"]) == 1
