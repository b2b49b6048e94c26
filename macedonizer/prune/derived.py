"""One derived model: ``derive`` writes it as a standard folder with eval.json, prune.json and a card."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import AutoModelForMaskedLM
from transformers.utils import logging as hf_logging

from ..baselines import NGRAM_FILE
from ..cards import percent, render
from ..configs import MaskingConfig, RunConfig, TrainConfig
from ..errors import MacedonizerError
from ..files import read_jsonl, refuse_non_empty, staged_folder, write_json
from ..specs import LocalSpec, parse
from ..train.data import build_cache, tokenizer_fingerprint
from ..train.evaluate import evaluate_sequences
from ..train.masking import Masker
from ..train.output import TOKENIZER_FILES
from ..train.pretrain import run
from .methods import MANIFEST, Method, kept_layers, parse_method
from .operations import apply_method, parameter_count, sparsity_of


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


def _inputs(parent: Path, data: dict) -> list[str]:
    """The parent's data inputs, which its training_config.json names relative to its folder."""
    return [str(parse(text).relative_to(parent)) for text in data["inputs"]]


def _rebase(text: str, parent: Path, folder: Path) -> str:
    """A path of the parent's training_config.json (relative to the parent) made relative to ``folder``."""
    spec = parse(text).relative_to(parent)
    return os.path.relpath(str(spec), folder) if isinstance(spec, LocalSpec) else text


def _validation_data(parent: Path, parent_config: dict, data_inputs, tokenizer_dir, progress: bool):
    """The held-out split the parent was validated on (or that of ``data_inputs``), packed as it trained."""
    data = parent_config["data"]
    tokenizer_dir = Path(tokenizer_dir or parent / data["tokenizer"])  # relative to the parent's folder
    if not (tokenizer_dir / "tokenizer.json").is_file():
        raise MacedonizerError(f"The tokenizer {parent.name} was trained with is not at {tokenizer_dir}; "
                               "pass its folder with --tokenizer.")
    if tokenizer_fingerprint(tokenizer_dir) != tokenizer_fingerprint(parent):
        raise MacedonizerError(f"{tokenizer_dir} is not the tokenizer {parent} was trained with.")
    packed = build_cache(list(data_inputs or _inputs(parent, data)), tokenizer_dir, parent_config["train"]["seq_len"],
                         progress=progress)
    if len(packed.val) == 0:
        raise MacedonizerError("The corpus is too small to hold out validation text (add documents).")
    return tokenizer_dir, packed


def _recover(model, masks, parent_config: dict, data_inputs, tokenizer_dir: Path, scratch: Path, steps: int,
             lr: float | None, device: str, progress: bool):
    """Train ``model`` for ``steps`` masked-LM steps with ``pretrain.run``, zeros held; return it and its metrics."""
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


def _scores(parent: Path, parent_config: dict, data, device: str, *models) -> list[dict]:
    """Each model's validation scores, exactly as pretrain scored the parent: same sequences, masks and seed."""
    train = parent_config["train"]
    vocab = Tokenizer.from_file(str(parent / "tokenizer.json")).get_vocab()
    masker = Masker(MaskingConfig(**train["masking"]), vocab)
    return [evaluate_sequences(m.to(device), data.val, masker, vocab["[PAD]"], torch.device(device),
                               data.token_counts, data.ngram_baseline(), seed=train["seed"]) for m in models]


@dataclasses.dataclass
class _Derivation:
    """What ``derive`` learnt on the way, for the files it writes."""

    parent: Path
    parent_config: dict
    parent_eval: dict
    method: Method
    parent_scores: dict
    scores: dict
    parent_parameters: int
    recovery: dict | None
    recovery_metrics: list[dict]
    seconds: float


def _write_child(tmp: Path, child, masks, d: _Derivation, name: str, parent_repo_id: str | None) -> None:
    """The derived model's folder: weights, the parent's tokenizer files, configs, metrics, eval.json, prune.json."""
    parent, layers = d.parent, d.parent_config["size"]["layers"]
    shape = {**d.parent_config["size"], "layers": child.config.num_hidden_layers, "name": name}
    parameters = parameter_count(child)
    sparsity = {"target": d.method.sparsity, "scope": d.method.scope, **sparsity_of(child)} if masks else None
    child.save_pretrained(tmp)
    for file_name in (*TOKENIZER_FILES, "token_counts.npy", NGRAM_FILE):
        if file_name != NGRAM_FILE or (parent / file_name).is_file():  # models older than the n-gram baseline
            shutil.copy2(parent / file_name, tmp / file_name)
    data = d.parent_config["data"]
    data = {**data, "inputs": [_rebase(text, parent, tmp) for text in data["inputs"]],
            "tokenizer": _rebase(data["tokenizer"], parent, tmp)}  # relative to the child's folder now
    write_json(tmp / "training_config.json",
               {**d.parent_config, "data": data, "size": shape, "parameters": parameters})
    _write_metrics(tmp / "metrics.jsonl", parent / "metrics.jsonl", d.recovery_metrics, d.parent_eval)
    recovered_steps, recovered_tokens = (d.recovery["steps"], d.recovery["tokens"]) if d.recovery else (0, 0)
    write_json(tmp / "eval.json", {
        **d.parent_eval, "validation": d.scores, "steps": d.parent_eval["steps"] + recovered_steps,
        "tokens": d.parent_eval["tokens"] + recovered_tokens,
        "seconds": round(d.parent_eval["seconds"] + d.seconds, 1), "size": name, "parameters": parameters})
    write_json(tmp / MANIFEST, {
        "parent": {"name": parent.resolve().name, "path": str(parent.resolve()), "repo_id": parent_repo_id,
                   "size": d.parent_config["size"]["name"], "layers": layers},
        "method": str(d.method), "description": d.method.describe(layers),
        "layers_kept": kept_layers(d.method.strategy, d.method.count, layers) if d.method.kind == "drop" else None,
        "sparsity": sparsity, "recovery": d.recovery,
        "parameters": {"parent": d.parent_parameters, "model": parameters,
                       "nonzero": parameters - (sparsity["zero_weights"] if sparsity else 0)},
        "validation": {"parent": d.parent_scores, "model": d.scores,
                       "retained_accuracy": retained(d.scores, d.parent_scores)},
        "seconds": round(d.seconds, 1),
    })


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
    hf_logging.disable_progress_bar()
    started = time.time()
    parent, out = Path(parent_dir), Path(out_dir)
    parent_config, parent_eval = _read_parent(parent)
    parsed = parse_method(method, parent_config["size"]["layers"])
    refuse_non_empty(out, overwrite)
    tokenizer_dir, data = _validation_data(parent, parent_config, data_inputs, tokenizer_dir, progress)

    with staged_folder(out) as tmp:
        model = AutoModelForMaskedLM.from_pretrained(parent)
        child, masks = apply_method(model, parsed)
        recovery, recovery_metrics = None, []
        if recover_steps:
            child, recovery, recovery_metrics = _recover(
                child, masks, parent_config, data_inputs or _inputs(parent, parent_config["data"]), tokenizer_dir,
                tmp / ".recovery", recover_steps, recover_lr, device, progress)
            shutil.rmtree(tmp / ".recovery")
        parent_scores, child_scores = _scores(parent, parent_config, data, device, model, child)
        derivation = _Derivation(parent, parent_config, parent_eval, parsed, parent_scores, child_scores,
                                 parameter_count(model), recovery, recovery_metrics, time.time() - started)
        # As for trained sizes, the folder names the model.
        _write_child(tmp, child, masks, derivation, out.resolve().name, parent_repo_id)
    render(out, repo_id=repo_id)
    return out


def retained(scores: dict, parent_scores: dict) -> float | None:
    """Retained accuracy: the derived model's over the parent's (None when the parent got nothing right)."""
    if not parent_scores["masked_accuracy"]:
        return None
    return round(scores["masked_accuracy"] / parent_scores["masked_accuracy"], 4)


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
             f"{validation['parent']['masked_accuracy']:.1%}: {percent(validation['retained_accuracy'])} retained",
             f"Output: {out_dir}"]
    return "\n".join(lines)
