import csv
import json
import math
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from macedonizer import pretrain, sweep
from macedonizer.cli import main
from macedonizer.config import ModelSize
from macedonizer.errors import MacedonizerError
from macedonizer.pretrain import RunConfig, TrainConfig
from macedonizer.sweep import SweepConfig, classify, explain
from macedonizer.tokenizer import TokenizerConfig
from macedonizer.tokenizer import run as train_tokenizer
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
START = math.log(1200)  # a fresh model's loss: uniform over the vocabulary
UNIGRAM = 6.3
GRID = SweepConfig(sizes=("L1/H32",), lrs=(2e-3, 1e30), warmups=(0.0,), variants=("post-ln", "pre-ln"), steps=6,
                   seq_len=32, batch_size=4, eval_every=3, eval_batches=1, diagnostics_every=2, device="cpu")


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return train_tokenizer([SAMPLE], tmp_path_factory.mktemp("tok") / "tok", TokenizerConfig(vocab_size=1200),
                           progress=False)


@pytest.fixture(scope="module")
def swept(tok, tmp_path_factory):
    """A finished four-run sweep (two variants × a sane and an absurd learning rate) in two worker processes."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    sweep.run([SAMPLE], tok, out, replace(GRID, workers=2), progress=False)
    return out


# ---------------------------------------------------------------- classification on synthetic curves


def falling(start, end, n=40):
    return [start + (end - start) * i / (n - 1) for i in range(n)]


def record(loss, accuracy=0.04, ngram_loss=5.0, ngram_accuracy=0.2, se=0.01):
    """A validation record as evaluate_sequences writes it (unigram 6.3 / 4%)."""
    return {"loss": loss, "masked_accuracy": accuracy, "unigram_loss": UNIGRAM, "unigram_accuracy": 0.04,
            "ngram_loss": ngram_loss, "ngram_accuracy": ngram_accuracy, "loss_vs_unigram_se": se,
            "accuracy_vs_unigram_se": 0.002, "loss_vs_ngram_se": se, "accuracy_vs_ngram_se": 0.002}


def test_each_kind_of_curve_gets_its_outcome():
    assert classify(falling(8, 4.5), record(4.6, accuracy=0.3), START)[0] == "learned"
    flat = falling(8, UNIGRAM, 10) + [UNIGRAM + 0.02 * (-1) ** i for i in range(30)]
    outcome, rule = classify(flat, record(UNIGRAM + 0.01), START)
    assert outcome == "plateau" and rule.startswith("flat, and it does not beat even word frequencies")
    # Far below the unigram loss, but not below the n-gram baseline: still a plateau, and the rule says so.
    outcome, rule = classify(flat, record(UNIGRAM - 0.5, accuracy=0.15), START)
    assert outcome == "plateau" and "not the n-gram baseline in loss" in rule
    # Below the n-gram loss but not beyond the noise of the evaluation: not learned.
    assert classify(flat, record(4.99, accuracy=0.3, se=0.02), START)[0] == "plateau"
    assert classify(flat, record(4.9, accuracy=0.3, se=0.02), START)[0] == "learned"
    assert classify(falling(8, 6.5)[:10], record(float("nan")), START, nan_step=11) == (
        "diverged", "the loss became NaN/inf at step 11")
    assert classify(falling(8, 7), record(7.5), 7.2)[0] == "diverged"  # worse than where it started
    blew_up = falling(8, 6.0, 20) + [6.0] * 5 + [7.0] * 15
    outcome, rule = classify(blew_up, record(6.9), START)
    assert outcome == "diverged" and "rose 1.00 nats above its best (6.00)" in rule
    assert classify(falling(8, 6.5), record(6.4), START)[0] == "undertrained"  # still falling
    assert classify([8.0, 7.0], record(6.4), START) == ("undertrained", "only 2 training-loss records")


def diag(step, top, bottom, entropy=(3.0, 3.0), logit=5.0, update=1e-3):
    return {"step": step, "grad_norm": {"embeddings": 1.0, "layer.0": bottom, "layer.1": top, "head": 1.0},
            "update_ratio": {"embeddings": update, "layer.0": update, "layer.1": update, "head": update},
            "attention_entropy": list(entropy), "attention_logit_max": [1.0, 1.0], "logit_max": logit,
            "logit_std": 1.0}


def test_causes_are_named_with_numbers():
    plateau = {"outcome": "plateau", "rule": "", "validation_loss": 6.31, "unigram_loss": 6.3,
               "masked_accuracy": 0.04, "unigram_accuracy": 0.04, "variant": "post-ln", "warmup": 0.0}
    records = [diag(1, 0.4, 0.01), diag(20, 0.2, 0.01, entropy=(3.45, 3.46))]
    text = explain(plateau, records, seq_len=32)
    assert "plateau at the unigram loss (6.31 vs 6.30; masked accuracy 4.0% vs unigram 4.0%)" in text
    assert "post-ln, no warm-up: gradients of the top layer 40.0× those of the bottom at step 1" in text
    assert "attention stayed near uniform (3.45–3.46 nats of ln 32 = 3.47): no layer learned where to look" in text
    records[-1]["attention_entropy"] = [1.2, 3.46]
    assert "(3.46–3.46 nats of ln 32 = 3.47): layer 1 did not learn where to look" in explain(plateau, records, 32)
    diverged = {**plateau, "outcome": "diverged", "validation_loss": None}
    records = [diag(1, 1, 1), diag(20, 1, 1, entropy=(0.1, 2.0), logit=80.0, update=0.05)]
    text = explain(diverged, records, seq_len=32)
    assert "output logits grew to 80" in text and "attention entropy collapsed to 0.10 nats in layer 0" in text
    assert "moved layer.1's weights by 5.0%" in text and "attention logits" not in text
    records[-1]["attention_logit_max"] = [1.0, 1123.0]
    assert "attention logits grew to 1123 in layer 1 by step 20" in explain(diverged, records, 32)
    assert explain({**plateau, "outcome": "learned"}, records, 32) == ""


# ---------------------------------------------------------------- the engine's remedies


def test_mup_scales_only_the_hidden_matrices():
    size = ModelSize(2, 256)
    model = pretrain.build_model(size, {f"t{i}": i for i in range(100)} | {"[PAD]": 100, "[CLS]": 101, "[SEP]": 102},
                                 TrainConfig(lr_scaling="mup"))
    groups = pretrain._optimizer(model, TrainConfig(lr_scaling="mup"), size, torch.device("cpu")).param_groups
    scaled = [g for g in groups if g["lr_scale"] != 1.0]
    assert [g["lr_scale"] for g in scaled] == [0.5]
    assert sum(p.numel() for p in scaled[0]["params"]) == 2 * (4 * 256 * 256 + 2 * 256 * 1024)
    plain = pretrain._optimizer(model, TrainConfig(), size, torch.device("cpu")).param_groups
    assert [g["weight_decay"] for g in plain] == [0.01, 0.0]  # the two groups checkpoints already hold


def test_a_pre_ln_model_loads_in_plain_transformers(tok, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    from macedonizer.cards import render
    from macedonizer.evaluate import evaluate_text

    config = TrainConfig(size="L1/H32", seq_len=32, batch_size=4, max_steps=2, eval_every=2, eval_batches=1,
                         dropout=0.0, variant="pre-ln", diagnostics_every=1)
    out = pretrain.run([SAMPLE], tok, tmp_path / "m", config, RunConfig(progress=False))
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert type(model).__name__ == "RobertaPreLayerNormForMaskedLM"
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer)
    answers = fill("Скопје е главниот [MASK] на Македонија.")
    assert len(answers) == 5 and all(0 <= a["score"] <= 1 for a in answers)
    assert evaluate_text(out, [SAMPLE], seq_len=32)["mk-sample.txt"]["masked_tokens"] > 0
    assert "fill-mask" in render(out).read_text(encoding="utf-8")
    records = [json.loads(line) for line in (out / "diagnostics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and len(records[0]["attention_entropy"]) == 1


# ---------------------------------------------------------------- a whole sweep


def test_a_sweep_writes_every_report_file(swept):
    rows = list(csv.DictReader((swept / "runs.csv").open(encoding="utf-8")))
    assert len(rows) == 4
    assert {r["outcome"] for r in rows if r["lr"] == "1e+30"} == {"diverged"}  # NaN caught, not a crash
    sane = [r for r in rows if r["lr"] == "0.002"]
    assert all(r["outcome"] in sweep.OUTCOMES and float(r["validation_loss"]) > 0 for r in sane)
    report = (swept / "report.md").read_text(encoding="utf-8")
    assert "## post-ln, warm-up 0" in report and "## pre-ln, warm-up 0" in report and "Border:" in report
    assert (swept / "learnability.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((swept / "recommended.json").read_text(encoding="utf-8"))
    assert set(saved) == {"sizes", "unlearned"}
    assert set(saved["sizes"]) | set(saved["unlearned"]) == {"L1/H32"}
    assert not list(swept.glob("runs/*/checkpoints"))


def test_a_second_sweep_reruns_only_what_is_missing(swept, tok, monkeypatch):
    trained = []
    real = pretrain.run

    def counting(inputs, tokenizer_dir, out, config, run_config):
        trained.append((config.lr, config.variant, run_config.resume))
        return real(inputs, tokenizer_dir, out, config, run_config)

    monkeypatch.setattr(pretrain, "run", counting)
    sweep.run([SAMPLE], tok, swept, GRID, progress=False)
    assert trained == []
    (swept / "runs" / "L1-H32-post-ln-wu0-lr0.002" / "outcome.json").unlink()  # as if interrupted
    sweep.run([SAMPLE], tok, swept, replace(GRID, variants=("post-ln",)), progress=False)
    assert trained == [(2e-3, "post-ln", True)]
    with pytest.raises(MacedonizerError, match="another budget"):
        sweep.run([SAMPLE], tok, swept, replace(GRID, steps=7), progress=False)


def _outcome(size, lr, outcome, loss, variant="post-ln"):
    return {"size": size, "lr": lr, "warmup": 0.0, "variant": variant, "lr_scaling": "none", "max_grad_norm": 1.0,
            "outcome": outcome, "validation_loss": loss, "unigram_loss": 7.3, "masked_accuracy": 0.1, "steps": 500,
            "name": f"{size}-{variant}-lr{lr}"}


def test_the_recommendation_is_each_sizes_best_learned_run(tmp_path):
    outcomes = [_outcome("tiny", 1e-3, "learned", 6.9), _outcome("tiny", 3e-3, "learned", 6.8),
                _outcome("tiny", 1e-2, "diverged", 9.0), _outcome("mini", 1e-3, "plateau", 7.3),
                _outcome("mini", 1e-2, "learned", 7.0, variant="pre-ln"), _outcome("small", 1e-3, "plateau", 7.4),
                _outcome("small", 3e-3, "undertrained", 7.5)]
    recommendation = sweep._recommend(outcomes, ["tiny", "mini", "small"])
    assert recommendation["sizes"]["tiny"]["lr"] == 3e-3 and recommendation["sizes"]["tiny"]["learned_lrs"] == [1e-3, 3e-3]
    assert recommendation["sizes"]["mini"]["variant"] == "pre-ln"
    assert recommendation["unlearned"] == {"small": "1 plateau, 1 undertrained"}
    (tmp_path / "recommended.json").write_text(json.dumps(recommendation), encoding="utf-8")
    assert sweep.recommended_lr(tmp_path, "tiny") == 3e-3
    with pytest.raises(MacedonizerError, match=r"No run of size small learned .*1 plateau, 1 undertrained"):
        sweep.recommended_lr(tmp_path, "small")
    with pytest.raises(MacedonizerError, match="was not in the grid"):
        sweep.recommended_lr(tmp_path, "base")
    with pytest.raises(MacedonizerError, match="run `macedonizer sweep` first"):
        sweep.recommended(tmp_path / "empty")


def test_bad_settings_are_one_sentence(tok, tmp_path):
    with pytest.raises(MacedonizerError, match="Unknown variant 'mid-ln'"):
        sweep.run([SAMPLE], tok, tmp_path / "a", SweepConfig(variants=("mid-ln",)), progress=False)
    with pytest.raises(MacedonizerError, match="Unknown size"):
        sweep.run([SAMPLE], tok, tmp_path / "a", SweepConfig(sizes=("huge",)), progress=False)
    result = CliRunner().invoke(main, ["sweep", "--data", SAMPLE, "--tokenizer", str(tok), "-o", str(tmp_path / "a"),
                                       "--variant", "post-ln,mid-ln", "--lr", "1e-3,3e-3"])
    assert result.exit_code == 1 and result.output.startswith("Error: Unknown variant 'mid-ln'")
    (tmp_path / "s.toml").write_text('lrs = [1e-3]\nlayers = 3\n')
    with pytest.raises(MacedonizerError, match="Unknown sweep setting"):
        SweepConfig.load(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text('lrs = [1e-3]\nsizes = ["tiny"]\n')
    assert SweepConfig.load(tmp_path / "s.toml", tokens=1000, lrs=None) == SweepConfig(
        lrs=(1e-3,), sizes=("tiny",), steps=None, tokens=1000)
    assert not (tmp_path / "a").exists()
