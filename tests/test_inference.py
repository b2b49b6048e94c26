import json

import pytest
from click.testing import CliRunner

from macedonizer import FillMask
from macedonizer.cli import main
from macedonizer.errors import MacedonizerError


def test_predictions_are_the_pipelines(tiny_model):
    from transformers import pipeline

    fill = FillMask(tiny_model)
    ours = fill("Скопје е главен [MASK] на Македонија.", top_k=3)
    reference = pipeline("fill-mask", model=str(tiny_model))
    reference = reference("Скопје е главен [MASK] на Македонија.", top_k=3)
    assert [p["token"] for p in ours] == [p["token"] for p in reference]
    assert [p["score"] for p in ours] == pytest.approx([p["score"] for p in reference])
    assert set(ours[0]) == {"score", "token", "token_str", "sequence"}
    json.dumps(ours)  # plain Python types


def test_shapes_aliases_and_batches(tiny_model):
    fill = FillMask(tiny_model, batch_size=2)
    assert fill("Утре ќе одам на <mask>.", top_k=2) == fill("Утре ќе одам на [MASK].", top_k=2)
    two_masks = fill("[MASK] ќе одам на [MASK].", top_k=2)
    assert len(two_masks) == 2 and all(len(p) == 2 for p in two_masks)
    batch = fill(["Утре ќе одам на [MASK].", "Таа [MASK] дома.", "Тој [MASK] рече."], top_k=4)
    assert len(batch) == 3 and all(len(p) == 4 for p in batch)
    alone = fill("Утре ќе одам на [MASK].", top_k=4)
    # Batching pads texts to one length: the same tokens, scores equal up to float rounding.
    assert [p["token"] for p in batch[0]] == [p["token"] for p in alone]
    assert [p["score"] for p in batch[0]] == pytest.approx([p["score"] for p in alone], rel=1e-4)


def test_errors(tiny_model, tmp_path):
    fill = FillMask(tiny_model)
    with pytest.raises(MacedonizerError, match="no mask token"):
        fill("Овде нема маска.")
    with pytest.raises(MacedonizerError, match="Model folder not found"):
        FillMask(tmp_path / "missing")


def test_cli(tiny_model):
    result = CliRunner().invoke(main, ["fill", "Утре ќе одам на [MASK].", "--model", str(tiny_model),
                                       "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2
    result = CliRunner().invoke(main, ["fill", "Без маска.", "--model", str(tiny_model)])
    assert result.exit_code == 1 and "no mask token" in result.output
