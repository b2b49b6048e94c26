"""Model cards with real numbers: ``macedonizer card MODEL_DIR``.

Everything in the card comes from files the earlier stages wrote: the
evaluation (``eval.json``), the training config and data
(``training_config.json``), the loss curve (``metrics.jsonl``), the tokenizer
statistics (``stats.json``), the cleaning report (``report.json``) and the
sibling sizes trained next to this one. The card is rendered from the Jinja2
template in ``model_cards/`` through huggingface_hub's ``ModelCard``, so its
metadata is what the Hub expects (language, SPDX licence, pipeline tag,
widget, model-index). Local paths never appear in it.
"""

from __future__ import annotations

import datetime
import os
import re
from importlib import resources
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from matplotlib.figure import Figure

from .build.downstream import DOWNSTREAM_FILE
from .configs import check_licence, check_repo_id
from .corpus.recipes import load_recipe
from .errors import ConfigError, InputError
from .files import read_json, read_jsonl
from .specs import HubDatasetSpec, RecipeSpec, parse
from .verdict import judge

EXAMPLES = [
    "Скопје е главен {mask} на Северна Македонија.",
    "Утре ќе одам на {mask} со мајка ми.",
    "Охридското Езеро е едно од најстарите {mask} во Европа.",
]


VARIANT_NAMES = {
    "post-ln": "post-LayerNorm (BERT)",
    "pre-ln": "pre-LayerNorm",
    "modern": "ModernBERT (`ModernBertForMaskedLM`): pre-LayerNorm, GLU feed-forward, rotary positions, no biases, "
              "global attention in every layer",
}
"""How the card's architecture row names each training variant."""


def percent(value: float | None) -> str:
    """A share as ``12.3%``, or ``n/a`` for None."""
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _thousands(value: int) -> str:
    return f"{value:,}"


def _family(model_dir: Path, repo_id: str | None, size_name: str, family_repos: dict[str, str] | None = None,
            members: list[str] | None = None) -> list[dict]:
    """This model and the sizes trained beside it, smallest first.

    ``members`` limits the family to those folder names (a build's own
    models); ``family_repos`` maps folder names to Hub repo ids for links.
    """
    rows = []
    for sibling in sorted(model_dir.resolve().parent.iterdir()):
        if members is not None and sibling.name not in members and sibling.resolve() != model_dir.resolve():
            continue
        evaluation = read_json(sibling / "eval.json")
        config = read_json(sibling / "training_config.json")
        if not evaluation or not config:
            continue
        shape = config["size"]
        link = None
        if family_repos and sibling.name in family_repos:
            link = f"https://huggingface.co/{family_repos[sibling.name]}"
        elif repo_id and size_name in repo_id:
            link = f"https://huggingface.co/{repo_id.replace(size_name, shape['name'])}"
        rows.append({
            "name": sibling.name, "current": sibling.resolve() == model_dir.resolve(), "layers": shape["layers"],
            "hidden": shape["hidden"], "parameters": evaluation["parameters"],
            "parameters_m": f"{evaluation['parameters'] / 1e6:.1f}",
            "accuracy": percent(evaluation["validation"]["masked_accuracy"]),
            "unigram_accuracy": percent(evaluation["validation"]["unigram_accuracy"]),
            "ngram_accuracy": percent(evaluation["validation"]["ngram_accuracy"])
            if "ngram_accuracy" in evaluation["validation"] else "–",
            "verdict": judge(evaluation["validation"]).level,
            "link": link if sibling.resolve() != model_dir.resolve() else None,
            "derived": _derived_from(sibling),
            "downstream": (_downstream(sibling) or {}).get("accuracy"),
            "data": (config["data"].get("tokenizer_fingerprint"), tuple(config["data"]["inputs"])),
        })
    return sorted(rows, key=lambda r: r["parameters"])


def _downstream(model_dir: Path) -> dict | None:
    """The model's scores on the build's downstream task (its ``downstream.json``), for the card; None without."""
    record = read_json(model_dir / DOWNSTREAM_FILE)
    if not record:
        return None
    scores = record["scores"]
    cells = {name: {"accuracy": percent(s["accuracy"]), "macro_f1": percent(s["macro_f1"])}
             for name, s in scores.items()}
    return {**record, "cells": cells, "accuracy": cells["model"]["accuracy"],
            "task_name": "Part-of-speech tagging (UPOS)" if record["task"] == "upos" else record["task"],
            "words": _thousands(record["words"])}


def _downstream_results(downstream: dict | None) -> list[EvalResult]:
    """The downstream scores as model-index entries (0–1, as the masked-LM ones)."""
    if not downstream:
        return []
    where = {"task_type": "token-classification", "task_name": downstream["task_name"], "dataset_type": "conllu",
             "dataset_name": downstream["test"], "dataset_split": downstream["split"]}
    model = downstream["scores"]["model"]
    return [EvalResult(**where, metric_type="accuracy", metric_name="Accuracy", metric_value=model["accuracy"]),
            EvalResult(**where, metric_type="f1", metric_name="Macro-F1", metric_value=model["macro_f1"])]


def _derived_from(model_dir: Path) -> str | None:
    """``drop:top:2 of mini`` for a model derived by `macedonizer prune` (its prune.json), else None."""
    manifest = read_json(model_dir / "prune.json")
    return f"{manifest['method']} of {manifest['parent']['name']}" if manifest else None


def _derivation(model_dir: Path, family_repos: dict[str, str] | None) -> dict | None:
    """Parent, method and retained accuracy of a model derived by `macedonizer prune`, for its card."""
    manifest = read_json(model_dir / "prune.json")
    if not manifest:
        return None
    parent, validation = manifest["parent"], manifest["validation"]
    repo = parent.get("repo_id") or (family_repos or {}).get(parent["name"])
    return {
        "parent": repo or parent["name"], "parent_link": f"https://huggingface.co/{repo}" if repo else None,
        "method": manifest["method"], "description": manifest["description"],
        "recovery_steps": _thousands(manifest["recovery"]["steps"]) if manifest["recovery"] else None,
        "sparsity": percent(manifest["sparsity"]["achieved"]) if manifest["sparsity"] else None,
        "retained": None if validation["retained_accuracy"] is None else percent(validation["retained_accuracy"]),
        "accuracy": percent(validation["model"]["masked_accuracy"]),
        "parent_accuracy": percent(validation["parent"]["masked_accuracy"]),
    }


def _cleaning(inputs: list[str]) -> tuple[dict | None, list[str], list[str]]:
    """Cleaning statistics and filters, source names and Hub dataset ids behind the training data.

    The statistics add up the ``report.json`` of every input that `macedonizer clean` wrote; an input
    without one was not cleaned by it, and the card says so. No report at all: no cleaning section.
    """
    sources: list[str] = []
    datasets: list[str] = []
    reports: list[dict] = []
    uncleaned: list[str] = []
    for item in inputs:
        report = read_json(Path(item) / "report.json") if Path(item).is_dir() else None
        names = report["inputs"] if report else [item]
        for name in names:
            source, dataset = _source(name)
            sources.append(source)
            datasets.extend([dataset] if dataset else [])
        if report:
            reports.append(report)
        else:
            uncleaned.append(_source(item)[0])
    return (_cleaning_values(reports, uncleaned) if reports else None), sources, datasets


def _cleaning_values(reports: list[dict], uncleaned: list[str]) -> dict:
    """The template's values on cleaning, from the clean stage's reports."""
    drops: dict[str, int] = {}
    for report in reports:
        for reason, counts in report["drops"].items():
            drops[reason] = drops.get(reason, 0) + counts["docs"]
    ranked = sorted(drops.items(), key=lambda x: -x[1])
    # A filter counts as run only where it ran on every cleaned input.
    filters = [g for g in reports[0]["config"]["filters"] if all(g in r["config"]["filters"] for r in reports)]
    thresholds = sorted({r["config"]["mk_threshold"] for r in reports})
    docs = {end: sum(r["documents"][end] for r in reports) for end in ("in", "out")}
    chars = {end: sum(r["characters"][end] for r in reports) for end in ("in", "out")}
    return {
        "docs_in": _thousands(docs["in"]), "docs_out": _thousands(docs["out"]),
        "chars_in": _thousands(chars["in"]), "chars_out": _thousands(chars["out"]),
        "drops": [(reason.replace("_", " "), _thousands(n)) for reason, n in ranked],
        "filters": ", ".join(filters) if filters else "none (normalisation only)",
        "uncleaned": ", ".join(uncleaned),
        "language": _language_filtering("langid" in filters, thresholds, drops),
    }


def _language_filtering(ran: bool, thresholds: list[float], drops: dict[str, int]) -> str:
    """What the language filter did, as the card's limitations say it."""
    if not ran:
        return ("No language filter ran when the text was cleaned, so whatever text in other languages or "
                "scripts the sources held is in the training data.")
    threshold = " or ".join(f"{t:g}" for t in thresholds)
    return (f"Documents the language identifier scored below {threshold} as Macedonian (against Bulgarian, "
            f"Serbian, Russian, Ukrainian and Belarusian) were filtered out "
            f"({_thousands(drops.get('not_macedonian', 0))} documents), and so was text in Latin script "
            f"({_thousands(drops.get('latin_script', 0))} documents): the model knows little of those languages "
            "or of Macedonian written in Latin letters.")


def _source(name: str) -> tuple[str, str | None]:
    """How the card names one input (never by a local path), and the Hub dataset behind it."""
    try:
        spec = parse(name)
    except ConfigError:
        return Path(name).name, None
    if isinstance(spec, HubDatasetSpec):
        return spec.id, spec.id
    if isinstance(spec, RecipeSpec):
        try:
            recipe = load_recipe(spec.name)
        except InputError:  # corpus:sample, or a recipe this version no longer has
            return name, None
        return recipe.title, recipe.dataset
    return Path(spec.path).name, None


def _loss_curve(model_dir: Path, unigram_loss: float, out: Path) -> None:
    rows = read_jsonl(model_dir / "metrics.jsonl")
    train = [(r["tokens"], r["loss"]) for r in rows if r["split"] == "train"]
    val = [(r["tokens"], r["loss"]) for r in rows if r["split"] == "val"]
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    if train:
        ax.plot(*zip(*train), label="training loss", color="#4c72b0", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", color="#dd8452")
    ax.axhline(unigram_loss, linestyle="--", color="grey", label="unigram baseline")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("masked-LM loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)


def _read_model(model_dir: Path) -> tuple[dict, dict, dict]:
    """eval.json, training_config.json and tokenizer_config.json, or a user error."""
    evaluation = read_json(model_dir / "eval.json")
    config = read_json(model_dir / "training_config.json")
    tokenizer_config = read_json(model_dir / "tokenizer_config.json")
    if not evaluation or not config or not tokenizer_config:
        raise InputError(
            f"{model_dir} is not a model trained by `macedonizer pretrain` (eval.json, training_config.json "
            "and tokenizer_config.json are needed)."
        )
    return evaluation, config, tokenizer_config


def _tokenizer_rows(tokenizer_dir: Path) -> list[tuple[str, dict]]:
    """The tokenizer's coverage on its evaluation texts (its stats.json), as the card's table rows."""
    stats = read_json(tokenizer_dir / "stats.json")
    return [(name, {"words": _thousands(row["words"]), "fertility": f"{row['fertility']:.3f}",
                    "split": percent(row["split_word_share"]), "unk": f"{100 * row['unk_rate']:.3f}%"})
            for name, row in (stats["evaluation"].items() if stats else ())]


def _card_data(licence: str, size_name: str, datasets: list[str], model_name: str, validation: dict,
               examples: list[str], downstream: dict | None, variant: str) -> ModelCardData:
    """The card's metadata, as the Hub reads it: language, licence, pipeline tag, widget, model-index."""
    held_out = {"task_type": "fill-mask", "task_name": "Masked language modelling", "dataset_type": "held-out",
                "dataset_name": "Held-out validation documents"}
    return ModelCardData(
        language="mk",
        license=licence,
        library_name="transformers",
        pipeline_tag="fill-mask",
        tags=["bert", *(["modernbert"] if variant == "modern" else []), "fill-mask", "macedonian", "macedonizer",
              f"size-{size_name}"],
        datasets=datasets or None,
        model_name=model_name,
        eval_results=[
            EvalResult(**held_out, metric_type="accuracy", metric_name="Masked-token accuracy",
                       metric_value=validation["masked_accuracy"]),
            EvalResult(**held_out, metric_type="loss", metric_name="Cross-entropy loss",
                       metric_value=validation["loss"]),
            *_downstream_results(downstream),
        ],
        widget=[{"text": e} for e in examples],
    )


def _training_values(train: dict, evaluation: dict, mask_token: str) -> dict:
    """The template's values on how the model was trained."""
    seconds = evaluation["seconds"]
    return dict(
        mask_rate=percent(train["masking"]["rate"]), whole_word=train["masking"]["whole_word"],
        mask_shares=_mask_shares(train["masking"], mask_token),
        initialisation=("local: weights at std 1/√hidden, attention heads starting on their neighbours"
                        if train.get("init") == "local" else "BERT's: weights at std 0.02"),
        variant=VARIANT_NAMES.get(train.get("variant", "post-ln"), train.get("variant")),
        dropout=train.get("dropout", 0.0),
        seq_len=train["seq_len"], batch_size=train["batch_size"],
        lr=train["lr"], weight_decay=train["weight_decay"], schedule=train["schedule"],
        betas=", ".join(f"{b:g}" for b in train["betas"]) if "betas" in train else None,
        max_grad_norm=train.get("max_grad_norm"),
        warmup=percent(train["warmup"]), steps=_thousands(evaluation["steps"]),
        tokens=_thousands(evaluation["tokens"]), hardware=evaluation.get("hardware", evaluation["device"]),
        precision=evaluation.get("precision"),
        training_time=f"{seconds / 60:.1f} minutes" if seconds >= 60 else f"{seconds:.0f} seconds",
    )


def _mask_shares(masking: dict, mask_token: str) -> str:
    """What became of the tokens chosen for prediction, from the training config's shares."""
    keep = max(0.0, 1.0 - masking["mask_share"] - masking["random_share"])
    parts = [(masking["mask_share"], f"replaced by `{mask_token}`"),
             (masking["random_share"], "replaced by a random token"), (keep, "left unchanged")]
    return ", ".join(f"{share:.0%} {what}" for share, what in parts if share > 1e-9)


def _tokenizer_values(model_dir: Path, tokenizer_config: dict, data: dict) -> dict:
    """The tokenizer's kind, size, casing and accent handling, from the files saved with the model."""
    saved = read_json(model_dir / "tokenizer.json") or {}
    normalizer = saved.get("normalizer") or {}
    uncased = normalizer.get("lowercase", tokenizer_config.get("do_lower_case", False))
    strip = normalizer.get("strip_accents", tokenizer_config.get("strip_accents"))
    return dict(
        tokenizer_kind=(saved.get("model") or {}).get("type", tokenizer_config.get("tokenizer_class", "")),
        vocab_size=_thousands(data["vocab_size"]), uncased=uncased,
        # BERT's normaliser strips accents when strip_accents is unset and the text is lowercased.
        strips_accents=bool(strip) or (strip is None and uncased),
    )


def _score_values(validation: dict) -> dict:
    """The template's values on the held-out validation scores."""
    return dict(
        accuracy=percent(validation["masked_accuracy"]), unigram_accuracy=percent(validation["unigram_accuracy"]),
        loss=f"{validation['loss']:.3f}", unigram_loss=f"{validation['unigram_loss']:.3f}",
        perplexity=f"{validation['perplexity']:.1f}", verdict=judge(validation),
        ngram_accuracy=percent(validation["ngram_accuracy"]) if "ngram_accuracy" in validation else "–",
        ngram_loss=f"{validation['ngram_loss']:.3f}" if "ngram_loss" in validation else "–",
    )


def render(model_dir: str | os.PathLike, repo_id: str | None = None, licence: str = "apache-2.0",
           datasets: tuple[str, ...] = (), family_repos: dict[str, str] | None = None,
           members: list[str] | None = None) -> Path:
    """Write ``README.md`` and ``loss_curve.png`` into ``model_dir``; return the card's path.

    ``family_repos`` (folder name → repo id) links the siblings of a build;
    ``members`` limits the family table to those folder names.
    """
    licence = check_licence(licence)
    if repo_id is not None:
        check_repo_id(repo_id)
    model_dir = Path(model_dir)
    evaluation, config, tokenizer_config = _read_model(model_dir)
    shape, train, data = config["size"], config["train"], config["data"]
    validation = evaluation["validation"]
    mask_token = tokenizer_config.get("mask_token", "[MASK]")
    size_name = shape["name"]
    model_name = repo_id.split("/")[-1] if repo_id else model_dir.resolve().name
    # training_config.json names local data and the tokenizer relative to the model folder
    cleaning, sources, found_datasets = _cleaning([str(parse(p).relative_to(model_dir)) for p in data["inputs"]])
    examples = [e.format(mask=mask_token) for e in EXAMPLES]
    family = _family(model_dir, repo_id, size_name, family_repos, members)
    downstream = _downstream(model_dir)
    documents = data["documents"]
    data_description = (
        f"{_thousands(documents['train'])} documents ({_thousands(data['train_tokens'])} tokens) for training and "
        f"{_thousands(documents['val'])} held-out documents for validation, from: {', '.join(sources)}."
    )
    card = ModelCard.from_template(
        _card_data(licence, size_name, sorted(set(found_datasets) | set(datasets)), model_name, validation,
                   examples, downstream, train.get("variant", "post-ln")),
        template_str=(resources.files("macedonizer._model_cards") / "model_card.md").read_text(encoding="utf-8"),
        model_name=model_name, size_name=size_name, layers=shape["layers"], hidden=shape["hidden"],
        heads=shape["heads"], parameters_m=f"{evaluation['parameters'] / 1e6:.1f}", mask_token=mask_token,
        family=family, family_downstream=any(m["downstream"] for m in family), downstream=downstream,
        same_data=len({m["data"] for m in family}) == 1, data_description=data_description,
        cleaning=cleaning, derived=_derivation(model_dir, family_repos),
        **_tokenizer_values(model_dir, tokenizer_config, data),
        tokenizer_eval=_tokenizer_rows(model_dir / data["tokenizer"]),
        **_training_values(train, evaluation, mask_token),
        **_score_values(validation), repo_id=repo_id or model_name, example=examples[0],
        data_bias=f"the topics, regions and registers its sources ({', '.join(sorted(set(sources)))}) "
                  "over-represent.",
        citation_key=re.sub(r"\W", "_", model_name), year=datetime.date.today().year,
    )
    _write(model_dir, str(card), validation["unigram_loss"])
    return model_dir / "README.md"


def _write(model_dir: Path, card: str, unigram_loss: float) -> None:
    """README.md and loss_curve.png, each written whole through a temporary file."""
    tmp_png = model_dir / ".loss_curve.tmp.png"
    tmp_md = model_dir / ".README.tmp.md"
    try:
        _loss_curve(model_dir, unigram_loss, tmp_png)
        tmp_md.write_text(card, encoding="utf-8")
        os.replace(tmp_png, model_dir / "loss_curve.png")
        os.replace(tmp_md, model_dir / "README.md")
    finally:
        for tmp in (tmp_png, tmp_md):
            tmp.unlink(missing_ok=True)
