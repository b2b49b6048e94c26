import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from macedonizer import FillMask
from macedonizer.cli import main
from macedonizer.errors import InputError, MacedonizerError


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


def test_scores_are_the_models_own_softmax(tiny_model):
    fill = FillMask(tiny_model)
    text = "Скопје е главен [MASK] на Македонија."
    ours = fill(text, top_k=10)
    tokenizer, model = fill.pipeline.tokenizer, fill.pipeline.model
    encoded = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits[0, encoded["input_ids"][0].tolist().index(tokenizer.mask_token_id)]
    probs = logits.softmax(-1)
    expected = probs.topk(10)
    assert [p["token"] for p in ours] == expected.indices.tolist()
    assert [p["score"] for p in ours] == pytest.approx(expected.values.tolist(), rel=1e-4, abs=1e-7)
    scores = [p["score"] for p in ours]
    assert scores == sorted(scores, reverse=True) and sum(scores) <= 1 + 1e-6
    # targets: the same probabilities, of those words only, best first
    targets = [tokenizer.convert_ids_to_tokens(i) for i in expected.indices.tolist()[3:6]]
    chosen = fill(text, top_k=3, targets=targets)
    assert [p["token"] for p in chosen] == expected.indices.tolist()[3:6]
    assert [p["score"] for p in chosen] == pytest.approx(expected.values.tolist()[3:6], rel=1e-4, abs=1e-7)


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


def test_a_modern_model_fills_masks_as_the_pipeline(tok, tmp_path):
    from transformers import pipeline

    from tests.train.conftest import train_modern

    modern = train_modern(tok, tmp_path / "modern")
    fill = FillMask(modern)
    assert type(fill.pipeline.model).__name__ == "ModernBertForMaskedLM" and fill.mask_token == "[MASK]"
    ours = fill("Утре ќе одам на <mask> со мајка ми.", top_k=3)
    reference = pipeline("fill-mask", model=str(modern))("Утре ќе одам на [MASK] со мајка ми.", top_k=3)
    assert [p["token"] for p in ours] == [p["token"] for p in reference]
    assert [p["score"] for p in ours] == pytest.approx([p["score"] for p in reference])


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


def test_a_folder_without_a_model_is_an_input_error(tiny_model, tmp_path):
    empty = tmp_path / "empty"  # transformers: ValueError (no config.json)
    empty.mkdir()
    unknown = tmp_path / "unknown"  # ValueError (a model type it does not know)
    shutil.copytree(tiny_model, unknown, ignore=shutil.ignore_patterns("checkpoints"))
    config = json.loads((unknown / "config.json").read_text())
    (unknown / "config.json").write_text(json.dumps({**config, "model_type": "no-such-type"}))
    damaged = tmp_path / "damaged"  # OSError (a config that is not JSON)
    shutil.copytree(tiny_model, damaged, ignore=shutil.ignore_patterns("checkpoints"))
    (damaged / "config.json").write_text("{not json")
    for folder in (empty, unknown, damaged):
        with pytest.raises(InputError, match=f"Cannot load the model '{folder}' from the folder: "):
            FillMask(folder)
        for args in (["fill", "Утре ќе одам на [MASK].", "--model", str(folder)], ["export", "onnx", str(folder)]):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 1 and result.output.startswith("Error: Cannot load the model "), result.output
            assert result.output.count("\n") == 1
