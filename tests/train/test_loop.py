import json
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner

from macedonizer.cli import main
from macedonizer.configs import MaskingConfig, ModelSize, TrainConfig
from macedonizer.errors import Interrupted, MacedonizerError, OutOfMemory
from macedonizer.train import loop
from macedonizer.train.device import Dist
from macedonizer.train.loop import lr_factor
from macedonizer.train.model import SparseMLM, build_model
from macedonizer.train.pretrain import run
from tests.train.conftest import QUIET, SAMPLE, SMALL, losses


def test_schedule():
    assert lr_factor(0.0, 0.1, "linear") == 0.0
    assert lr_factor(0.05, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1, "cosine") == pytest.approx(0.0)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tok, tmp_path, monkeypatch):
    forward, calls = SparseMLM.forward, {"train": 0}

    def forward_with_nan(self, *args):
        loss, correct, n = forward(self, *args)
        if self.training:
            calls["train"] += 1
            if calls["train"] >= 5:
                loss = loss * float("nan")
        return loss, correct, n

    monkeypatch.setattr(SparseMLM, "forward", forward_with_nan)
    with pytest.raises(MacedonizerError, match=r"nan at step 5; the last good checkpoint is .*step-00000003"):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    assert sorted(p.name for p in (tmp_path / "m" / "checkpoints").iterdir()) == ["step-00000003"]


_FORWARD = SparseMLM.forward


def _raising(error, after: int = 0):
    """A ``SparseMLM.forward`` whose training steps raise ``error`` once ``after`` steps are done."""
    calls = {"train": 0}

    def forward_or_raise(self, *args):
        if self.training:
            calls["train"] += 1
            if calls["train"] > after:
                raise error
        return _FORWARD(self, *args)

    return forward_or_raise


class _OwnRuntimeError(RuntimeError):
    """A library's own error type, whatever its words."""


CPU_OUT_OF_MEMORY = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                     "you tried to allocate 1125899906842624 bytes. Error code 12 (Cannot allocate memory)")
"""What torch 2.13 on Linux raises for ``torch.empty(2**50, dtype=torch.uint8)``, word for word."""


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   MemoryError(), RuntimeError(CPU_OUT_OF_MEMORY)])
def test_running_out_of_memory_suggests_a_smaller_batch(tok, tmp_path, monkeypatch, error):
    monkeypatch.setattr(SparseMLM, "forward", _raising(error))
    with pytest.raises(OutOfMemory, match="Out of memory at a batch of 4 sequences × 32 tokens.*--batch-size"):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)


@pytest.mark.parametrize("message", ["Trying to allocate a tensor with negative dimension -1",
                                     "can't allocate memory", "my code: DefaultCPUAllocator: can't allocate memory"])
def test_any_other_runtime_error_keeps_its_traceback(tok, tmp_path, monkeypatch, message):
    """Out of memory is known by its type, or on the CPU by the allocator's own words at the start; nothing else."""
    monkeypatch.setattr(SparseMLM, "forward", _raising(RuntimeError(message)))
    with pytest.raises(RuntimeError) as info:
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    assert type(info.value) is RuntimeError and str(info.value) == message  # a bug keeps its traceback


def test_cpu_out_of_memory_is_recognised_by_type_and_words():
    assert loop.cpu_out_of_memory(RuntimeError(CPU_OUT_OF_MEMORY))
    assert loop.cpu_out_of_memory(RuntimeError(CPU_OUT_OF_MEMORY.split("0. ", 1)[1]))  # without the location
    assert not loop.cpu_out_of_memory(ValueError(CPU_OUT_OF_MEMORY))
    assert not loop.cpu_out_of_memory(_OwnRuntimeError(CPU_OUT_OF_MEMORY))
    with pytest.raises(RuntimeError) as real:  # this torch's own words: 1 PiB is more than any address space
        torch.empty(2**50, dtype=torch.uint8)
    assert loop.cpu_out_of_memory(real.value)


def test_ctrl_c_says_which_checkpoint_was_kept(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(SparseMLM, "forward", _raising(KeyboardInterrupt(), after=4))
    out = tmp_path / "m"
    with pytest.raises(Interrupted) as info:
        run([SAMPLE], tok, out, SMALL, QUIET)
    assert str(info.value) == (f"Interrupted at step 5: the checkpoint of step 3 is kept in {out / 'checkpoints'}; "
                               "--resume continues from it.")
    monkeypatch.setattr(SparseMLM, "forward", _raising(KeyboardInterrupt(), after=1))
    with pytest.raises(Interrupted, match=r"^Interrupted at step 2, before the first checkpoint \(one every 3 steps\); "
                                          "nothing was kept to resume from.$"):
        run([SAMPLE], tok, tmp_path / "early", SMALL, QUIET)


def test_ctrl_c_on_the_command_line_names_the_checkpoint(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(SparseMLM, "forward", _raising(KeyboardInterrupt(), after=2))
    out = tmp_path / "m"
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
                                       "--seq-len", "32", "--batch-size", "4", "--max-steps", "6",
                                       "--checkpoint-every", "2", "--device", "cpu", "-o", str(out), "-q"])
    assert result.exit_code == 130
    assert result.output.strip() == (f"Interrupted at step 3: the checkpoint of step 2 is kept in "
                                      f"{out / 'checkpoints'}; --resume continues from it.")


def test_a_time_budget_decays_the_learning_rate_to_zero_by_the_clock(tok, tmp_path, monkeypatch):
    clock = [1000.0]

    def tick():  # every reading of the clock moves it on: training time passes with the work done
        clock[0] += 0.05
        return clock[0]

    monkeypatch.setattr(loop.time, "time", tick)
    config = replace(SMALL, max_steps=None, time_s=20.0, warmup=0.1)
    out = run([SAMPLE], tok, tmp_path / "timed", config, replace(QUIET, eval_every=10**6, checkpoint_every=10**6))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if r["split"] == "train"]
    peak = lrs.index(max(lrs))
    assert 10 < len(lrs) < 2000 and 0 < peak < len(lrs) - 1
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))  # decays by the clock, never back up
    assert lrs[-1] < 0.1 * config.lr and max(lrs) > 0.8 * config.lr
    assert json.loads((out / "eval.json").read_text())["seconds"] >= 20.0


def test_the_speed_is_the_tokens_since_the_last_line_over_the_seconds(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(loop.time, "time", lambda: clock[0])
    monkeypatch.setattr(loop, "peak_flops", lambda device: 1e9)
    size = ModelSize(2, 64)
    vocab = {f"t{i}": i for i in range(60)} | {"[PAD]": 60, "[CLS]": 61, "[SEP]": 62, "[MASK]": 63}
    parts = SimpleNamespace(size=size, config=SimpleNamespace(seq_len=32), device=torch.device("cpu"),
                            dist=Dist(world=2), model=build_model(size, vocab, TrainConfig()))
    speed = loop._Speed(parts)
    speed.tokens += 3 * 4 * 32
    clock[0] = 102.0
    per_token = 6 * size.non_embedding_parameters() + 12 * 2 * 64 * 32
    assert speed.measure() == {"tokens_per_s": 192.0, "mfu": round(192.0 * per_token / 2e9, 4)}
    speed.restart()
    speed.tokens += 128
    clock[0] = 106.0
    assert speed.measure()["tokens_per_s"] == 32.0  # counted from the restart, not the start


def _stop_at_4(seen: list):
    def watch(kind, record):
        seen.append((kind, record["step"]))
        return "enough for now" if kind == "step" and record["step"] == 4 else None

    return watch


def test_a_watch_sees_every_record_and_stops_the_run_with_a_checkpoint(tok, tmp_path):
    seen = []
    with loop.watching(_stop_at_4(seen)):
        out = run([SAMPLE], tok, tmp_path / "stopped", SMALL, replace(QUIET, diagnostics_every=2))
    assert [s for s in seen if s[1] <= 2] == [("step", 1), ("diagnostics", 1), ("step", 2), ("diagnostics", 2)]
    assert ("val", 3) in seen and max(step for _, step in seen) == 4
    assert json.loads((out / "eval.json").read_text())["steps"] == 4  # its model and validation at the stop
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-00000003", "step-00000004"]


@pytest.mark.slow  # three short runs
def test_a_stopped_run_resumed_ends_as_if_never_stopped(tok, tmp_path):
    with loop.watching(_stop_at_4([])):
        out = run([SAMPLE], tok, tmp_path / "stopped", SMALL, QUIET)
    run([SAMPLE], tok, out, SMALL, replace(QUIET, resume=True))  # no watch: on to the full budget
    full = run([SAMPLE], tok, tmp_path / "full", SMALL, QUIET)
    assert losses(out) == losses(full) and [step for step, _ in losses(out)] == [1, 2, 3, 4, 5, 6]
    assert (json.loads((out / "eval.json").read_text())["validation"]
            == json.loads((full / "eval.json").read_text())["validation"])


def test_validation_masks_as_eval_does_whatever_the_training_rate(tok, tmp_path):
    scored = {}
    for rate in (0.15, 0.3):
        config = replace(SMALL, max_steps=1, masking=MaskingConfig(rate=rate))
        out = run([SAMPLE], tok, tmp_path / f"rate{rate}", config, QUIET)
        scored[rate] = json.loads((out / "eval.json").read_text())["validation"]["masked_tokens"]
    assert scored[0.3] == scored[0.15]  # the same positions: numbers that compare across masking rates
