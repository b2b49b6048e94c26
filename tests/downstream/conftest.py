"""A tagger fine-tuned once per session from the tiny model, on the project's own tagged sample (CC0)."""

from pathlib import Path

import pytest

from macedonizer.configs import FinetuneConfig

UPOS_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "upos-sample.conllu"
QUICK = FinetuneConfig(epochs=2, batch_size=4, lr=1e-3, patience=1, max_length=32)


@pytest.fixture(scope="session")
def tagger(tiny_model, tmp_path_factory) -> Path:
    from macedonizer.downstream.finetune import run

    return run(QUICK, str(tiny_model), UPOS_SAMPLE, tmp_path_factory.mktemp("tagger") / "tagger", dev=UPOS_SAMPLE,
               progress=False)
