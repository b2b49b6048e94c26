import json
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForMaskedLM

from macedonizer.cards import render
from macedonizer.cli import main
from macedonizer.errors import MacedonizerError
from macedonizer.evaluate import evaluate_text
from macedonizer.prune import apply_method, derive, encoder_matrices, kept_layers, parse_method
from macedonizer.pretrain import TOKENIZER_FILES, run
from macedonizer.configs import RunConfig, TrainConfig
from macedonizer.tokenizer import TokenizerConfig, run as train_tokenizer
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
QUIET = RunConfig(progress=False, eval_every=40, checkpoint_every=40, log_every=10)
PARENT = TrainConfig(size="L4/H32", seq_len=32, batch_size=8, lr=3e-3, max_steps=40, dropout=0.0)


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A 4-layer model trained a few steps, in ROOT/models/L4-H32, and its tokenizer."""
    root = tmp_path_factory.mktemp("prune")
    tok = train_tokenizer([SAMPLE], root / "tok", TokenizerConfig(vocab_size=1200), progress=False)
    return run([SAMPLE], tok, root / "models" / "L4-H32", PARENT, QUIET), tok


def load(path):
    return AutoModelForMaskedLM.from_pretrained(path)


def layer_state(model, index: int) -> dict:
    prefix = f"bert.encoder.layer.{index}."
    return {k[len(prefix):]: v for k, v in model.state_dict().items() if k.startswith(prefix)}


@pytest.mark.parametrize("spec, layers, kept", [
    ("drop:top:1", 4, [0, 1, 2]), ("drop:top:3", 4, [0]), ("drop:bottom:2", 4, [2, 3]),
    ("drop:alternate:1", 4, [0, 1, 2]), ("drop:alternate:2", 4, [0, 2]), ("drop:alternate:4", 12, [0, 1, 2, 3, 4, 6, 8, 10]),
    ("drop:symmetric:1", 4, [0, 2, 3]), ("drop:symmetric:2", 4, [0, 3]), ("drop:symmetric:4", 12, [0, 1, 2, 3, 8, 9, 10, 11]),
])
def test_which_layers_each_strategy_keeps(spec, layers, kept):
    method = parse_method(spec, layers)
    assert kept_layers(method.strategy, method.count, layers) == kept
    assert str(method) == spec


@pytest.mark.parametrize("spec, message", [
    ("drop:top:4", "drop:top:4 does not fit a 4-layer model: K must be between 1 and 3."),
    ("drop:bottom:0", "K must be between 1 and 3"),
    ("drop:alternate:3", "K must be between 1 and 2"),
    ("drop:middle:1", "Unknown pruning method 'drop:middle:1'"),
    ("drop:top:two", "Unknown pruning method"),
    ("sparsity:1.5", "the sparsity must be a number between 0 and 1"),
    ("sparsity:0:global", "between 0 and 1"),
    ("sparsity:0.5:row", "Unknown pruning method"),
    ("quantize:8", "Unknown pruning method"),
])
def test_bad_methods_are_one_clear_sentence(spec, message):
    with pytest.raises(MacedonizerError, match=message):
        parse_method(spec, layers=4)


def test_sparsity_parses_with_a_default_scope():
    assert str(parse_method("sparsity:0.5")) == "sparsity:0.5:global"
    assert str(parse_method(" Sparsity:0.25:LAYER ")) == "sparsity:0.25:layer"


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


def test_magnitude_pruning_arithmetic_in_both_scopes(parent):
    original = load(parent[0])
    prunable = encoder_matrices(original)
    assert len(prunable) == 4 * 6  # q, k, v, attention output, FFN in and out, per layer
    total = sum(p.numel() for p in prunable.values())
    for scope in ("layer", "global"):
        child, masks = apply_method(original, parse_method(f"sparsity:0.6:{scope}"))
        matrices = encoder_matrices(child)
        zeros = {name: int((p == 0).sum()) for name, p in matrices.items()}
        assert all(torch.equal(masks[name], matrices[name] != 0) for name in matrices)
        if scope == "layer":
            assert all(zeros[n] == round(0.6 * p.numel()) for n, p in matrices.items())
        else:
            assert sum(zeros.values()) == round(0.6 * total)
            assert len({zeros[n] / p.numel() for n, p in matrices.items()}) > 1  # ranked together, not per matrix
            pruned = torch.cat([prunable[n][~masks[n]].abs() for n in masks])
            kept = torch.cat([prunable[n][masks[n]].abs() for n in masks])
            assert pruned.max() <= kept.min()  # the smallest magnitudes went
        # Embeddings, LayerNorm, biases and the head are untouched, and so is the parent.
        for name, value in child.state_dict().items():
            if name not in matrices:
                assert torch.equal(value, original.state_dict()[name]), name
    assert all(int((p == 0).sum()) == 0 for p in encoder_matrices(original).values())


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


def test_report_writes_json_png_and_a_table(parent, tmp_path):
    parent_dir, _ = parent
    text = tmp_path / "held-out.txt"
    text.write_text("Утре ќе одам на пазар со мајка ми.\nВладата денес го усвои буџетот за следната година.\n"
                    "Охридското Езеро е едно од најстарите езера во Европа.\n", encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["prune", str(parent_dir), "--report", "-o", str(out), "--text", str(text),
                                       "--sparsities", "0.5,0.9", "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "prune_report.json").read_text())
    assert data["parent"]["layers"] == 4 and data["texts"] == ["held-out.txt"]
    assert data["parent"]["scores"] == evaluate_text(parent_dir, [str(text)])["held-out.txt"]  # as `eval` scores it
    assert [(r["strategy"], r["layers_kept"]) for r in data["layers"]] == [
        ("top", 3), ("top", 2), ("top", 1), ("bottom", 3), ("bottom", 2), ("bottom", 1), ("alternate", 3),
        ("alternate", 2), ("symmetric", 3), ("symmetric", 2), ("symmetric", 1)]
    assert [(r["scope"], r["sparsity"]) for r in data["sparsity"]] == [
        ("global", 0.5), ("global", 0.9), ("layer", 0.5), ("layer", 0.9)]
    for row in data["layers"] + data["sparsity"]:
        assert {"method", "loss", "masked_accuracy", "retained_accuracy"} <= set(row)
    assert all(r["achieved"] == pytest.approx(r["sparsity"], abs=1e-3) for r in data["sparsity"])
    assert (out / "prune_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = CliRunner().invoke(main, ["prune", str(parent_dir), "--report", "-o", str(out), "--text", str(text),
                                        "--sparsities", "0.5", "--overwrite"])
    assert printed.exit_code == 0 and "layers kept" in printed.output and "retained" in printed.output
