import json
import subprocess
import sys

import numpy as np
import pytest

from macedonizer.train.pretrain import run
from tests.train.conftest import QUIET, SAMPLE, SMALL


def test_training_writes_a_standard_model(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
            "special_tokens_map.json", "training_config.json", "metrics.jsonl", "eval.json",
            "token_counts.npy", "checkpoints"} <= names
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["steps"] == 6 and evaluation["tokens"] == 6 * 4 * 32
    assert set(evaluation["validation"]) >= {"loss", "perplexity", "masked_accuracy", "unigram_loss", "unigram_accuracy"}
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000003", "step-00000006"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "val"] == [3, 6]
    train = [r for r in rows if r["split"] == "train"]
    assert [(r["step"], r["tokens"]) for r in train] == [(step, step * 4 * 32) for step in range(1, 7)]
    assert all(np.isfinite(r["loss"]) for r in train)
    # tokens / seconds, each rounded to 0.1 in eval.json: the rate agrees within that rounding.
    tokens, seconds, rate = evaluation["tokens"], evaluation["seconds"], evaluation["tokens_per_s"]
    assert tokens / (seconds + 0.05) - 0.05 <= rate <= tokens / max(seconds - 0.05, 1e-9) + 0.05


FILL_MASK = """
import sys
sys.modules["macedonizer"] = None  # plain transformers only
from transformers import pipeline
fill = pipeline("fill-mask", model=sys.argv[1])
out = fill("Утре ќе одам на [MASK].", top_k=3)
print(len(out), all("token_str" in o and "score" in o for o in out))
"""


@pytest.mark.slow  # a fresh interpreter
def test_the_model_fills_masks_with_plain_transformers(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    result = subprocess.run([sys.executable, "-c", FILL_MASK, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 True"
