"""``macedonizer eval MODEL --task upos --test FILE``: a fine-tuned tagger and its baselines on one test file.

All three taggers are scored on the test file's own words: the fine-tuned
model, the most-frequent-tag tagger (the table stored with the model, or
one learned from ``train`` when given) and the random-init baseline stored
in ``MODEL/random_init`` (absent where ``finetune --no-baselines`` ran).
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModelForTokenClassification, AutoTokenizer

from ..configs import FinetuneConfig
from ..errors import InputError
from ..files import read_json
from .conllu import read_conllu
from .finetune import RANDOM_INIT_DIR
from .report import SCORES_FILE
from .scoring import learn_most_frequent_tag, load_baseline, score, tag_most_frequent
from .tagging import check_fast, predict, quiet_transformers


def evaluate_tagger(model_dir, test, train=None, batch_size: int = 32) -> dict:
    """``{"test": file, "words": n, "scores": {tagger: score}}`` of the taggers of a fine-tuned folder."""
    model_dir = Path(model_dir)
    saved = read_json(model_dir / SCORES_FILE) or {}
    max_length = saved.get("settings", {}).get("max_length", FinetuneConfig().max_length)
    sentences = read_conllu(test)
    table = learn_most_frequent_tag(read_conllu(train)) if train else load_baseline(model_dir)
    with quiet_transformers():
        return _evaluate(model_dir, sentences, table, test, max_length, batch_size)


def _evaluate(model_dir: Path, sentences, table: dict | None, test, max_length: int, batch_size: int) -> dict:
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        check_fast(tokenizer)
        taggers = {"model": AutoModelForTokenClassification.from_pretrained(model_dir)}
        if (model_dir / RANDOM_INIT_DIR / "config.json").is_file():
            taggers["random_init"] = AutoModelForTokenClassification.from_pretrained(model_dir / RANDOM_INIT_DIR)
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot load {model_dir} as a token classifier: {str(exc).splitlines()[0]}") from None
    fallback = table["default"] if table else None
    scores = {"model": score(sentences, predict(taggers["model"], tokenizer, sentences, max_length, batch_size,
                                                fallback))}
    if table:
        scores["most_frequent_tag"] = score(sentences, tag_most_frequent(table, sentences))
    if "random_init" in taggers:
        scores["random_init"] = score(sentences, predict(taggers["random_init"], tokenizer, sentences, max_length,
                                                         batch_size, fallback))
    return {"task": "upos", "model": str(model_dir), "test": str(test), "sentences": len(sentences),
            "words": scores["model"]["words"], "scores": scores}
