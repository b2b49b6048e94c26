"""The training loop: optimizer steps until the budget of steps, tokens or wall-clock time is spent.

Each step reads its sequences in the seeded data order and draws its masks
from a generator of (seed, step, micro-batch); it accumulates
``grad_accum`` micro-batches (under DDP each rank its own rows, gradients
synchronised on the last) into the mean loss over all the step's masked
tokens, as one process computes it on the whole batch; it clips, and steps
AdamW at the learning rate ``lr_factor`` gives: linear warm-up, then linear
or cosine decay to 0 at the end of the budget (by the clock for a time
budget). Every ``log_every`` steps a line goes to metrics.jsonl
(TensorBoard, the progress bar), every ``eval_every`` a validation, every
``checkpoint_every`` a checkpoint. A NaN loss stops the run
(``TrainingDiverged``); running out of memory, on a GPU or on the CPU, says
which batch (``OutOfMemory``), Ctrl-C which checkpoint was kept
(``Interrupted``).

A run trained inside ``watching(watch)`` shows ``watch`` every step, every
validation and every diagnostics record; when it answers with a reason, the
run ends after that step as if its budget were spent (a checkpoint, the
model and eval.json), and ``resume`` later continues it under the same
schedule: how the sweep stops runs early.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..configs import MaskingConfig, ModelSize, RunConfig, TrainConfig
from ..diagnostics import DIAGNOSTICS, Probe
from ..errors import OutOfMemory, TrainingDiverged
from .checkpoint import checkpoint_dirs, checkpoint_state, interrupted, save_checkpoint
from .data import Order, PackedData
from .device import Dist, all_sum, autocast, peak_flops
from .evaluate import evaluate_sequences
from .masking import Masker, generator
from .model import SparseMLM, mlm_parts, non_embedding_parameters

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # TensorBoard is optional
    SummaryWriter = None

_CPU_OOM = re.compile(r"(\[enforce fail at [^\]]*\] [^\n]*?)?DefaultCPUAllocator: can't allocate memory")
"""torch's CPU allocator message (see ``cpu_out_of_memory``), after its optional location."""

PROBE_ROWS = 8
"""Validation sequences in the fixed diagnostics batch."""

Watch = Callable[[str, dict], "str | None"]
"""Shown ``("step", {"step", "loss"})`` after every optimizer step, ``("val", record)`` after every validation
and ``("diagnostics", record)`` after every diagnostics record (main process); a reason it returns ends the run."""
_WATCH: ContextVar[Watch | None] = ContextVar("macedonizer_watch", default=None)


@contextlib.contextmanager
def watching(watch: Watch) -> Iterator[None]:
    """Every run trained inside shows its records to ``watch``, which may end it early (see the module docstring)."""
    token = _WATCH.set(watch)
    try:
        yield
    finally:
        _WATCH.reset(token)


def flops_per_token(size: ModelSize, seq_len: int, non_embedding: int | None = None) -> int:
    """Training FLOPs per token: 6 per non-embedding parameter, plus attention's 12 · layers · hidden · seq_len.

    ``non_embedding``: the model's own count (``model.non_embedding_parameters``), for variants whose layers
    are not BERT's (the modern variant's GLU); without it, BERT's count for ``size``.
    """
    if non_embedding is None:
        non_embedding = size.non_embedding_parameters()
    return 6 * non_embedding + 12 * size.layers * size.hidden * seq_len


def lr_factor(progress: float, warmup: float, schedule: str) -> float:
    """Multiplier of the peak learning rate at ``progress`` ∈ [0, 1] of the budget."""
    if warmup > 0 and progress < warmup:
        return progress / warmup
    rest = (progress - warmup) / max(1e-12, 1 - warmup)
    rest = min(1.0, max(0.0, rest))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * rest))
    return 1.0 - rest


@dataclass
class Parts:
    """Everything one run trains with, put together by ``pretrain.run``."""

    config: TrainConfig
    run_config: RunConfig
    out: Path
    data: PackedData
    masker: Masker
    pad_id: int
    model: torch.nn.Module
    """The masked-LM that is saved."""
    sparse: SparseMLM
    """``model`` with its head on the masked positions only."""
    trained: torch.nn.Module
    """What a step calls: ``sparse``, compiled and under DDP where they apply."""
    optimizer: torch.optim.Optimizer
    held_at_zero: list
    size: ModelSize
    device: torch.device
    precision: str
    dist: Dist
    evaluation_masker: Masker | None = field(default=None, init=False)
    """What ``validate`` masks with, built on first use."""

    @property
    def micro(self) -> int:
        """Sequences in one micro-batch of one process."""
        return self.config.batch_size // (self.config.grad_accum * self.dist.world)


def validate(parts: Parts, max_batches: int | None) -> dict:
    """Honest scores on the validation sequences (``max_batches`` of them; None for all).

    Masked as ``macedonizer eval`` masks (``MaskingConfig``'s default rate, token by token), whatever the
    training masking: a run trained at another masking rate is scored on the same task, so its numbers compare.
    """
    if parts.evaluation_masker is None:
        same = parts.masker.config == MaskingConfig()
        parts.evaluation_masker = parts.masker if same else Masker(MaskingConfig(), parts.masker.vocab)
    return evaluate_sequences(parts.sparse, parts.data.val, parts.evaluation_masker, parts.pad_id, parts.device,
                              parts.data.token_counts, parts.data.ngram_baseline(), seed=parts.config.seed,
                              max_batches=max_batches)


def train(parts: Parts, state: dict) -> None:
    """Train from ``state`` (updated in place) until the budget is spent; rank 0 then saves the last checkpoint."""
    logger = Logger(parts.out, parts.dist.main, parts.run_config.progress, parts.config.steps())
    probe = _probe(parts) if parts.dist.main else None
    started = time.time() - state["elapsed"]
    try:
        _steps(parts, state, logger, probe, started)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if not (isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or cpu_out_of_memory(exc)):
            raise  # any other RuntimeError is a bug and keeps its traceback
        raise OutOfMemory(
            f"Out of memory at a batch of {parts.micro} sequences × {parts.config.seq_len} tokens per process; "
            f"try a smaller --batch-size or a larger --grad-accum."
        ) from None
    except KeyboardInterrupt:
        raise interrupted(parts.out, state["step"], parts.run_config.checkpoint_every) from None
    finally:
        logger.close()
        if probe is not None:
            probe.close()
    if parts.dist.main:
        _checkpoint(parts, state, started)


def cpu_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's CPU allocator out of memory.

    CUDA, MPS and XPU raise ``torch.OutOfMemoryError`` and Python
    ``MemoryError``, known by their types. The CPU allocator has no type of
    its own: a failed allocation is a plain ``RuntimeError`` whose message is
    ``DefaultCPUAllocator: can't allocate memory: you tried to allocate N
    bytes. Error code 12 (Cannot allocate memory)``, after the location
    ``[enforce fail at alloc_cpu.cpp:NNN] err == 0.`` in release builds. That
    message is the only way torch reports it, so it is matched exactly: the
    type ``RuntimeError`` itself (no subclass) and the allocator's words at
    the start of the message, after that location at most.
    """
    return type(exc) is RuntimeError and _CPU_OOM.match(str(exc)) is not None


def _steps(parts: Parts, state: dict, logger: Logger, probe: Probe | None, started: float) -> None:
    config, every, main = parts.config, parts.run_config, parts.dist.main
    total_steps = config.steps()
    order = Order(len(parts.data.train), config.seed)
    speed = _Speed(parts)
    watch = _WATCH.get()
    while True:
        elapsed = time.time() - started
        if total_steps is not None and state["step"] >= total_steps:
            break
        if config.time_s is not None and elapsed >= config.time_s:
            break
        progress = state["step"] / total_steps if total_steps else elapsed / config.time_s
        lr = config.lr * lr_factor(progress, config.warmup, config.schedule)
        loss, correct, masked = _accumulate(parts, order, state)
        if not math.isfinite(loss):
            last = checkpoint_dirs(parts.out)
            where = f"; the last good checkpoint is {last[-1]}" if last else ""
            raise TrainingDiverged(
                f"The loss became {loss} at step {state['step'] + 1}{where}. Lower --lr or raise --warmup.",
                state["step"] + 1,
            )
        grad_norm, diagnosis = _update(parts, lr, state["step"] + 1, probe)
        state["step"] += 1
        state["samples"] += config.batch_size
        state["tokens"] += config.batch_size * config.seq_len
        speed.tokens += config.batch_size * config.seq_len
        step = state["step"]
        stop = _shown(watch, "step", {"step": step, "loss": loss}) or _shown(watch, "diagnostics", diagnosis)
        if step % every.log_every == 0 or step == total_steps or stop:
            logger.log("train", {"step": step, "tokens": state["tokens"], "loss": round(loss, 5),
                                 "accuracy": round(correct / max(1, masked), 5), "lr": lr,
                                 "grad_norm": round(float(grad_norm), 4), **speed.measure()})
            speed.restart()
        if step % every.eval_every == 0 and main:
            record = validate(parts, every.eval_batches)
            logger.log("val", {"step": step, "tokens": state["tokens"], **record})
            stop = stop or _shown(watch, "val", {"step": step, **record})
        if watch is not None and _stopping(stop, parts):
            break  # train() saves the checkpoint that resume continues from
        if step % every.checkpoint_every == 0 and main:
            _checkpoint(parts, state, started)


def _shown(watch: Watch | None, kind: str, record: dict | None) -> str | None:
    """What ``watch`` says of a record: a reason to stop, or None."""
    return watch(kind, record) if watch is not None and record is not None else None


def _stopping(stop: str | None, parts: Parts) -> bool:
    """Whether the run stops here: on any process's word, so that every process of a DDP run stops alike."""
    if parts.dist.world == 1:
        return bool(stop)
    return all_sum([1.0 if stop else 0.0], parts.dist, parts.device)[0] > 0


def _accumulate(parts: Parts, order: Order, state: dict) -> tuple[float, int, int]:
    """Forward and backward the step's ``grad_accum`` micro-batches: (loss, correct, masked tokens) of the step.

    The loss is the mean over every masked token of the step, on all
    processes together, as one process would compute it on the whole batch:
    each micro-batch's mean loss is weighted by its share of the step's
    masked tokens (times the process count, which DDP's gradient average
    divides out).
    """
    config, dist, device = parts.config, parts.dist, parts.device
    batches = [_micro_batch(parts, order, state, micro_step) for micro_step in range(config.grad_accum)]
    local = sum(int((labels != -100).sum()) for _, _, labels in batches)
    total = int(all_sum([local], dist, device)[0])
    loss_sum, correct = 0.0, 0
    for micro_step, (ids, inputs, labels) in enumerate(batches):
        sync = micro_step == config.grad_accum - 1 or dist.world == 1
        with _no_sync(parts.trained, sync):
            with autocast(device, parts.precision):
                loss, hits, n = parts.trained(inputs.to(device), (ids != parts.pad_id).to(device), labels.to(device))
            (loss * (n * dist.world / max(1, total))).backward()
        loss_sum += loss.item() * n if n else 0.0  # an empty mean is NaN: no masked token adds nothing
        correct += int(hits)
    loss_sum, correct = all_sum([loss_sum, correct], dist, device)
    return loss_sum / max(1, total), int(correct), total


def _micro_batch(parts: Parts, order: Order, state: dict, micro_step: int):
    """(ids, masked inputs, labels) of this process's rows of micro-batch ``micro_step`` of the step."""
    config, dist, micro = parts.config, parts.dist, parts.micro
    # The micro-batch of all processes together, and this rank's rows of it.
    block = np.sort(order.indices(state["samples"] + micro_step * micro * dist.world, micro * dist.world))
    rows = block[dist.rank * micro : (dist.rank + 1) * micro]
    ids = torch.from_numpy(parts.data.train[rows].astype(np.int64))
    inputs, labels = parts.masker(ids, generator(config.seed, state["step"], micro_step),
                                  total_rows=micro * dist.world, row_offset=dist.rank * micro)
    return ids, inputs, labels


def _update(parts: Parts, lr: float, step: int, probe: Probe | None) -> tuple[torch.Tensor, dict | None]:
    """Clip, step AdamW at ``lr`` (times each group's scale), hold pruned weights at zero.

    Returns the gradient norm, and the diagnostics record where this step was a diagnostics step.
    """
    for group in parts.optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    diagnose = probe is not None and probe.due(step)
    if diagnose:
        probe.before_update()
    grad_norm = torch.nn.utils.clip_grad_norm_(parts.model.parameters(), parts.config.max_grad_norm)
    parts.optimizer.step()
    with torch.no_grad():
        for param, mask in parts.held_at_zero:
            param.mul_(mask)
    diagnosis = probe.after_update(step) if diagnose else None
    parts.optimizer.zero_grad(set_to_none=True)
    return grad_norm, diagnosis


def _checkpoint(parts: Parts, state: dict, started: float) -> None:
    state["elapsed"] = time.time() - started
    save_checkpoint(parts.out, checkpoint_state(parts.model, parts.optimizer, parts.device, state, parts.config,
                                                parts.data.folder.name),
                    state["step"], parts.run_config.keep_checkpoints)


def _no_sync(module, sync: bool):
    """DDP's ``no_sync`` on micro-batches that do not synchronise gradients."""
    if sync or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


def _probe(parts: Parts) -> Probe | None:
    """The diagnostics recorder on a fixed, deterministically masked validation batch (None when off)."""
    if not parts.run_config.diagnostics_every:
        return None
    ids = torch.from_numpy(np.asarray(parts.data.val[:PROBE_ROWS]).astype(np.int64))
    inputs, labels = parts.masker(ids, generator(parts.config.seed, 2_000_003))
    encoder, head = mlm_parts(parts.model)
    device = parts.device
    return Probe(parts.model, encoder, head, inputs.to(device), (ids != parts.pad_id).to(device), labels.to(device),
                 parts.out / DIAGNOSTICS, parts.run_config.diagnostics_every)


class _Speed:
    """Tokens per second since the last log line, and model-FLOPs utilisation where the GPU's peak is known."""

    def __init__(self, parts: Parts):
        self.flops_per_token = flops_per_token(parts.size, parts.config.seq_len, non_embedding_parameters(parts.model))
        self.peak, self.world = peak_flops(parts.device), parts.dist.world
        self.restart()

    def restart(self) -> None:
        self.start, self.tokens = time.time(), 0

    def measure(self) -> dict:
        tokens_per_s = self.tokens / max(time.time() - self.start, 1e-9)
        record = {"tokens_per_s": round(tokens_per_s, 1)}
        if self.peak:
            record["mfu"] = round(tokens_per_s * self.flops_per_token / (self.peak * self.world), 4)
        return record


class Logger:
    """metrics.jsonl, TensorBoard when installed, and a progress bar (on the main process only)."""

    def __init__(self, out: Path, main: bool, progress: bool, total_steps: int | None):
        self.main = main
        self.file = open(out / "metrics.jsonl", "a", encoding="utf-8") if main else None
        self.tensorboard = SummaryWriter(str(out / "tensorboard")) if main and SummaryWriter is not None else None
        self.bar = tqdm(total=total_steps, desc="pretrain", unit=" steps", disable=None) if main and progress else None

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
