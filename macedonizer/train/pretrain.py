"""``macedonizer pretrain``: masked-LM training of one BERT size, fast and resumable; the wiring of a run.

``run`` checks the request, packs the data (rank 0 tokenises, the others
wait for its cache), builds the model, its sparse head and the optimizer,
resumes from the last checkpoint where asked, trains (:mod:`.loop`) and
leaves a standard masked-LM folder (:mod:`.output`). Under ``torchrun``
the same code runs DistributedDataParallel, each rank taking its own slice
of every batch.
"""

from __future__ import annotations

import os
from pathlib import Path

from tokenizers import Tokenizer
from transformers.utils import logging as hf_logging

from ..configs import RunConfig, TrainConfig, resolve_size
from ..diagnostics import DIAGNOSTICS
from ..errors import MacedonizerError
from .checkpoint import fresh_state, resume, seed_all, truncate_metrics
from .data import PackedData, build_cache
from .device import Dist, barrier, finish, resolve_precision, setup
from .loop import Parts, train, validate
from .masking import Masker
from .model import SparseMLM, build_model, build_optimizer, held_at_zero, initial_model, initial_shape, trained_module
from .output import write_model, write_training_config


def run(data_inputs: list[str], tokenizer_dir: str | os.PathLike, out_dir: str | os.PathLike,
        config: TrainConfig | None = None, run_config: RunConfig | None = None, *,
        weight_masks: dict | None = None) -> Path:
    """Pretrain one size; return the output folder (a standard BertForMaskedLM).

    ``weight_masks`` (parameter name → bool tensor) holds weights at zero
    where the mask is False, after every optimizer step (a pruned model).
    """
    config, run_config = config or TrainConfig(), run_config or RunConfig()
    out, tokenizer_dir = Path(out_dir), Path(tokenizer_dir)
    size = initial_shape(config.init_from, tokenizer_dir) if config.init_from else resolve_size(config.size)
    device, dist = setup(run_config.device)
    precision = resolve_precision(run_config.precision, device)
    _check_request(config, run_config.resume, out, dist)
    data = _packed_data(data_inputs, tokenizer_dir, config, run_config.progress, dist)
    hf_logging.disable_progress_bar()  # our own progress bar is enough
    vocab = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab()
    masker = Masker(config.masking, vocab)

    seed_all(config.seed)
    model = (initial_model(config) if config.init_from else build_model(size, vocab, config)).to(device)
    held = held_at_zero(model, weight_masks, device)
    sparse = SparseMLM(model)
    optimizer = build_optimizer(model, config, size, device)
    state = (resume(out, model, optimizer, config, data.folder.name, device, dist.main) if run_config.resume
             else fresh_state())
    if dist.main:  # metrics logged after the point a run restarts from would be duplicated
        truncate_metrics(out / "metrics.jsonl", state["step"])
        truncate_metrics(out / DIAGNOSTICS, state["step"])

    trained = trained_module(sparse, run_config.compile, run_config.progress, dist, device)
    parts = Parts(config=config, run_config=run_config, out=out, data=data, masker=masker, pad_id=vocab["[PAD]"],
                  model=model, sparse=sparse, trained=trained, optimizer=optimizer, held_at_zero=held, size=size,
                  device=device, precision=precision, dist=dist)
    if dist.main:
        write_training_config(parts, data_inputs, tokenizer_dir)
    train(parts, state)
    if dist.main:
        write_model(parts, tokenizer_dir, validate(parts, config.final_eval_batches), state)
    finish(dist)
    return out


def _check_request(config: TrainConfig, resume: bool, out: Path, dist: Dist) -> None:
    """Checked by every process before any of them writes, so that all fail alike."""
    if config.batch_size % (config.grad_accum * dist.world):
        raise MacedonizerError(
            f"--batch-size {config.batch_size} must be divisible by grad-accum × processes "
            f"({config.grad_accum} × {dist.world})."
        )
    if not resume and out.exists() and any(out.iterdir()):
        raise MacedonizerError(f"Output folder {out} exists and is not empty (use --resume to continue it).")


def _packed_data(data_inputs: list[str], tokenizer_dir: Path, config: TrainConfig, progress: bool,
                 dist: Dist) -> PackedData:
    """The packed corpus (rank 0 tokenises, the others wait for its cache), large enough to train on."""
    if dist.main:
        data = build_cache(data_inputs, tokenizer_dir, config.seq_len, progress=progress)
    barrier(dist)
    if not dist.main:
        data = build_cache(data_inputs, tokenizer_dir, config.seq_len, progress=False)
    if len(data.train) < config.batch_size:
        raise MacedonizerError(
            f"The corpus is too small for one batch: {len(data.train)} training sequences of {config.seq_len} "
            f"tokens, batch size {config.batch_size}."
        )
    if len(data.val) == 0:
        raise MacedonizerError("The corpus is too small to hold out validation text (add documents).")
    return data
