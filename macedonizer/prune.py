"""Smaller models from a trained one: layer dropping and magnitude pruning.

Two cheap ways to derive more family members from a good model, and to show
how much of a model its accuracy needs:

- **Layer dropping** (Sajjad et al., "Poor Man's BERT"): remove K encoder
  layers — the ``top`` ones, the ``bottom`` ones, every other one from the
  top (``alternate``) or the middle ones (``symmetric``) — and renumber the
  rest, giving a standard, shallower ``BertForMaskedLM``.
- **Magnitude pruning** (the lottery-ticket line, Chen et al. 2020): set the
  smallest-magnitude entries of the encoder's weight matrices to exactly
  zero — the attention query, key, value and output matrices and both
  feed-forward matrices of every layer; embeddings, LayerNorm, biases and the
  prediction head stay dense. ``global`` ranks all those entries together,
  ``layer`` prunes every matrix to the same sparsity on its own.

Either can be followed by a few steps of masked-LM training (``recover``)
through ``pretrain.run`` itself, starting from the pruned weights with the
zeros held in place. ``derive`` writes one pruned model (a standard folder
with ``eval.json``, ``prune.json`` and a card); ``report`` measures every
strategy and sparsity on a held-out text.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .baselines import NGRAM_FILE
from .errors import MacedonizerError
from .files import read_jsonl

STRATEGIES = ("top", "bottom", "alternate", "symmetric")
SCOPES = ("global", "layer")
DEFAULT_SPARSITIES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MANIFEST = "prune.json"
REPORT_JSON = "prune_report.json"
REPORT_PNG = "prune_report.png"
PRUNED_WEIGHTS = ("the attention query, key, value and output matrices and both feed-forward matrices of every "
                  "encoder layer; embeddings, LayerNorm, biases and the prediction head stay dense")
_SYNTAX = "use drop:STRATEGY:K (STRATEGY top, bottom, alternate or symmetric) or sparsity:S[:global|layer]"


# ---------------------------------------------------------------- methods


@dataclass(frozen=True)
class Method:
    """One way to derive a smaller model; ``str()`` gives its canonical spec."""

    kind: str
    """``drop`` (remove layers) or ``sparsity`` (magnitude pruning)."""
    strategy: str = ""
    """drop: which layers go — top, bottom, alternate or symmetric."""
    count: int = 0
    """drop: how many layers go."""
    sparsity: float = 0.0
    """sparsity: the share of prunable weights set to zero, in (0, 1)."""
    scope: str = "global"
    """sparsity: rank weights over the whole encoder (global) or within each matrix (layer)."""

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop:{self.strategy}:{self.count}"
        return f"sparsity:{self.sparsity:g}:{self.scope}"

    def describe(self, layers: int) -> str:
        """What was done, in words, for a model of ``layers`` layers."""
        if self.kind == "sparsity":
            ranked = "over the whole encoder" if self.scope == "global" else "within each matrix"
            return (f"magnitude pruning to {100 * self.sparsity:.4g}% sparsity, the smallest weights ranked "
                    f"{ranked} ({PRUNED_WEIGHTS})")
        where = {"top": f"the top {self.count}", "bottom": f"the bottom {self.count}",
                 "alternate": f"{self.count}, every other one from the top,",
                 "symmetric": f"the middle {self.count}"}[self.strategy]
        kept = ", ".join(str(i) for i in kept_layers(self.strategy, self.count, layers))
        return f"dropping {where} of its {layers} layers (parent layers {kept} kept, in order)"


def parse_method(spec: str, layers: int | None = None) -> Method:
    """Parse ``drop:top:2`` or ``sparsity:0.5[:global|layer]``; with ``layers``, also check it fits the model."""
    parts = spec.strip().lower().split(":")
    if parts[0] == "drop" and len(parts) == 3 and parts[1] in STRATEGIES and re.fullmatch(r"\d+", parts[2]):
        method = Method("drop", strategy=parts[1], count=int(parts[2]))
        if layers is not None:
            kept_layers(method.strategy, method.count, layers)
        return method
    if parts[0] == "sparsity" and len(parts) in (2, 3) and (len(parts) == 2 or parts[2] in SCOPES):
        try:
            sparsity = float(parts[1])
        except ValueError:
            sparsity = -1.0
        if not 0 < sparsity < 1:
            raise MacedonizerError(f"Bad pruning method {spec!r}: the sparsity must be a number between 0 and 1.")
        return Method("sparsity", sparsity=sparsity, scope=parts[2] if len(parts) == 3 else "global")
    raise MacedonizerError(f"Unknown pruning method {spec!r}: {_SYNTAX}.")


def drop_counts(strategy: str, layers: int) -> range:
    """How many layers ``strategy`` can drop from a model of ``layers`` layers (at least one layer stays)."""
    if strategy == "alternate":  # layers L-1, L-3, … : there are only ceil(L/2) of them
        return range(1, min(layers - 1, (layers + 1) // 2) + 1)
    return range(1, layers)


def kept_layers(strategy: str, count: int, layers: int) -> list[int]:
    """The indices of the parent's layers that stay, in order."""
    allowed = drop_counts(strategy, layers)
    if count not in allowed:
        limit = f"between 1 and {allowed[-1]}" if allowed else "impossible (the model has one layer)"
        raise MacedonizerError(f"drop:{strategy}:{count} does not fit a {layers}-layer model: K must be {limit}.")
    dropped = {
        "top": range(layers - count, layers),
        "bottom": range(count),
        "alternate": range(layers - 1, -1, -2)[:count],
        "symmetric": range((layers - count) // 2, (layers - count) // 2 + count),  # odd rest: one more on top
    }[strategy]
    return [i for i in range(layers) if i not in dropped]


# ---------------------------------------------------------------- the operations


def _layer_prefix(model) -> str:
    return f"{model.base_model_prefix}.encoder.layer."


def encoder_matrices(model) -> dict:
    """The prunable weights: every 2-D weight inside the encoder layers, by parameter name."""
    prefix = _layer_prefix(model)
    return {name: param for name, param in model.named_parameters()
            if name.startswith(prefix) and name.endswith(".weight") and param.ndim == 2}


def drop_layers(model, kept: list[int]):
    """A new masked-LM with only the ``kept`` encoder layers of ``model``, renumbered 0, 1, …; weights copied."""
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = len(kept)
    child = type(model)(config)
    pattern = re.compile(re.escape(_layer_prefix(model)) + r"(\d+)\.(.*)")
    state = {}
    for key, value in model.state_dict().items():
        match = pattern.fullmatch(key)
        if match:
            if int(match.group(1)) not in kept:
                continue
            key = f"{_layer_prefix(model)}{kept.index(int(match.group(1)))}.{match.group(2)}"
        state[key] = value.clone()
    child.load_state_dict(state)
    return child


def magnitude_prune(model, sparsity: float, scope: str) -> dict:
    """Zero the smallest encoder weights of ``model`` in place; return the keep-masks (bool) by parameter name."""
    from torch.nn.utils import prune

    names = list(encoder_matrices(model))
    targets = [(model.get_submodule(name.rsplit(".", 1)[0]), "weight") for name in names]
    if scope == "global":
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    else:
        for module, attribute in targets:
            prune.l1_unstructured(module, attribute, amount=sparsity)
    masks = {}
    for name, (module, attribute) in zip(names, targets):
        masks[name] = module.weight_mask.bool()
        prune.remove(module, attribute)  # makes the zeros permanent: a plain weight again
    return masks


def apply_method(model, method: Method) -> tuple:
    """``(derived model, keep-masks or None)``; ``model`` itself is left untouched."""
    layers = model.config.num_hidden_layers
    if method.kind == "drop":
        return drop_layers(model, kept_layers(method.strategy, method.count, layers)), None
    child = copy.deepcopy(model)
    return child, magnitude_prune(child, method.sparsity, method.scope)


def sparsity_of(model) -> dict:
    """Exact zeros among the prunable weights, overall and per matrix."""
    matrices = encoder_matrices(model)
    zeros = {name: int((param == 0).sum()) for name, param in matrices.items()}
    total = sum(param.numel() for param in matrices.values())
    return {"achieved": round(sum(zeros.values()) / total, 6), "zero_weights": sum(zeros.values()),
            "prunable_weights": total, "pruned": PRUNED_WEIGHTS,
            "per_matrix": {name: round(zeros[name] / param.numel(), 4) for name, param in matrices.items()}}


def _parameters(model) -> int:
    return sum(param.numel() for param in model.parameters())  # tied embeddings counted once


# ---------------------------------------------------------------- one derived model


def _read_parent(parent: Path) -> tuple[dict, dict]:
    """The parent's training_config.json and eval.json, or a user error."""
    try:
        config = json.loads((parent / "training_config.json").read_text(encoding="utf-8"))
        evaluation = json.loads((parent / "eval.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        config = evaluation = None
    if not config or not evaluation or not (parent / "token_counts.npy").is_file():
        raise MacedonizerError(f"{parent} is not a model trained by `macedonizer pretrain` (config.json, weights, "
                               "eval.json, training_config.json and token_counts.npy are needed).")
    return config, evaluation


def _validation_data(parent: Path, parent_config: dict, data_inputs, tokenizer_dir, progress: bool):
    """The held-out split the parent was validated on (or that of ``data_inputs``), packed as it trained."""
    from .data import build_cache, tokenizer_fingerprint

    data = parent_config["data"]
    tokenizer_dir = Path(tokenizer_dir or data["tokenizer"])
    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise MacedonizerError(f"The tokenizer {parent.name} was trained with is not at {tokenizer_dir}; "
                               "pass its folder with --tokenizer.")
    if tokenizer_fingerprint(tokenizer_dir) != tokenizer_fingerprint(parent):
        raise MacedonizerError(f"{tokenizer_dir} is not the tokenizer {parent} was trained with.")
    packed = build_cache(list(data_inputs or data["inputs"]), tokenizer_dir, parent_config["train"]["seq_len"],
                         progress=progress)
    if len(packed.val) == 0:
        raise MacedonizerError("The corpus is too small to hold out validation text (add documents).")
    return tokenizer_dir, packed


def _recover(model, masks, parent_config: dict, data_inputs, tokenizer_dir: Path, scratch: Path, steps: int,
             lr: float | None, device: str, progress: bool):
    """Train ``model`` for ``steps`` masked-LM steps with ``pretrain.run``, zeros held; return it and its metrics."""
    from transformers import AutoModelForMaskedLM

    from .configs import MaskingConfig, RunConfig, TrainConfig
    from .pretrain import TOKENIZER_FILES, run

    start = scratch / "pruned"
    model.save_pretrained(start)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, start / name)
    train = parent_config["train"]
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{**{k: v for k, v in train.items() if k in known},
                            "betas": tuple(train["betas"]), "masking": MaskingConfig(**train["masking"])})
    config = dataclasses.replace(
        config, init_from=str(start), max_steps=steps, tokens=None, time_s=None,
        lr=lr if lr is not None else train["lr"], seed=train["seed"] + 1)  # a fresh data order
    how = RunConfig(device=device, progress=progress, eval_every=steps, checkpoint_every=steps, keep_checkpoints=1,
                    log_every=min(10, steps))
    trained = run(list(data_inputs), tokenizer_dir, scratch / "recovered", config, how, weight_masks=masks)
    metrics = read_jsonl(trained / "metrics.jsonl")
    recovery = {"steps": steps, "lr": config.lr, "batch_size": config.batch_size, "seq_len": config.seq_len,
                "tokens": steps * config.batch_size * config.seq_len, "data": [Path(i).name for i in data_inputs]}
    return AutoModelForMaskedLM.from_pretrained(trained), recovery, metrics


def derive(parent_dir, out_dir, method: str, *, data_inputs: list[str] | None = None, tokenizer_dir=None,
           recover_steps: int = 0, recover_lr: float | None = None, parent_repo_id: str | None = None,
           repo_id: str | None = None, device: str = "cpu", progress: bool = True,
           overwrite: bool = False) -> Path:
    """Derive a smaller model from the trained ``parent_dir`` by ``method`` (``drop:top:2``, ``sparsity:0.5:global``).

    ``out_dir`` becomes a standard masked-LM folder (loadable with plain
    transformers) with the parent's tokenizer and token counts,
    ``eval.json`` (the pretrain schema, scored on the parent's held-out
    validation documents), ``prune.json`` (parent, method, kept layers or
    achieved sparsity, retained accuracy), ``training_config.json``, the
    metrics and a card. ``recover_steps`` > 0 trains that many masked-LM
    steps on ``data_inputs`` afterwards, pruned weights held at zero (the
    parent's recipe; ``recover_lr`` overrides its peak learning rate).
    ``data_inputs`` and ``tokenizer_dir`` default to the parent's own. The
    folder is written beside ``out_dir`` and renamed into place when whole.
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForMaskedLM
    from transformers.utils import logging as hf_logging

    from .cards import render
    from .data import Masker
    from .configs import MaskingConfig
    from .files import replace_folder, temporary_sibling
    from .pretrain import TOKENIZER_FILES, evaluate_sequences

    hf_logging.disable_progress_bar()
    started = time.time()
    parent, out = Path(parent_dir), Path(out_dir)
    parent_config, parent_eval = _read_parent(parent)
    layers = parent_config["size"]["layers"]
    parsed = parse_method(method, layers)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --overwrite to replace it).")
    tokenizer_dir, data = _validation_data(parent, parent_config, data_inputs, tokenizer_dir, progress)

    tmp = temporary_sibling(out)
    try:
        model = AutoModelForMaskedLM.from_pretrained(parent)
        child, masks = apply_method(model, parsed)
        recovery, recovery_metrics = None, []
        if recover_steps:
            child, recovery, recovery_metrics = _recover(
                child, masks, parent_config, data_inputs or parent_config["data"]["inputs"], tokenizer_dir,
                tmp / ".recovery", recover_steps, recover_lr, device, progress)
            shutil.rmtree(tmp / ".recovery")

        train = parent_config["train"]
        vocab = Tokenizer.from_file(str(parent / "tokenizer.json")).get_vocab()
        masker = Masker(MaskingConfig(**train["masking"]), vocab)

        def score(m):  # exactly as pretrain scored the parent: same sequences, masks and seed
            return evaluate_sequences(m.to(device), data.val, masker, vocab["[PAD]"], torch.device(device),
                                      data.token_counts, data.ngram_baseline(), seed=train["seed"])

        parent_scores, child_scores = score(model), score(child)
        name = out.resolve().name  # as for trained sizes, the folder names the model
        shape = {**parent_config["size"], "layers": child.config.num_hidden_layers, "name": name}
        parameters = _parameters(child)
        sparsity = {"target": parsed.sparsity, "scope": parsed.scope, **sparsity_of(child)} if masks else None
        nonzero = parameters - (sparsity["zero_weights"] if sparsity else 0)

        child.save_pretrained(tmp)
        for file_name in (*TOKENIZER_FILES, "token_counts.npy", NGRAM_FILE):
            if file_name != NGRAM_FILE or (parent / file_name).is_file():  # models older than the n-gram baseline
                shutil.copy2(parent / file_name, tmp / file_name)
        _write_json(tmp / "training_config.json", {**parent_config, "size": shape, "parameters": parameters})
        _write_metrics(tmp / "metrics.jsonl", parent / "metrics.jsonl", recovery_metrics, parent_eval)
        seconds = time.time() - started
        recovered_steps, recovered_tokens = (recovery["steps"], recovery["tokens"]) if recovery else (0, 0)
        _write_json(tmp / "eval.json", {
            **parent_eval, "validation": child_scores, "steps": parent_eval["steps"] + recovered_steps,
            "tokens": parent_eval["tokens"] + recovered_tokens,
            "seconds": round(parent_eval["seconds"] + seconds, 1), "size": name, "parameters": parameters})
        _write_json(tmp / MANIFEST, {
            "parent": {"name": parent.resolve().name, "path": str(parent.resolve()), "repo_id": parent_repo_id,
                       "size": parent_config["size"]["name"], "layers": layers},
            "method": str(parsed), "description": parsed.describe(layers),
            "layers_kept": kept_layers(parsed.strategy, parsed.count, layers) if parsed.kind == "drop" else None,
            "sparsity": sparsity, "recovery": recovery,
            "parameters": {"parent": _parameters(model), "model": parameters, "nonzero": nonzero},
            "validation": {"parent": parent_scores, "model": child_scores,
                           "retained_accuracy": _ratio(child_scores, parent_scores)},
            "seconds": round(seconds, 1),
        })
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    render(out, repo_id=repo_id)
    return out


def _ratio(scores: dict, parent_scores: dict) -> float | None:
    """Retained accuracy: the derived model's over the parent's (None when the parent got nothing right)."""
    if not parent_scores["masked_accuracy"]:
        return None
    return round(scores["masked_accuracy"] / parent_scores["masked_accuracy"], 4)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def _write_metrics(path: Path, parent_metrics: Path, recovery: list[dict], parent_eval: dict) -> None:
    """The parent's metrics, then the recovery's, counted on from where the parent stopped."""
    lines = parent_metrics.read_text(encoding="utf-8").splitlines() if parent_metrics.is_file() else []
    lines += [json.dumps({**r, "step": r["step"] + parent_eval["steps"], "tokens": r["tokens"] + parent_eval["tokens"]})
              for r in recovery]
    path.write_text("".join(line + "\n" for line in lines if line.strip()), encoding="utf-8")


def summary(out_dir) -> str:
    """A few lines on a derived model: what was done and what it kept."""
    manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    validation, parameters = manifest["validation"], manifest["parameters"]
    recovery = manifest["recovery"]
    lines = [f"{manifest['method']} of {manifest['parent']['name']}: {manifest['description']}"
             + (f", then {recovery['steps']} recovery steps" if recovery else "") + ".",
             f"parameters {parameters['model'] / 1e6:.2f}M ({parameters['nonzero'] / 1e6:.2f}M non-zero), "
             f"parent {parameters['parent'] / 1e6:.2f}M",
             f"validation masked accuracy {validation['model']['masked_accuracy']:.1%} against the parent's "
             f"{validation['parent']['masked_accuracy']:.1%}: {_percent(validation['retained_accuracy'])} retained",
             f"Output: {out_dir}"]
    return "\n".join(lines)


# ---------------------------------------------------------------- the report


def report(parent_dir, out_dir, texts: list[str], *, sparsities=DEFAULT_SPARSITIES, seq_len: int = 128,
           seed: int = 0, device: str = "cpu", progress: bool = True, overwrite: bool = False) -> Path:
    """Score every layer-dropping strategy and count, and every sparsity in both scopes, on ``texts``.

    Writes ``prune_report.json`` and ``prune_report.png`` (accuracy against
    layers kept, and against sparsity) into ``out_dir``; nothing is saved of
    the pruned models themselves. Every variant is scored on the same masked
    positions as the parent (``macedonizer eval`` with the same seed gives
    the parent's numbers).
    """
    from tqdm import tqdm
    from transformers import AutoModelForMaskedLM

    from .evaluate import TextScorer
    from .files import replace_folder, temporary_sibling

    started = time.time()
    parent, out = Path(parent_dir), Path(out_dir)
    methods = [parse_method(f"sparsity:{s}:global") for s in sparsities]  # validates the sparsities
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --overwrite to replace it).")
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
               "retained_accuracy": _ratio(scores, parent_scores)}
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
    tmp = temporary_sibling(out)
    try:
        _write_json(tmp / REPORT_JSON, data)
        _plot(data, tmp / REPORT_PNG)
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
                     f"{r['loss']:>7.3f} {r['masked_accuracy']:>9.1%} {_percent(r['retained_accuracy']):>9}")
    lines += ["", f"{'sparsity':>11}  {'scope':<10} {'achieved':<14} {'loss':>7} {'accuracy':>9} {'retained':>9}"]
    for r in data["sparsity"]:
        lines.append(f"{r['sparsity']:>11.0%}  {r['scope']:<10} {r['achieved']:<14.4f} "
                     f"{r['loss']:>7.3f} {r['masked_accuracy']:>9.1%} {_percent(r['retained_accuracy']):>9}")
    return "\n".join(lines)


def _plot(data: dict, path: Path) -> None:
    """Two panels: masked accuracy against layers kept (per strategy) and against sparsity (per scope)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    parent = data["parent"]
    accuracy, unigram = parent["scores"]["masked_accuracy"], parent["scores"]["unigram_accuracy"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100, sharey=True)
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
    plt.close(fig)
