"""The prune report: every layer-dropping strategy and sparsity of one model, scored on held-out text."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from tqdm import tqdm
from transformers import AutoModelForMaskedLM

from ..files import refuse_non_empty, staged_folder, write_json
from ..train.evaluate import TextScorer
from ..cards import percent
from .derived import retained
from .methods import (DEFAULT_SPARSITIES, REPORT_JSON, REPORT_PNG, SCOPES, STRATEGIES, Method, drop_counts, kept_layers,
                      parse_method)
from .operations import apply_method, sparsity_of


def report(parent_dir, out_dir, texts: list[str], *, sparsities=DEFAULT_SPARSITIES, seq_len: int = 128,
           seed: int = 0, device: str = "cpu", progress: bool = True, overwrite: bool = False) -> Path:
    """Score every layer-dropping strategy and count, and every sparsity in both scopes, on ``texts``.

    Writes ``prune_report.json`` and ``prune_report.png`` (accuracy against
    layers kept, and against sparsity) into ``out_dir``; nothing is saved of
    the pruned models themselves. Every variant is scored on the same masked
    positions as the parent (``macedonizer eval`` with the same seed gives
    the parent's numbers).
    """
    started = time.time()
    parent, out = Path(parent_dir), Path(out_dir)
    methods = [parse_method(f"sparsity:{s}:global") for s in sparsities]  # validates the sparsities
    refuse_non_empty(out, overwrite)
    scorer = TextScorer(parent, list(texts), seq_len=seq_len, seed=seed, device=device)
    model = AutoModelForMaskedLM.from_pretrained(parent)
    layers = model.config.num_hidden_layers
    methods = ([Method("drop", strategy=s, count=k) for s in STRATEGIES for k in drop_counts(s, layers)]
               + [dataclasses.replace(m, scope=scope) for scope in SCOPES for m in methods])
    parent_scores = _combined(scorer(model))
    rows = {"layers": [], "sparsity": []}
    for method in tqdm(methods, desc="prune report", unit=" models", disable=None if progress else True):
        child, masks = apply_method(model, method)
        scores = _combined(scorer(child))
        row = {"method": str(method), "loss": scores["loss"], "masked_accuracy": scores["masked_accuracy"],
               "retained_accuracy": retained(scores, parent_scores)}
        if masks is None:
            rows["layers"].append({**row, "strategy": method.strategy, "dropped": method.count,
                                   "layers_kept": layers - method.count,
                                   "kept": kept_layers(method.strategy, method.count, layers)})
        else:
            rows["sparsity"].append({**row, "scope": method.scope, "sparsity": method.sparsity,
                                     "achieved": sparsity_of(child)["achieved"]})
    data = {"parent": {"name": parent.resolve().name, "path": str(parent.resolve()), "layers": layers,
                       "scores": parent_scores},
            "texts": [Path(t).name for t in texts], "seq_len": seq_len, "seed": seed, **rows,
            "seconds": round(time.time() - started, 1)}
    with staged_folder(out) as tmp:
        write_json(tmp / REPORT_JSON, data)
        _plot(data, tmp / REPORT_PNG)
    return out


def _combined(scores: dict) -> dict:
    """The scores over all texts: ``all`` when there are several, else the one file's."""
    return scores.get("all") or next(iter(scores.values()))


def format_report(data: dict) -> str:
    """The report as tables a person can read."""
    p = data["parent"]["scores"]
    lines = [f"{data['parent']['name']} ({data['parent']['layers']} layers) on {', '.join(data['texts'])}: "
             f"masked accuracy {p['masked_accuracy']:.1%}, loss {p['loss']:.3f} "
             f"(unigram {p['unigram_accuracy']:.1%}, {p['unigram_loss']:.3f}; n-gram "
             f"{p.get('ngram_accuracy', float('nan')):.1%}, {p.get('ngram_loss', float('nan')):.3f}; "
             f"{p['masked_tokens']:,} masked tokens, every one of them masked)",
             "", f"{'layers kept':>11}  {'strategy':<10} {'parent layers':<14} {'loss':>7} {'accuracy':>9} {'retained':>9}"]
    for r in data["layers"]:
        lines.append(f"{r['layers_kept']:>11}  {r['strategy']:<10} {','.join(map(str, r['kept'])):<14} "
                     f"{r['loss']:>7.3f} {r['masked_accuracy']:>9.1%} {percent(r['retained_accuracy']):>9}")
    lines += ["", f"{'sparsity':>11}  {'scope':<10} {'achieved':<14} {'loss':>7} {'accuracy':>9} {'retained':>9}"]
    for r in data["sparsity"]:
        lines.append(f"{r['sparsity']:>11.0%}  {r['scope']:<10} {r['achieved']:<14.4f} "
                     f"{r['loss']:>7.3f} {r['masked_accuracy']:>9.1%} {percent(r['retained_accuracy']):>9}")
    return "\n".join(lines)


def _plot(data: dict, path: Path) -> None:
    """Two panels: masked accuracy against layers kept (per strategy) and against sparsity (per scope)."""
    parent = data["parent"]
    accuracy, unigram = parent["scores"]["masked_accuracy"], parent["scores"]["unigram_accuracy"]
    fig = Figure(figsize=(11, 4), dpi=100)
    left, right = fig.subplots(1, 2, sharey=True)
    for strategy in STRATEGIES:
        points = sorted((r["layers_kept"], r["masked_accuracy"]) for r in data["layers"] if r["strategy"] == strategy)
        if points:
            left.plot(*zip(*points, (parent["layers"], accuracy)), "o-", label=strategy)
    left.set_xlabel("layers kept")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel("masked-token accuracy")
    left.set_title("Layer dropping")
    for scope in SCOPES:
        points = sorted((r["sparsity"], r["masked_accuracy"]) for r in data["sparsity"] if r["scope"] == scope)
        if points:
            right.plot(*zip((0.0, accuracy), *points), "o-", label=f"{scope} magnitude")
    right.set_xlabel("sparsity of the encoder weight matrices")
    right.set_title("Magnitude pruning")
    for ax in (left, right):
        ax.axhline(unigram, linestyle="--", color="grey", label="unigram baseline")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{parent['name']} on {', '.join(data['texts'])}")
    fig.tight_layout()
    fig.savefig(path)
