import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from macedonizer import pretrain
from macedonizer.cli import main
from macedonizer.configs import SIZES, MaskingConfig, ModelSize, RunConfig, TrainConfig
from macedonizer.data import Masker, build_cache
from macedonizer.errors import Interrupted, MacedonizerError, OutOfMemory
from macedonizer.pretrain import bert_config, lr_factor, run
from macedonizer.tokenizer import TokenizerConfig, run as train_tokenizer
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
QUIET = RunConfig(progress=False, eval_every=3, eval_batches=2, checkpoint_every=3, log_every=1)
SMALL = TrainConfig(size="L2/H64", seq_len=32, batch_size=4, lr=2e-3, max_steps=6, dropout=0.1)
RESUME = replace(QUIET, resume=True)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return train_tokenizer([SAMPLE], tmp_path_factory.mktemp("tok") / "tok", TokenizerConfig(vocab_size=1200),
                           progress=False)


def losses(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]


def test_size_registry_matches_transformers():
    from transformers import BertForMaskedLM

    assert [(s.layers, s.hidden, s.heads, s.intermediate) for s in SIZES.values()] == [
        (2, 128, 2, 512), (4, 256, 4, 1024), (4, 512, 8, 2048), (8, 512, 8, 2048), (12, 768, 12, 3072),
        (24, 1024, 16, 4096)]
    for size in (SIZES["tiny"], ModelSize(3, 96)):
        model = BertForMaskedLM(bert_config(size, 1000))
        assert size.parameters(1000) == sum(p.numel() for p in model.parameters())


def test_packed_cache_keeps_documents_and_is_reused(tok):
    data = build_cache([SAMPLE], tok, 32, progress=False)
    assert data.train.dtype == np.uint16 and data.train.shape[1] == 32
    assert data.meta["documents"] == {"train": 787, "val": 16}
    vocab = json.loads((tok / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    assert (data.train[:, 0] == cls_id).all()
    n_sep = int((np.asarray(data.train) == sep_id).sum() + (np.asarray(data.val) == sep_id).sum())
    assert n_sep == 803  # one boundary per document
    assert data.token_counts[cls_id] == 0 and data.token_counts.sum() == data.meta["train_tokens"]
    again = build_cache([SAMPLE], tok, 32, progress=False)
    assert again.folder == data.folder
    assert build_cache([SAMPLE], tok, 64, progress=False).folder != data.folder


def test_masking_rates_specials_and_whole_words():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "а", "б", "##в", "##г"])}
    ids = torch.tensor([[2] + [5, 7, 8, 6] * 500 + [3, 0]])
    masker = Masker(MaskingConfig(rate=0.15), vocab)
    inputs, labels = masker(ids, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert 0.12 < chosen.float().mean() < 0.18
    assert not chosen[0, 0] and not chosen[0, -1] and not chosen[0, -2]  # [CLS], [PAD], [SEP]
    assert 0.7 < (inputs[chosen] == 4).float().mean() < 0.9
    whole = Masker(MaskingConfig(rate=0.15, whole_word=True), vocab)
    _, labels = whole(ids, torch.Generator().manual_seed(0))
    words = (labels[0, 1:-2] != -100).reshape(-1, 4)  # "а ##в ##г" and "б" alternate: word = 3 pieces
    assert (words[:, 0] == words[:, 1]).all() and (words[:, 1] == words[:, 2]).all()


def test_masks_do_not_depend_on_the_process_count():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"т{i}" for i in range(50)])}
    ids = torch.randint(5, 55, (8, 16))
    masker = Masker(MaskingConfig(), vocab)
    whole = masker(ids, torch.Generator().manual_seed(3))
    halves = [masker(ids[r * 4 : (r + 1) * 4], torch.Generator().manual_seed(3), total_rows=8, row_offset=r * 4)
              for r in range(2)]
    for i in range(2):
        assert torch.equal(whole[i], torch.cat([h[i] for h in halves]))


def test_schedule():
    assert lr_factor(0.0, 0.1, "linear") == 0.0
    assert lr_factor(0.05, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1, "cosine") == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1, "linear") == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1, "cosine") == pytest.approx(0.0)


def test_training_writes_a_standard_model(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
            "special_tokens_map.json", "training_config.json", "metrics.jsonl", "eval.json",
            "token_counts.npy", "checkpoints"} <= names
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["steps"] == 6 and evaluation["tokens"] == 6 * 4 * 32
    assert set(evaluation["validation"]) >= {"loss", "perplexity", "masked_accuracy", "unigram_loss", "unigram_accuracy"}
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000003", "step-00000006"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "val"] == [3, 6]
    assert all(np.isfinite(r["loss"]) and r["tokens_per_s"] > 0 for r in rows if r["split"] == "train")


FILL_MASK = """
import sys
sys.modules["macedonizer"] = None  # plain transformers only
from transformers import pipeline
fill = pipeline("fill-mask", model=sys.argv[1])
out = fill("Утре ќе одам на [MASK].", top_k=3)
print(len(out), all("token_str" in o and "score" in o for o in out))
"""


def test_the_model_fills_masks_with_plain_transformers(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    result = subprocess.run([sys.executable, "-c", FILL_MASK, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 True"


class _Crash(Exception):
    pass


def test_resume_reproduces_the_uninterrupted_losses(tok, tmp_path, monkeypatch):
    straight = run([SAMPLE], tok, tmp_path / "a", SMALL, QUIET)

    real_save = pretrain._save_checkpoint

    def save_then_crash(out, state, step, keep):
        path = real_save(out, state, step, keep)
        if step == 3:
            raise _Crash()
        return path

    monkeypatch.setattr(pretrain, "_save_checkpoint", save_then_crash)
    with pytest.raises(_Crash):
        run([SAMPLE], tok, tmp_path / "b", SMALL, QUIET)
    monkeypatch.setattr(pretrain, "_save_checkpoint", real_save)
    # A checkpoint write killed half-way leaves only a temporary folder behind.
    partial = tmp_path / "b" / "checkpoints" / ".tmp-step-00000004-999"
    partial.mkdir()
    (partial / "state.pt").write_bytes(b"truncated")
    resumed = run([SAMPLE], tok, tmp_path / "b", SMALL, RESUME)
    assert losses(resumed) == losses(straight)
    assert len(losses(resumed)) == 6


def test_resume_refuses_another_config_or_tokenizer(tok, tmp_path):
    out = run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    with pytest.raises(MacedonizerError, match="another training config"):
        run([SAMPLE], tok, out, TrainConfig(**{**SMALL.__dict__, "lr": 1e-4}), RESUME)
    other = train_tokenizer([SAMPLE], tmp_path / "tok2", TokenizerConfig(vocab_size=1100), progress=False)
    with pytest.raises(MacedonizerError, match="tokenizer or the data changed"):
        run([SAMPLE], other, out, SMALL, RESUME)
    with pytest.raises(MacedonizerError, match="exists and is not empty"):
        run([SAMPLE], tok, out, SMALL, QUIET)


def test_resume_accepts_other_logging_and_checkpoint_intervals(tok, tmp_path, monkeypatch):
    """How often a run logs, validates and saves is not part of what it trains: --resume takes new ones."""
    real_save = pretrain._save_checkpoint

    def save_then_crash(out, state, step, keep):
        path = real_save(out, state, step, keep)
        if step == 3:
            raise _Crash()
        return path

    monkeypatch.setattr(pretrain, "_save_checkpoint", save_then_crash)
    with pytest.raises(_Crash):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    monkeypatch.setattr(pretrain, "_save_checkpoint", real_save)
    resumed = run([SAMPLE], tok, tmp_path / "m", SMALL,
                  replace(RESUME, log_every=2, eval_every=5, eval_batches=1, checkpoint_every=2, keep_checkpoints=1))
    straight = dict(losses(run([SAMPLE], tok, tmp_path / "straight", SMALL, QUIET)))
    assert losses(resumed) == [(step, straight[step]) for step in (1, 2, 3, 4, 6)]  # logged every 2 steps after


def test_bad_input_is_one_clear_error(tok, tmp_path):
    with pytest.raises(MacedonizerError, match="too small for one batch"):
        run([SAMPLE], tok, tmp_path / "b", TrainConfig(**{**SMALL.__dict__, "batch_size": 100_000}), QUIET)
    with pytest.raises(MacedonizerError, match="The loss became nan at step 2. Lower --lr"):
        run([SAMPLE], tok, tmp_path / "d", TrainConfig(**{**SMALL.__dict__, "lr": 1e30, "warmup": 0.0}), QUIET)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tok, tmp_path, monkeypatch):
    real = pretrain._sparse_mlm_module
    calls = {"train": 0}

    def poisoned(model):
        module = real(model)
        forward = module.forward

        def forward_with_nan(*args):
            loss, correct, n = forward(*args)
            if module.training:
                calls["train"] += 1
                if calls["train"] >= 5:
                    loss = loss * float("nan")
            return loss, correct, n

        module.forward = forward_with_nan
        return module

    monkeypatch.setattr(pretrain, "_sparse_mlm_module", poisoned)
    with pytest.raises(MacedonizerError, match=r"nan at step 5; the last good checkpoint is .*step-00000003"):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    assert sorted(p.name for p in (tmp_path / "m" / "checkpoints").iterdir()) == ["step-00000003"]


def test_two_process_ddp_on_cpu(tok, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               "-m", "macedonizer", "pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
               "--seq-len", "32", "--batch-size", "4", "--max-steps", "4", "--eval-every", "2",
               "--checkpoint-every", "2", "--log-every", "1", "--device", "cpu", "-o", str(out), "-q"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["world_size"] == 2 and evaluation["steps"] == 4 and evaluation["tokens"] == 4 * 4 * 32
    assert len(losses(out)) == 4


def test_cli_pretrain_and_eval(tok, tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
                                       "--seq-len", "32", "--batch-size", "4", "--max-steps", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "every scored token masked" in result.output and "unigram" in result.output and "n-gram" in result.output
    text = tmp_path / "t.txt"
    text.write_text("Утре ќе одам на пазар со мајка ми.\nВладата денес го усвои буџетот.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(out), "--text", str(text), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)["t.txt"]
    assert set(scores) >= {"loss", "masked_accuracy", "unigram_loss", "unigram_accuracy", "ngram_loss",
                           "ngram_accuracy", "masked_tokens", "verdict", "verdict_reason"}
    again = CliRunner().invoke(main, ["eval", str(out), "--text", str(text), "--json"])
    assert json.loads(again.stdout) == json.loads(result.stdout)  # deterministic masking
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "-o",
                                       str(tmp_path / "x"), "--time", "soon"])
    assert result.exit_code == 2 and "duration" in result.output


_SPARSE_MLM_MODULE = pretrain._sparse_mlm_module


def _raising(error, after: int = 0):
    """A ``_sparse_mlm_module`` whose training steps raise ``error`` once ``after`` steps are done."""
    calls = {"train": 0}

    def wrapped(model):
        module = _SPARSE_MLM_MODULE(model)
        forward = module.forward

        def forward_or_raise(*args):
            if module.training:
                calls["train"] += 1
                if calls["train"] > after:
                    raise error
            return forward(*args)

        module.forward = forward_or_raise
        return module

    return wrapped


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   MemoryError()])
def test_running_out_of_memory_suggests_a_smaller_batch(tok, tmp_path, monkeypatch, error):
    monkeypatch.setattr(pretrain, "_sparse_mlm_module", _raising(error))
    with pytest.raises(OutOfMemory, match="Out of memory at a batch of 4 sequences × 32 tokens.*--batch-size"):
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)


def test_out_of_memory_is_known_by_its_type_not_its_words(tok, tmp_path, monkeypatch):
    bug = RuntimeError("Trying to allocate a tensor with negative dimension -1")
    monkeypatch.setattr(pretrain, "_sparse_mlm_module", _raising(bug))
    with pytest.raises(RuntimeError, match="negative dimension") as info:
        run([SAMPLE], tok, tmp_path / "m", SMALL, QUIET)
    assert not isinstance(info.value, MacedonizerError)  # a bug keeps its traceback


def test_ctrl_c_says_which_checkpoint_was_kept(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain, "_sparse_mlm_module", _raising(KeyboardInterrupt(), after=4))
    out = tmp_path / "m"
    with pytest.raises(Interrupted) as info:
        run([SAMPLE], tok, out, SMALL, QUIET)
    assert str(info.value) == (f"Interrupted at step 5: the checkpoint of step 3 is kept in {out / 'checkpoints'}; "
                               "--resume continues from it.")
    monkeypatch.setattr(pretrain, "_sparse_mlm_module", _raising(KeyboardInterrupt(), after=1))
    with pytest.raises(Interrupted, match=r"^Interrupted at step 2, before the first checkpoint \(one every 3 steps\); "
                                          "nothing was kept to resume from.$"):
        run([SAMPLE], tok, tmp_path / "early", SMALL, QUIET)


def test_ctrl_c_on_the_command_line_names_the_checkpoint(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain, "_sparse_mlm_module", _raising(KeyboardInterrupt(), after=2))
    out = tmp_path / "m"
    result = CliRunner().invoke(main, ["pretrain", "--data", SAMPLE, "--tokenizer", str(tok), "--size", "L2/H64",
                                       "--seq-len", "32", "--batch-size", "4", "--max-steps", "6",
                                       "--checkpoint-every", "2", "--device", "cpu", "-o", str(out), "-q"])
    assert result.exit_code == 130
    assert result.output.strip() == (f"Interrupted at step 3: the checkpoint of step 2 is kept in "
                                      f"{out / 'checkpoints'}; --resume continues from it.")


def test_precision_follows_the_hardware(monkeypatch):
    cpu = torch.device("cpu")
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert pretrain.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert pretrain.resolve_precision("auto", cpu) == "bf16"
    assert pretrain.resolve_precision("fp32", cpu) == "fp32" and pretrain.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(MacedonizerError, match="Unknown precision 'fp8'"):
        pretrain.resolve_precision("fp8", cpu)
    with pytest.raises(MacedonizerError, match="not available on mps"):
        pretrain.resolve_precision("bf16", torch.device("mps"))


def test_bf16_and_fp32_end_within_evaluation_noise(tok, tmp_path):
    config = replace(SMALL, size="L2/H128", max_steps=100, batch_size=16, dropout=0.0)
    scores = {}
    for precision in ("fp32", "bf16"):
        out = run([SAMPLE], tok, tmp_path / precision, config,
                  replace(QUIET, eval_every=100, checkpoint_every=100, precision=precision))
        evaluation = json.loads((out / "eval.json").read_text())
        assert evaluation["precision"] == precision
        scores[precision] = (evaluation["validation"], losses(out))
    (fp32, fp32_curve), (bf16, bf16_curve) = scores["fp32"], scores["bf16"]
    assert fp32_curve != bf16_curve  # bf16 really ran: the losses differ in their last digits
    noise = 3 * max(fp32["loss_vs_unigram_se"], bf16["loss_vs_unigram_se"])
    assert abs(fp32["loss"] - bf16["loss"]) < noise
    assert fp32["loss"] < np.log(1200) - 0.5  # both trained: the comparison is not between two fresh models


def test_a_time_budget_decays_the_learning_rate_to_zero_by_the_clock(tok, tmp_path, monkeypatch):
    clock = [1000.0]

    def tick():  # every reading of the clock moves it on: training time passes with the work done
        clock[0] += 0.05
        return clock[0]

    monkeypatch.setattr(pretrain.time, "time", tick)
    config = replace(SMALL, max_steps=None, time_s=20.0, warmup=0.1)
    out = run([SAMPLE], tok, tmp_path / "timed", config, replace(QUIET, eval_every=10**6, checkpoint_every=10**6))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if r["split"] == "train"]
    peak = lrs.index(max(lrs))
    assert 10 < len(lrs) < 2000 and 0 < peak < len(lrs) - 1
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))  # decays by the clock, never back up
    assert lrs[-1] < 0.1 * config.lr and max(lrs) > 0.8 * config.lr
    assert json.loads((out / "eval.json").read_text())["seconds"] >= 20.0
