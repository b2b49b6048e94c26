"""The pretraining stage: masked-LM training of one BERT size, fast and resumable.

A plain PyTorch loop around transformers' ``BertForMaskedLM`` (SDPA
attention, so checkpoints are standard), with the prediction head applied
only to the masked positions: for small models the vocabulary projection of
every position is most of the work, and 85% of it is thrown away by the
loss. AdamW (fused on CUDA), linear warm-up then linear or cosine decay,
clipping, accumulation, and a budget in steps, tokens or wall-clock time.
Under ``torchrun`` the same code runs DistributedDataParallel, each rank
taking its own slice of every batch.

Everything a run depends on (data order, masking, dropout) comes from the
seed and the step, and a checkpoint holds the model, optimizer, scheduler
and RNG states, so a resumed run on CPU reproduces the uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch._dynamo
from transformers import (BertConfig, BertForMaskedLM, RobertaPreLayerNormConfig,
                          RobertaPreLayerNormForMaskedLM)

from .configs import MAX_POSITIONS, PRECISIONS, ModelSize, RunConfig, TrainConfig, resolve_size
from .data import Masker, PackedData, build_cache
from .baselines import NGRAM_FILE, NgramBaseline, unigram_scores
from .diagnostics import DIAGNOSTICS, Probe, layer_group
from .errors import Interrupted, MacedonizerError, OutOfMemory, TrainingDiverged
from .initialization import default_std, local_init

CHECKPOINTS = "checkpoints"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
# Dense bf16 peak FLOP/s by GPU name, for model-FLOPs utilisation.
MUP_BASE_WIDTH = 128
"""The width whose learning rate ``lr_scaling="mup"`` keeps (tiny's): wider models scale it down."""
PROBE_ROWS = 8
"""Validation sequences in the fixed diagnostics batch."""
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
              "RTX 4090": 165e12, "RTX 3090": 71e12, "V100": 125e12, "T4": 65e12}


def lr_factor(progress: float, warmup: float, schedule: str) -> float:
    """Multiplier of the peak learning rate at ``progress`` ∈ [0, 1] of the budget."""
    if warmup > 0 and progress < warmup:
        return progress / warmup
    rest = (progress - warmup) / max(1e-12, 1 - warmup)
    rest = min(1.0, max(0.0, rest))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * rest))
    return 1.0 - rest


# ---------------------------------------------------------------- distributed


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_type: str) -> Dist:
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    if not dist.is_initialized():
        if device_type == "cuda":  # NCCL binds each rank to the current device: set it first
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _pick_device(requested: str, dist: Dist):
    import torch

    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MacedonizerError("--device cuda was asked for, but no CUDA GPU is available.")
        return torch.device("cuda", dist.local_rank if requested == "cuda" else int(requested.split(":")[1]))
    return torch.device(requested)


# ---------------------------------------------------------------- the model


def _shape(size: ModelSize, vocab_size: int) -> dict:
    """The transformers config fields that say a shape."""
    return {"vocab_size": vocab_size, "hidden_size": size.hidden, "num_hidden_layers": size.layers,
            "num_attention_heads": size.heads, "intermediate_size": size.intermediate}


def bert_config(size: ModelSize, vocab_size: int, **overrides) -> BertConfig:
    """A transformers ``BertConfig`` of this shape."""
    return BertConfig(**_shape(size, vocab_size), max_position_embeddings=MAX_POSITIONS, **overrides)


def pre_ln_config(size: ModelSize, vocab_size: int, pad_token_id: int, **overrides) -> RobertaPreLayerNormConfig:
    """A ``RobertaPreLayerNormConfig`` of this shape: the pre-LayerNorm variant.

    RoBERTa numbers positions from ``pad_token_id + 1``, so the position
    table is that much longer than ``MAX_POSITIONS``.
    """
    return RobertaPreLayerNormConfig(**_shape(size, vocab_size), max_position_embeddings=MAX_POSITIONS + pad_token_id + 1,
                                     type_vocab_size=2, pad_token_id=pad_token_id, **overrides)


def build_model(size: ModelSize, vocab: dict[str, int], config: TrainConfig):
    """A freshly initialised masked-LM of ``config.variant``, loadable with ``AutoModelForMaskedLM``."""
    common = {"hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.dropout,
              "initializer_range": config.init_std or default_std(config.init, size.hidden)}
    if config.variant == "pre-ln":
        model_config = pre_ln_config(size, len(vocab), pad_token_id=vocab["[PAD]"], bos_token_id=vocab["[CLS]"],
                                     eos_token_id=vocab["[SEP]"], **common)
        model_class = RobertaPreLayerNormForMaskedLM
    else:
        model_config = bert_config(size, len(vocab), pad_token_id=vocab["[PAD]"], **common)
        model_class = BertForMaskedLM
    model_config._attn_implementation = "sdpa"
    model = model_class(model_config)
    if config.init == "local":
        local_init(model)
    return model


def mlm_parts(model):
    """The encoder and the prediction head of a BERT or pre-LayerNorm RoBERTa masked-LM."""
    return model.base_model, model.cls if hasattr(model, "cls") else model.lm_head


def _sparse_mlm_module(model):
    """Wrap a masked-LM so that its head sees only the masked positions."""
    import torch
    import torch.nn.functional as F

    class SparseMLM(torch.nn.Module):
        def __init__(self, mlm):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, attention_mask, labels):
            encoder, head = mlm_parts(self.mlm)
            hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            selected = labels != -100
            logits = head(hidden[selected])
            targets = labels[selected]
            loss = F.cross_entropy(logits.float(), targets)
            correct = (logits.argmax(-1) == targets).sum()
            return loss, correct, targets.numel()

    return SparseMLM(model)


class _CompileOrEager(torch.nn.Module):
    """``torch.compile`` of a module, falling back to the module itself (with one line saying why) when the
    compiler fails on this machine (no C++ compiler for the CPU backend, an unsupported GPU, ...)."""

    def __init__(self, module, verbose: bool = True):
        super().__init__()
        self.eager, self.verbose = module, verbose
        self.compiled = torch.compile(module)
        self.failed: str | None = None

    def forward(self, *args):
        if self.failed is None:
            try:
                return self.compiled(*args)
            except torch._dynamo.exc.TorchDynamoException as exc:
                self.failed = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                if self.verbose:
                    print(f"torch.compile is not available here ({self.failed}); training on without it.",
                          file=sys.stderr)
        return self.eager(*args)


def _optimizer(model, config: TrainConfig, size: ModelSize, device):
    """AdamW; each group's ``lr_scale`` multiplies the scheduled learning rate (µP scales hidden matrices)."""
    import torch

    hidden_scale = MUP_BASE_WIDTH / size.hidden if config.lr_scaling == "mup" else 1.0
    grouped: dict[tuple[bool, float], list] = {}
    for name, param in model.named_parameters():
        no_decay = param.ndim < 2 or "LayerNorm" in name
        scale = hidden_scale if not no_decay and layer_group(name).startswith("layer.") else 1.0
        grouped.setdefault((no_decay, scale), []).append(param)
    groups = [{"params": params, "weight_decay": 0.0 if no_decay else config.weight_decay, "lr_scale": scale}
              for (no_decay, scale), params in grouped.items()]
    kwargs = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps, **kwargs)


# ---------------------------------------------------------------- the data order


class _Order:
    """Which training sequences step s uses: epochs of seeded permutations."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self._epoch, self._perm = -1, None

    def indices(self, start: int, count: int) -> np.ndarray:
        out = np.empty(count, dtype=np.int64)
        for i in range(count):
            k = start + i
            epoch, offset = divmod(k, self.n)
            if epoch != self._epoch:
                self._epoch = epoch
                self._perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            out[i] = self._perm[offset]
        return out


def _generator(seed: int, *parts: int):
    import torch

    mixed = np.random.SeedSequence([seed, *parts]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(mixed))


# ---------------------------------------------------------------- evaluation


def evaluate_sequences(model, sequences: np.ndarray, masker, pad_id: int, device, token_counts: np.ndarray,
                       ngram: NgramBaseline | None = None, seed: int = 0, batch_size: int = 64,
                       max_batches: int | None = None) -> dict:
    """Masked-LM loss, perplexity and accuracy on ``sequences``, scored honestly, beside the baselines.

    Positions are drawn at ``masker``'s rate and every one of them is
    replaced by ``[MASK]`` (:meth:`Masker.for_evaluation`): nothing scored is
    left visible to copy. The unigram and (when ``ngram`` is given) n-gram
    baselines are scored on the same positions from the same visible input,
    with the standard errors of the paired per-token differences, which
    :mod:`macedonizer.verdict` uses as the evaluation noise.
    """
    import torch
    import torch.nn.functional as F

    mlm = model.mlm if hasattr(model, "mlm") else model
    masker = masker.for_evaluation()
    encoder, head = mlm_parts(mlm)
    was_training = mlm.training
    mlm.eval()
    losses, hits, batches_inputs, batches_labels = [], [], [], []
    starts = range(0, len(sequences), batch_size)
    if max_batches is not None:
        starts = list(starts)[:max_batches]
    with torch.no_grad():
        for b, start in enumerate(starts):
            ids = torch.from_numpy(np.asarray(sequences[start : start + batch_size]).astype(np.int64))
            inputs, labels = masker(ids, _generator(seed, 1_000_003, b))
            selected = labels != -100
            if not selected.any():
                continue
            with _autocast(device):
                hidden = encoder(input_ids=inputs.to(device), attention_mask=(ids != pad_id).to(device)).last_hidden_state
                logits = head(hidden[selected.to(device)]).float()
            targets = labels[selected].to(device)
            losses.append(F.cross_entropy(logits, targets, reduction="none").cpu().numpy())
            hits.append((logits.argmax(-1) == targets).cpu().numpy())
            batches_inputs.append(inputs.numpy())
            batches_labels.append(labels.numpy())
    mlm.train(was_training)
    if not losses:
        raise MacedonizerError("Nothing to evaluate: the text yields no maskable tokens.")
    loss, hit = np.concatenate(losses).astype(np.float64), np.concatenate(hits)
    targets = np.concatenate([labels[labels != -100] for labels in batches_labels])
    unigram_losses, unigram_hits = unigram_scores(token_counts, targets)
    record = {
        "loss": round(float(loss.mean()), 5),
        "perplexity": round(math.exp(min(float(loss.mean()), 50)), 3),
        "masked_accuracy": round(float(hit.mean()), 5),
        **_baseline_scores("unigram", loss, hit, unigram_losses, unigram_hits),
    }
    if ngram is not None:
        ngram_losses, ngram_hits = ngram.scores_for(batches_inputs, batches_labels, masker.mask_id, pad_id)
        record.update(_baseline_scores("ngram", loss, hit, ngram_losses, ngram_hits))
    record["masked_tokens"] = int(len(loss))
    return record


def _baseline_scores(name: str, loss: np.ndarray, hit: np.ndarray, base_loss: np.ndarray, base_hit: np.ndarray) -> dict:
    """A baseline's loss and accuracy, and the standard errors of the model's paired differences from it."""
    n = max(1, len(loss) - 1)
    return {
        f"{name}_loss": round(float(base_loss.mean()), 5),
        f"{name}_accuracy": round(float(base_hit.mean()), 5),
        f"loss_vs_{name}_se": round(float(np.std(loss - base_loss) / math.sqrt(n)), 5),
        f"accuracy_vs_{name}_se": round(float(np.std(hit.astype(np.float64) - base_hit) / math.sqrt(n)), 5),
    }


def bf16_native(device) -> bool:
    """Whether ``device`` computes bf16 matrix products in hardware (CUDA with bf16, AMX or AVX-512 BF16 CPUs)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)()
                   for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return False


def resolve_precision(requested: str, device) -> str:
    """``bf16`` or ``fp32`` for ``requested`` (auto, bf16, fp32) on ``device``."""
    if requested not in PRECISIONS:
        raise MacedonizerError(f"Unknown precision {requested!r}: use {', '.join(PRECISIONS)}.")
    if requested == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    if requested == "bf16" and device.type not in ("cuda", "cpu"):
        raise MacedonizerError(f"bf16 autocast is not available on {device.type}; use --precision fp32.")
    return requested


def _autocast(device, precision: str | None = None):
    """The training step's autocast: bf16 where asked; evaluation passes none (bf16 on CUDA only)."""
    import contextlib

    import torch

    if precision == "bf16" or (precision is None and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ---------------------------------------------------------------- checkpoints


def _checkpoint_dirs(out: Path) -> list[Path]:
    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"step-\d{8}", p.name)
                  and (p / "state.pt").is_file())


def _save_checkpoint(out: Path, state: dict, step: int, keep: int) -> Path:
    """Write atomically (temp folder, then rename) and keep the last ``keep``."""
    import torch

    folder = out / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    tmp = folder / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(state, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in _checkpoint_dirs(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _interrupted(out: Path, step: int, every: int) -> Interrupted:
    """Ctrl-C during ``step + 1``, saying what was kept: the last checkpoint, or that there is none."""
    checkpoints = _checkpoint_dirs(out)
    if not checkpoints:
        return Interrupted(f"Interrupted at step {step + 1}, before the first checkpoint (one every {every} steps); "
                           "nothing was kept to resume from.")
    kept = int(checkpoints[-1].name.removeprefix("step-"))
    return Interrupted(f"Interrupted at step {step + 1}: the checkpoint of step {kept} is kept in "
                       f"{checkpoints[-1].parent}; --resume continues from it.")


def _rng_state(device) -> dict:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ---------------------------------------------------------------- the stage


def _config_dict(config: TrainConfig) -> dict:
    data = asdict(config)
    data["betas"] = list(config.betas)
    return data


def run(data_inputs: list[str], tokenizer_dir: str | os.PathLike, out_dir: str | os.PathLike,
        config: TrainConfig | None = None, run_config: RunConfig | None = None, *,
        weight_masks: dict | None = None) -> Path:
    """Pretrain one size; return the output folder (a standard BertForMaskedLM).

    ``weight_masks`` (parameter name → bool tensor) holds weights at zero
    where the mask is False, after every optimizer step (a pruned model).
    """
    import torch

    config = config or TrainConfig()
    run_config = run_config or RunConfig()
    out = Path(out_dir)
    tokenizer_dir = Path(tokenizer_dir)
    size = _initial_shape(config.init_from, tokenizer_dir) if config.init_from else resolve_size(config.size)

    device = _pick_device(run_config.device, Dist())
    dist = _setup_distributed(device.type)
    if dist.world > 1:
        device = _pick_device(run_config.device, dist)
    precision = resolve_precision(run_config.precision, device)
    if config.batch_size % (config.grad_accum * dist.world):
        raise MacedonizerError(
            f"--batch-size {config.batch_size} must be divisible by grad-accum × processes "
            f"({config.grad_accum} × {dist.world})."
        )
    micro = config.batch_size // (config.grad_accum * dist.world)
    # Checked by every process before any of them writes, so all fail alike.
    if not run_config.resume and out.exists() and any(out.iterdir()):
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --resume to continue it).")

    # Rank 0 tokenises; the others wait for its cache.
    if dist.main:
        data = build_cache(data_inputs, tokenizer_dir, config.seq_len, progress=run_config.progress)
    if dist.world > 1:
        torch.distributed.barrier()
    if not dist.main:
        data = build_cache(data_inputs, tokenizer_dir, config.seq_len, progress=False)
    if len(data.train) < config.batch_size:
        raise MacedonizerError(
            f"The corpus is too small for one batch: {len(data.train)} training sequences of {config.seq_len} "
            f"tokens, batch size {config.batch_size}."
        )
    if len(data.val) == 0:
        raise MacedonizerError("The corpus is too small to hold out validation text (add documents).")

    from tokenizers import Tokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress bar is enough

    vocab = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab()
    masker = Masker(config.masking, vocab)
    pad_id = vocab["[PAD]"]

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model = (_initial_model(config) if config.init_from else build_model(size, vocab, config)).to(device)
    held_at_zero = _held_at_zero(model, weight_masks, device)
    sparse = _sparse_mlm_module(model)
    optimizer = _optimizer(model, config, size, device)
    total_steps = config.steps()

    state = {"step": 0, "samples": 0, "tokens": 0, "elapsed": 0.0}
    checkpoints = _checkpoint_dirs(out)
    if run_config.resume and checkpoints:
        saved = torch.load(checkpoints[-1] / "state.pt", map_location=device, weights_only=False)
        if saved["config"] != _config_dict(config):
            raise MacedonizerError(f"--resume: {checkpoints[-1]} was made with another training config.")
        if saved.get("data") != data.folder.name:
            raise MacedonizerError(
                f"--resume: the tokenizer or the data changed since {checkpoints[-1]} was written "
                f"(its data cache was {saved.get('data')}, now {data.folder.name})."
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        _set_rng_state(saved["rng"], device)
        state = saved["progress"]
    if dist.main:  # metrics logged after the point a run restarts from would be duplicated
        _truncate_metrics(out / "metrics.jsonl", state["step"])
        _truncate_metrics(out / DIAGNOSTICS, state["step"])

    trained = _CompileOrEager(sparse, run_config.progress) if run_config.compile else sparse
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(trained, device_ids=[device.index] if device.type == "cuda" else None)

    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "training_config.json").write_text(json.dumps({
            "train": _config_dict(config), "size": asdict(size), "data": data.meta,
            "parameters": size.parameters(data.vocab_size), "world_size": dist.world, "device": str(device),
            "precision": precision,
        }, indent=2, ensure_ascii=False), encoding="utf-8")
    logger = _Logger(out, dist.main, run_config.progress, total_steps)
    probe = (_probe(model, data.val, masker, pad_id, device, out, config.seed, run_config.diagnostics_every)
             if dist.main else None)
    order = _Order(len(data.train), config.seed)
    flops_per_token = 6 * size.non_embedding_parameters() + 12 * size.layers * size.hidden * config.seq_len
    peak = _peak_flops(device)

    last_eval = None
    started = time.time() - state["elapsed"]
    window_start, window_tokens = time.time(), 0
    try:
        while True:
            elapsed = time.time() - started
            if total_steps is not None and state["step"] >= total_steps:
                break
            if config.time_s is not None and elapsed >= config.time_s:
                break
            progress = state["step"] / total_steps if total_steps else elapsed / config.time_s
            lr = config.lr * lr_factor(progress, config.warmup, config.schedule)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            loss_sum = 0.0
            step_correct = step_masked = 0
            for micro_step in range(config.grad_accum):
                # The micro-batch of all processes together, and this rank's rows of it.
                block = np.sort(order.indices(state["samples"] + micro_step * micro * dist.world, micro * dist.world))
                rows = block[dist.rank * micro : (dist.rank + 1) * micro]
                ids = torch.from_numpy(data.train[rows].astype(np.int64))
                inputs, labels = masker(ids, _generator(config.seed, state["step"], micro_step),
                                        total_rows=micro * dist.world, row_offset=dist.rank * micro)
                sync = micro_step == config.grad_accum - 1 or dist.world == 1
                with _no_sync(trained, sync):
                    with _autocast(device, precision):
                        loss, correct, n = trained(inputs.to(device), (ids != pad_id).to(device), labels.to(device))
                    (loss / config.grad_accum).backward()
                loss_sum += loss.item()
                step_correct += int(correct)
                step_masked += n
            loss_value = loss_sum / config.grad_accum
            if not math.isfinite(loss_value):
                last = _checkpoint_dirs(out)
                where = f"; the last good checkpoint is {last[-1]}" if last else ""
                raise TrainingDiverged(
                    f"The loss became {loss_value} at step {state['step'] + 1}{where}. Lower --lr or raise --warmup.",
                    state["step"] + 1,
                )
            diagnose = probe is not None and probe.due(state["step"] + 1)
            if diagnose:
                probe.before_update()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                for param, mask in held_at_zero:
                    param.mul_(mask)
            if diagnose:
                probe.after_update(state["step"] + 1)
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["samples"] += config.batch_size
            state["tokens"] += config.batch_size * config.seq_len
            window_tokens += config.batch_size * config.seq_len

            if state["step"] % run_config.log_every == 0 or state["step"] == total_steps:
                seconds = time.time() - window_start
                tokens_per_s = window_tokens / max(seconds, 1e-9)
                record = {"step": state["step"], "tokens": state["tokens"], "loss": round(loss_value, 5),
                          "accuracy": round(step_correct / max(1, step_masked), 5),
                          "lr": lr, "grad_norm": round(float(grad_norm), 4),
                          "tokens_per_s": round(tokens_per_s, 1)}
                if peak:
                    record["mfu"] = round(tokens_per_s * flops_per_token / (peak * dist.world), 4)
                logger.log("train", record)
                window_start, window_tokens = time.time(), 0
            if state["step"] % run_config.eval_every == 0 and dist.main:
                last_eval = evaluate_sequences(sparse, data.val, masker, pad_id, device, data.token_counts,
                                               data.ngram_baseline(), seed=config.seed, max_batches=run_config.eval_batches)
                logger.log("val", {"step": state["step"], "tokens": state["tokens"], **last_eval})
            if state["step"] % run_config.checkpoint_every == 0 and dist.main:
                state["elapsed"] = time.time() - started
                _save_checkpoint(out, _checkpoint_state(model, optimizer, device, state, config, data.folder.name), state["step"],
                                 run_config.keep_checkpoints)
    except (torch.OutOfMemoryError, MemoryError):  # by type: CUDA, MPS and XPU raise the first, Python the second
        raise OutOfMemory(
            f"Out of memory at a batch of {micro} sequences × {config.seq_len} tokens per process; "
            f"try a smaller --batch-size or a larger --grad-accum."
        ) from None
    except KeyboardInterrupt:
        raise _interrupted(out, state["step"], run_config.checkpoint_every) from None
    finally:
        logger.close()
        if probe is not None:
            probe.close()

    if dist.main:
        state["elapsed"] = time.time() - started
        _save_checkpoint(out, _checkpoint_state(model, optimizer, device, state, config, data.folder.name), state["step"],
                         run_config.keep_checkpoints)
        final = evaluate_sequences(sparse, data.val, masker, pad_id, device, data.token_counts, data.ngram_baseline(),
                                   seed=config.seed,
                                   max_batches=config.final_eval_batches)
        _write_model(out, model, tokenizer_dir, data, final, state, size, config, dist, device, precision)
    if dist.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out


def _probe(model, val: np.ndarray, masker, pad_id: int, device, out: Path, seed: int, every: int) -> Probe | None:
    """The diagnostics recorder on a fixed, deterministically masked validation batch (None when off)."""
    import torch

    if not every:
        return None
    ids = torch.from_numpy(np.asarray(val[:PROBE_ROWS]).astype(np.int64))
    inputs, labels = masker(ids, _generator(seed, 2_000_003))
    encoder, head = mlm_parts(model)
    return Probe(model, encoder, head, inputs.to(device), (ids != pad_id).to(device), labels.to(device),
                 out / DIAGNOSTICS, every)


def _initial_shape(init_from: str, tokenizer_dir: Path) -> ModelSize:
    """The shape of the saved model a run starts from, which must use the run's tokenizer."""
    from .data import tokenizer_fingerprint

    folder = Path(init_from)
    try:
        saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise MacedonizerError(f"No model to start from at {folder} (expected config.json and weights).") from None
    if (tokenizer_dir / "tokenizer.json").is_file() and (
            not (folder / "tokenizer.json").is_file()
            or tokenizer_fingerprint(folder) != tokenizer_fingerprint(tokenizer_dir)):
        raise MacedonizerError(f"{folder} was not saved with the tokenizer {tokenizer_dir}; "
                               "start from a model of the same tokenizer.")
    return ModelSize(saved["num_hidden_layers"], saved["hidden_size"], saved["num_attention_heads"],
                     saved["intermediate_size"], name=folder.name)


def _initial_model(config: TrainConfig):
    """The saved model at ``config.init_from``, with this run's dropout, in training mode."""
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(config.init_from, attn_implementation="sdpa",
                                                 hidden_dropout_prob=config.dropout,
                                                 attention_probs_dropout_prob=config.dropout)
    return model.train()  # from_pretrained returns it in eval mode, which would switch dropout off


def _held_at_zero(model, weight_masks: dict | None, device) -> list:
    """``(parameter, mask)`` pairs for the weights a pruned model keeps at zero."""
    params = dict(model.named_parameters())
    unknown = sorted(set(weight_masks or {}) - set(params))
    if unknown:
        raise ValueError(f"weight_masks names parameters the model does not have: {unknown[:3]}")
    return [(params[name], mask.to(device)) for name, mask in (weight_masks or {}).items()]


def _no_sync(module, sync: bool):
    import contextlib

    if sync or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


def _checkpoint_state(model, optimizer, device, state: dict, config: TrainConfig, data_name: str) -> dict:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": _rng_state(device),
            "progress": dict(state), "config": _config_dict(config), "data": data_name}


def _hardware(device, dist: Dist) -> str:
    """A line for the model card: what trained the model."""
    import torch

    count = f"{dist.world} × " if dist.world > 1 else ""
    if device.type == "cuda":
        return f"{count}{torch.cuda.get_device_name(device)}"
    return f"{count}CPU ({torch.get_num_threads()} threads)"


def _peak_flops(device) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_FLOPS.items():
        if key in name:
            return flops
    return None


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics logged after the checkpoint a run resumes from."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class _Logger:
    """metrics.jsonl, TensorBoard when installed, and a progress bar."""

    def __init__(self, out: Path, main: bool, progress: bool, total_steps: int | None):
        self.main = main
        self.file = open(out / "metrics.jsonl", "a", encoding="utf-8") if main else None
        self.tensorboard = None
        self.bar = None
        if not main:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            pass
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, desc="pretrain", unit=" steps", disable=None)

    def log(self, split: str, record: dict) -> None:
        if not self.main:
            return
        self.file.write(json.dumps({"split": split, **record}) + "\n")
        self.file.flush()
        if self.tensorboard is not None:
            for key, value in record.items():
                if key not in ("step", "tokens") and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(f"{split}/{key}", value, record["step"])
        if self.bar is not None:
            if split == "train":
                self.bar.update(record["step"] - self.bar.n)
                self.bar.set_postfix(loss=record["loss"], tok_s=int(record["tokens_per_s"]))
            else:
                ngram = (f", n-gram {record['ngram_loss']:.3f} / {record['ngram_accuracy']:.1%}"
                         if "ngram_loss" in record else "")
                self.bar.write(f"step {record['step']}: honest val loss {record['loss']:.3f} / accuracy "
                               f"{record['masked_accuracy']:.1%} (unigram {record['unigram_loss']:.3f} / "
                               f"{record['unigram_accuracy']:.1%}{ngram})")

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.bar is not None:
            self.bar.close()


def _write_model(out: Path, model, tokenizer_dir: Path, data: PackedData, final: dict, state: dict,
                 size: ModelSize, config: TrainConfig, dist: Dist, device, precision: str) -> None:
    """Model, tokenizer, token counts and eval.json, moved into OUT when complete."""
    tmp = out / f".model-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy2(tokenizer_dir / name, tmp / name)
    np.save(tmp / "token_counts.npy", data.token_counts)
    shutil.copy2(data.folder / NGRAM_FILE, tmp / NGRAM_FILE)
    evaluation = {
        "validation": final,
        "steps": state["step"],
        "tokens": state["tokens"],
        "seconds": round(state["elapsed"], 1),
        "tokens_per_s": round(state["tokens"] / max(state["elapsed"], 1e-9), 1),
        "size": size.name,
        "parameters": size.parameters(data.vocab_size),
        "device": str(device),
        "hardware": _hardware(device, dist),
        "precision": precision,
        "peak_memory_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
        "world_size": dist.world,
    }
    (tmp / "eval.json").write_text(json.dumps(evaluation, indent=2), encoding="utf-8")
    for path in tmp.iterdir():
        os.replace(path, out / path.name)
    tmp.rmdir()
