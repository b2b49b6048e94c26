import re
from dataclasses import replace

import pytest

from macedonizer.configs import TokenizerConfig, TrainConfig
from macedonizer.errors import InputError, MacedonizerError
from macedonizer.tokenizer import run as train_tokenizer
from macedonizer.train import loop
from macedonizer.train.pretrain import run
from tests.train.conftest import MODERN, QUIET, RESUME, SAMPLE, SMALL, Crash, crash_after_step, losses


@pytest.mark.parametrize("config", [SMALL, MODERN], ids=["post-ln", "modern"])
def test_resume_reproduces_the_uninterrupted_losses(tok, tmp_path, monkeypatch, config):
    straight = run([SAMPLE], tok, tmp_path / "a", config, QUIET)
    real_save = crash_after_step(monkeypatch)
    with pytest.raises(Crash):
        run([SAMPLE], tok, tmp_path / "b", config, QUIET)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    # A checkpoint write killed half-way leaves only a temporary folder behind.
    partial = tmp_path / "b" / "checkpoints" / ".tmp-step-00000004-999"
    partial.mkdir()
    (partial / "state.pt").write_bytes(b"truncated")
    resumed = run([SAMPLE], tok, tmp_path / "b", config, RESUME)
    assert losses(resumed) == losses(straight)
    assert len(losses(resumed)) == 6


def test_resume_refuses_another_config_or_tokenizer(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    with pytest.raises(MacedonizerError, match="another training config"):
        run([SAMPLE], tok, out, TrainConfig(**{**SMALL.__dict__, "lr": 1e-4}), RESUME)
    with pytest.raises(MacedonizerError, match=re.escape("another training config (variant 'post-ln', now 'modern').")):
        run([SAMPLE], tok, out, MODERN, RESUME)
    other = train_tokenizer([SAMPLE], tmp_path / "tok2", TokenizerConfig(vocab_size=1100), progress=False)
    with pytest.raises(MacedonizerError, match="tokenizer or the data changed"):
        run([SAMPLE], other, out, SMALL, RESUME)
    with pytest.raises(MacedonizerError, match="exists and is not empty"):
        run([SAMPLE], tok, out, SMALL, QUIET)


def test_resume_accepts_other_logging_and_checkpoint_intervals(tok, tmp_path, monkeypatch):
    """How often a run logs, validates and saves is not part of what it trains: --resume takes new ones."""
    real_save = crash_after_step(monkeypatch)
    with pytest.raises(Crash):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    resumed = run([SAMPLE], tok, tmp_path / "m", SMALL,
                  replace(RESUME, log_every=2, eval_every=5, eval_batches=1, checkpoint_every=2, keep_checkpoints=1))
    straight = dict(losses(run([SAMPLE], tok, tmp_path / "straight", SMALL, QUIET)))
    assert losses(resumed) == [(step, straight[step]) for step in (1, 2, 3, 4, 6)]  # logged every 2 steps after


def _cut_in_half(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_damaged_last_checkpoint_is_set_aside_for_the_one_before(tok, tmp_path, monkeypatch, capsys):
    straight = run([SAMPLE], tok, tmp_path / "a", SMALL, QUIET)
    real_save = crash_after_step(monkeypatch, at=6)
    with pytest.raises(Crash):
        run([SAMPLE], tok, tmp_path / "b", SMALL, QUIET)
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    folder = tmp_path / "b" / "checkpoints"
    _cut_in_half(folder / "step-00000006" / "state.pt")
    damaged_bytes = (folder / "step-00000006" / "state.pt").read_bytes()
    capsys.readouterr()
    resumed = run([SAMPLE], tok, tmp_path / "b", SMALL, RESUME)
    warnings = capsys.readouterr().err.strip().splitlines()
    assert warnings == [f"Warning: checkpoint {folder / 'step-00000006'} cannot be read (RuntimeError: "
                        "PytorchStreamReader failed reading zip archive: failed finding central directory); "
                        "renamed it step-00000006.damaged and resuming from step-00000003."]
    assert losses(resumed) == losses(straight) and [s for s, _ in losses(resumed)] == [1, 2, 3, 4, 5, 6]
    # Nothing lost: the damaged file is kept beside the new step-6 checkpoint, byte for byte.
    assert (folder / "step-00000006.damaged" / "state.pt").read_bytes() == damaged_bytes
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000003", "step-00000006", "step-00000006.damaged"]


def test_when_no_checkpoint_can_be_read_resume_says_so_in_one_sentence(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    folder = out / "checkpoints"
    _cut_in_half(folder / "step-00000006" / "state.pt")
    (folder / "step-00000003" / "state.pt").write_bytes(b"")
    with pytest.raises(InputError) as info:
        run([SAMPLE], tok, out, SMALL, RESUME)
    assert str(info.value) == (
        f"--resume: no checkpoint in {folder} can be read (step-00000006: RuntimeError: PytorchStreamReader failed "
        "reading zip archive: failed finding central directory; step-00000003: EOFError: Ran out of input); they "
        "are left as they are: move them away to start afresh.")
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000003", "step-00000006"]  # nothing renamed
