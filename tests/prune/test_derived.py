import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner

from macedonizer.cards import render
from macedonizer.cli import main
from macedonizer.configs import RunConfig, TokenizerConfig, TrainConfig
from macedonizer.errors import MacedonizerError
from macedonizer.prune import apply_method, derive, encoder_matrices, parse_method
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.train.output import TOKENIZER_FILES
from macedonizer.train.pretrain import run
from tests.prune.conftest import PARENT, QUIET, SAMPLE, layer_state, load


@pytest.mark.parametrize("spec, kept", [("drop:top:2", [0, 1]), ("drop:bottom:1", [1, 2, 3]),
                                        ("drop:alternate:2", [0, 2]), ("drop:symmetric:2", [0, 3])])
def test_dropping_layers_writes_a_smaller_standard_model(parent, spec, kept):
    parent_dir, _ = parent
    out = derive(parent_dir, parent_dir.parent / f"L4-H32-{spec.replace(':', '-')}", spec, progress=False)
    child, original = load(out), load(parent_dir)
    assert child.config.num_hidden_layers == len(kept)
    assert len(child.bert.encoder.layer) == len(kept)
    for new, old in enumerate(kept):  # the kept layers, renumbered, with the parent's weights
        theirs = layer_state(original, old)
        assert all(torch.equal(value, theirs[name]) for name, value in layer_state(child, new).items())
    outside = {k: v for k, v in child.state_dict().items() if ".encoder.layer." not in k}
    assert all(torch.equal(v, original.state_dict()[k]) for k, v in outside.items())

    manifest = json.loads((out / "prune.json").read_text())
    evaluation, parent_eval = (json.loads((d / "eval.json").read_text()) for d in (out, parent_dir))
    assert manifest["method"] == spec and manifest["layers_kept"] == kept and manifest["sparsity"] is None
    assert manifest["parent"]["name"] == "L4-H32" and evaluation["size"] == out.name
    assert manifest["validation"]["parent"] == parent_eval["validation"]  # the same text, the same masks
    parent_accuracy = parent_eval["validation"]["masked_accuracy"]
    # Scored honestly, a 40-step parent may get no masked token right; then nothing can be "retained".
    expected = evaluation["validation"]["masked_accuracy"] / parent_accuracy if parent_accuracy else None
    assert manifest["validation"]["retained_accuracy"] == (None if expected is None else pytest.approx(expected, abs=1e-4))
    assert set(evaluation) == set(parent_eval) and set(evaluation["validation"]) == set(parent_eval["validation"])
    assert evaluation["parameters"] == sum(p.numel() for p in child.parameters()) < parent_eval["parameters"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Derived model" in card and "`L4-H32`" in card and f"`{spec}`" in card
    retained = manifest["validation"]["retained_accuracy"]
    assert ("no share of its accuracy can be kept" if retained is None else f"**{100 * retained:.1f}%**") in card
    assert str(parent_dir.parent) not in card
    # The parent's card lists the derived member with its parent and method.
    assert f"({spec} of L4-H32)" in render(parent_dir).read_text(encoding="utf-8")


def test_recovery_keeps_the_zeros_and_the_checkpoint_has_them(parent):
    parent_dir, _ = parent
    out = derive(parent_dir, parent_dir.parent / "L4-H32-sparse-50r", "sparsity:0.5:layer", recover_steps=3,
                 progress=False)
    _, masks = apply_method(load(parent_dir), parse_method("sparsity:0.5:layer"))
    pruned_only, _ = apply_method(load(parent_dir), parse_method("sparsity:0.5:layer"))
    recovered = encoder_matrices(load(out))
    for name, mask in masks.items():
        assert (recovered[name][~mask] == 0).all()
    assert any(not torch.equal(recovered[n], p) for n, p in encoder_matrices(pruned_only).items())  # it trained
    manifest = json.loads((out / "prune.json").read_text())
    assert manifest["sparsity"]["achieved"] == pytest.approx(0.5, abs=1e-3)
    assert manifest["sparsity"]["scope"] == "layer" and manifest["recovery"]["steps"] == 3
    assert manifest["parameters"]["nonzero"] == manifest["parameters"]["model"] - manifest["sparsity"]["zero_weights"]
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["steps"] == PARENT.max_steps + 3
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == PARENT.max_steps + 3
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "then 3 more steps of masked-LM training with the pruned weights held at zero" in card


def test_training_from_a_pruned_model_resumes_and_holds_the_zeros(parent, tmp_path):
    parent_dir, tok = parent
    child, masks = apply_method(load(parent_dir), parse_method("sparsity:0.7"))
    start = tmp_path / "start"
    child.save_pretrained(start)
    for name in TOKENIZER_FILES:
        shutil.copy2(parent_dir / name, start / name)
    config = TrainConfig(init_from=str(start), seq_len=32, batch_size=4, max_steps=6)
    often = RunConfig(progress=False, eval_every=3, checkpoint_every=3, log_every=1)
    straight = run([SAMPLE], tok, tmp_path / "a", config, often, weight_masks=masks)
    assert json.loads((straight / "training_config.json").read_text())["size"]["layers"] == 4  # not "tiny"
    # A run stopped after its step-3 checkpoint, resumed.
    stopped = tmp_path / "b"
    shutil.copytree(straight / "checkpoints" / "step-00000003", stopped / "checkpoints" / "step-00000003")
    shutil.copy2(straight / "metrics.jsonl", stopped / "metrics.jsonl")
    resumed = run([SAMPLE], tok, stopped, config, replace(often, resume=True), weight_masks=masks)

    def losses(out):
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]

    assert losses(resumed) == losses(straight) and len(losses(straight)) == 6
    trained = encoder_matrices(load(resumed))
    assert all((trained[n][~m] == 0).all() for n, m in masks.items())

    other = train_tokenizer([SAMPLE], tmp_path / "tok2", TokenizerConfig(vocab_size=1100), progress=False)
    with pytest.raises(MacedonizerError, match="was not saved with the tokenizer"):
        run([SAMPLE], other, tmp_path / "c", config, QUIET)


FILL_MASK = """
import sys
sys.modules["macedonizer"] = None  # plain transformers only
from transformers import AutoModelForMaskedLM, pipeline
for path in sys.argv[1:]:
    AutoModelForMaskedLM.from_pretrained(path)
    out = pipeline("fill-mask", model=path)("Утре ќе одам на [MASK].", top_k=3)
    print(len(out), all("token_str" in o for o in out))
"""


@pytest.mark.slow  # a fresh interpreter
def test_pruned_models_fill_masks_with_plain_transformers(parent):
    parent_dir, _ = parent
    dropped = derive(parent_dir, parent_dir.parent / "L4-H32-drop-top-3", "drop:top:3", progress=False)
    sparse = derive(parent_dir, parent_dir.parent / "L4-H32-sparse-90", "sparsity:0.9", progress=False)
    result = subprocess.run([sys.executable, "-c", FILL_MASK, str(dropped), str(sparse)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["3 True", "3 True"]


def test_cli_errors_leave_nothing_behind(parent, tmp_path):
    parent_dir, _ = parent
    runner = CliRunner()
    for args, message in [
        (["--drop-layers", "top:4"], "Error: drop:top:4 does not fit a 4-layer model: K must be between 1 and 3.\n"),
        (["--drop-layers", "middle:1"], "Error: Unknown pruning method 'drop:middle:1'"),
        (["--sparsity", "1.5"], "Error: Bad pruning method 'sparsity:1.5:global'"),
        ([], "Error: Give one of --drop-layers STRATEGY:K or --sparsity S"),
        (["--drop-layers", "top:1", "--sparsity", "0.5"], "Error: Give one of"),
        (["--report"], "Error: --report needs held-out text"),
    ]:
        result = runner.invoke(main, ["prune", str(parent_dir), "-o", str(tmp_path / "out"), *args])
        assert result.exit_code == 1 and result.output.startswith(message), (args, result.output)
        assert result.output.count("\n") == 1
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = runner.invoke(main, ["prune", str(parent_dir), "-o", str(tmp_path / "out"), "--drop-layers", "top:1"])
    assert result.exit_code == 1 and "exists and is not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
