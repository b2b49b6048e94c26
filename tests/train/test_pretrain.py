import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from macedonizer.cli import main
from macedonizer.configs import TrainConfig
from macedonizer.errors import MacedonizerError
from macedonizer.train.pretrain import run
from tests.train.conftest import QUIET, SAMPLE, SMALL


def test_bad_input_is_one_clear_error(tok, tmp_path):
    with pytest.raises(MacedonizerError, match="too small for one batch"):
        run([SAMPLE], tok, tmp_path / "b", TrainConfig(**{**SMALL.__dict__, "batch_size": 100_000}), QUIET)
    with pytest.raises(MacedonizerError, match="The loss became nan at step 2. Lower --lr"):
        run([SAMPLE], tok, tmp_path / "d", TrainConfig(**{**SMALL.__dict__, "lr": 1e30, "warmup": 0.0}), QUIET)


def test_cli_pretrain_and_eval(tok, tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
                                       "--seq-len", "32", "--batch-size", "4", "--max-steps", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "every scored token masked" in result.output and "unigram" in result.output and "n-gram" in result.output
    text = tmp_path / "t.txt"
    text.write_text("Утре ќе одам на пазар со мајка ми.\nВладата денес го усвои буџетот.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(out), "--text", str(text), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["t.txt"]
    assert set(scores) >= {"loss", "masked_accuracy", "unigram_loss", "unigram_accuracy", "ngram_loss",
                           "ngram_accuracy", "masked_tokens", "verdict", "verdict_reason"}
    again = CliRunner().invoke(main, ["eval", str(out), "--text", str(text), "--json"])
    assert json.loads(again.stdout) == json.loads(result.stdout)  # deterministic masking
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "-o",
                                       str(tmp_path / "x"), "--time", "soon"])
    assert result.exit_code == 2 and "duration" in result.output


def test_the_package_imports_without_side_effects():
    """``import macedonizer.train`` loads no torch: each module is imported where it is needed."""
    code = "import sys, macedonizer.train; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
