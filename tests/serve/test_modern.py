"""The service answers for a ModernBERT as the fill-mask pipeline does, its head on the masked positions alone."""

import shutil

import pytest

from macedonizer.serve.engine import Query
from macedonizer.serve.models import ModelSpec, load, load_all, parse_specs
from tests.train.conftest import train_modern

TEXTS = ["Скопје е главен [MASK] на Македонија.", "[MASK] ќе одам на [MASK].", "Утре ќе одам на [MASK] со мајка ми."]


def flat(answer: list) -> list[dict]:
    """The predictions of an answer, one mask's (a list) or several masks' (a list of lists)."""
    return [p for row in answer for p in (row if isinstance(row, list) else [row])]


@pytest.fixture(scope="module")
def modern(tok, tmp_path_factory):
    return train_modern(tok, tmp_path_factory.mktemp("serve-modern") / "modern")


def test_the_service_answers_for_a_modern_model_as_the_pipeline(modern, monkeypatch):
    from transformers import pipeline

    served = load_all(parse_specs([f"mk={modern}"]))["mk"]
    assert served.info["architecture"] == "ModernBertForMaskedLM" and served.info["mask_token"] == "[MASK]"
    engine = served.engine
    # Only the encoder and the head on the masked positions run: the full model's forward is never called.
    monkeypatch.setattr(engine.model, "forward", lambda *a, **k: pytest.fail("the full forward ran"))
    answers = engine.predict([Query(engine.encode(text), 3) for text in TEXTS])
    reference = pipeline("fill-mask", model=str(modern))
    for answer, text in zip(answers, TEXTS):
        expected = reference(text, top_k=3)
        assert [p["token"] for p in flat(answer)] == [p["token"] for p in flat(expected)]
        assert [p["score"] for p in flat(answer)] == pytest.approx([p["score"] for p in flat(expected)], rel=1e-4)
        assert [p["sequence"] for p in flat(answer)] == [p["sequence"] for p in flat(expected)]


def test_the_onnx_backend_serves_a_modern_model(modern, tmp_path):
    """An exported ModernBERT encoder runs before the model's own head on the masked positions."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from macedonizer.export import export_onnx

    folder = shutil.copytree(modern, tmp_path / "modern", ignore=shutil.ignore_patterns("checkpoints"))
    export_onnx(folder)
    exported, plain = (load(ModelSpec("m", str(folder)), backend=backend).engine for backend in ("onnx", "torch"))
    queries = [Query(plain.encode(text), 3) for text in TEXTS]
    for ours, reference in zip(exported.predict(queries), plain.predict(queries)):
        assert [p["token"] for p in flat(ours)] == [p["token"] for p in flat(reference)]
        assert [p["score"] for p in flat(ours)] == pytest.approx([p["score"] for p in flat(reference)], abs=1e-5)
