"""The build's stages: the list a config makes, push, lr = "auto" with its sweep, derived members, torchrun."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

from macedonizer import verdict
from macedonizer.build import read
from macedonizer.build.config import configs_dir
from macedonizer.build.stages import Build, _tokenizer, plan
from macedonizer.configs import recipe_for
from tests import hub_server
from tests.build.conftest import FAST, invoke, ran, write


def test_plan_orders_the_stages_and_chains_each_to_what_it_needs(tmp_path):
    config = read(str(configs_dir() / "production.toml"), sizes="tiny,base", push_namespace="org")
    stages = {s.name: s for s in plan(Build(config, tmp_path, push=True))}
    assert list(stages) == ["clean", "tokenizer", "sweep", "pretrain tiny", "pretrain base", "derive base-L8",
                            "eval tiny", "eval base", "eval base-L8", "cards", "push tiny", "push base",
                            "push base-L8"]
    assert stages["pretrain base"].after == ("clean", "tokenizer", "sweep") and stages["pretrain base"].resumable
    assert stages["derive base-L8"].after == ("pretrain base", "clean")
    assert stages["push base-L8"].after == ("cards", "eval base-L8")
    assert stages["cards"].key()["repos"]["base-L8"] == "org/mk-bert-base-L8"
    assert "push tiny" not in {s.name for s in plan(Build(config, tmp_path))}


def test_how_a_run_logs_and_saves_is_not_in_its_fingerprint(tmp_path):
    config = read(None)
    relogged = dataclasses.replace(config, runs={size: dataclasses.replace(run, log_every=1, eval_every=3)
                                                 for size, run in config.runs.items()})
    keys = [[s.key() for s in plan(Build(c, tmp_path))] for c in (config, relogged)]
    assert keys[0] == keys[1]


def test_push_publishes_the_family_with_linked_cards(tmp_path, monkeypatch):
    server, state, endpoint = hub_server.start()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", hub_server.TOKEN)
    try:
        out = tmp_path / "out"
        # Four steps teach nothing: by default such models are not published.
        refused = invoke(*FAST, "-o", out, "--push", "tester")
        assert refused.exit_code == 0, refused.output
        assert "not pushed (" in refused.output and "n-gram" in refused.output and not state.repos
        result = invoke(*FAST, "-o", out, "--push", "tester", "--set", "push.only_learned=false")
        assert result.exit_code == 0, result.output
        assert ran(result.output) == {"push L1/H32", "push L2/H32"}
        assert set(state.repos) == {"tester/mk-bert-L1-H32", "tester/mk-bert-L2-H32"}
        card = (out / "models" / "L1-H32" / "README.md").read_text(encoding="utf-8")
        assert "[L2-H32](https://huggingface.co/tester/mk-bert-L2-H32)" in card
        assert f"{endpoint}/tester/mk-bert-L2-H32" in result.output  # the Hub URL in the summary table
        models = json.loads((out / "build.json").read_text(encoding="utf-8"))["models"]
        assert [m["hub"] for m in models] == [f"{endpoint}/tester/mk-bert-L1-H32", f"{endpoint}/tester/mk-bert-L2-H32"]
    finally:
        server.shutdown()


# ---------------------------------------------------------------- lr = "auto" and derived members


AUTO = """
[build]
sizes = ["L1/H32", "L2/H32"]
[pretrain.size."L2/H32"]
lr = "auto"
[sweep]
lrs = [1e-3, 3e-3]
warmups = [0.0]
steps = 6
seq_len = 32
batch_size = 4
eval_every = 3
eval_batches = 1
diagnostics_every = 3
[[derive]]
name = "L2-H32-top1"
parent = "L2/H32"
method = "drop:top:1"
"""


def test_lr_auto_trains_with_the_sweeps_recommendation_and_derived_members_join_the_family(tmp_path, monkeypatch):
    from macedonizer import sweep

    real_recommended = sweep.recommended
    # Six sweep steps teach nothing, so no run learns; the sweep's own tests cover its choice. Here the
    # build must train L2/H32 with whatever the sweep recommends, so the recommendation is set by hand.
    choice = {"lr": 3e-3, "warmup": 0.25, "variant": "pre-ln", "lr_scaling": "none", "max_grad_norm": 1.0,
              "mask_rate": 0.3}
    monkeypatch.setattr(sweep, "recommended", lambda out: {**real_recommended(out), "L2/H32": choice})
    monkeypatch.setattr(sweep, "recommended_lr", lambda out, size: choice["lr"])
    out = tmp_path / "out"
    result = invoke(write(tmp_path, AUTO), *FAST, "--sizes", "L1/H32,L2/H32", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "sweep" / "runs.csv").is_file() and (out / "sweep" / "learnability.png").is_file()
    trained = json.loads((out / "models" / "L2-H32" / "training_config.json").read_text())["train"]
    assert (trained["lr"], trained["warmup"], trained["variant"]) == (3e-3, 0.25, "pre-ln")
    assert trained["masking"]["rate"] == 0.3
    trained = json.loads((out / "models" / "L1-H32" / "training_config.json").read_text())["train"]
    assert trained["lr"] == recipe_for("L1/H32").lr  # a size without "auto" trains with its recipe
    from transformers import AutoConfig, pipeline

    assert AutoConfig.from_pretrained(out / "models" / "L2-H32").model_type == "roberta-prelayernorm"
    derived = out / "models" / "L2-H32-top1"
    assert AutoConfig.from_pretrained(derived).num_hidden_layers == 1
    assert len(pipeline("fill-mask", model=str(derived))("Скопје е главен [MASK] на Македонија.")) == 5
    card = (out / "models" / "L1-H32" / "README.md").read_text(encoding="utf-8")
    assert "L2-H32-top1" in card  # the family lists the derived member
    assert "L2-H32" in (derived / "README.md").read_text(encoding="utf-8")  # which names its parent
    # A rerun reuses the sweep.
    again = invoke(write(tmp_path, AUTO), *FAST, "--sizes", "L1/H32,L2/H32", "-o", out)
    assert again.exit_code == 0 and ran(again.output) == set()


REAL_CHAIN = """
[build]
sizes = ["L1/H32"]
[pretrain.size."L1/H32"]
lr = "auto"
[sweep]
lrs = [5e-3, 1e30]
warmups = [0.0]
steps = 30
seq_len = 32
batch_size = 8
eval_every = 15
eval_batches = 1
diagnostics_every = 15
"""


def test_lr_auto_trains_with_what_the_real_sweep_recommends(tmp_path, monkeypatch):
    """The whole chain: a real sweep (one learning rate that trains, one so large its loss turns NaN), its
    recommendation file, and the build training the size with the recommended run's settings.

    Six steps teach nothing beyond the n-gram baseline, so the verdict (macedonizer.verdict, tested on its
    own) is told that a run with a finite loss learned; everything else is the real code.
    """
    from macedonizer.sweep import outcome

    real_judge = outcome.judge
    monkeypatch.setattr(outcome, "judge", lambda record: verdict.Verdict("learned", "a finite loss")
                        if record and math.isfinite(record["loss"]) else real_judge(record))
    out = tmp_path / "out"
    result = invoke(write(tmp_path, REAL_CHAIN), *FAST, "--sizes", "L1/H32", "-o", out)
    assert result.exit_code == 0, result.output
    assert "L1/H32: lr 0.005, warm-up 0, post-ln" in result.output  # the sweep stage's line
    report = (out / "sweep" / "report.md").read_text(encoding="utf-8")
    assert "- L1-H32-post-ln-wu0-lr1e+30: diverged (the loss became NaN/inf at step" in report
    assert "- L1/H32: lr 0.005, warm-up 0, post-ln" in report  # its recommendation
    recommended = json.loads((out / "sweep" / "recommended.json").read_text())["sizes"]["L1/H32"]
    assert (recommended["lr"], recommended["run"]) == (5e-3, "L1-H32-post-ln-wu0-lr0.005")
    trained = json.loads((out / "models" / "L1-H32" / "training_config.json").read_text())["train"]
    recipe = recipe_for("L1/H32")
    assert (recipe.lr, recipe.warmup) != (5e-3, 0.0)  # the recipe would train otherwise
    assert (trained["lr"], trained["warmup"], trained["variant"]) == (5e-3, 0.0, "post-ln")
    assert json.loads((out / "models" / "L1-H32" / "eval.json").read_text())["steps"] == 4  # the build's budget


def test_lr_auto_with_no_learned_run_stops_with_the_reason(tmp_path):
    result = invoke(write(tmp_path, AUTO.split("[[derive]]")[0]), *FAST, "--sizes", "L1/H32,L2/H32",
                    "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "No run of size L2/H32 learned in the sweep" in result.output and "Traceback" not in result.output
    assert "L2/H32: no run learned" in result.output


def test_processes_run_pretraining_under_torchrun(tmp_path):
    out = tmp_path / "out"
    result = invoke(*FAST, "--sizes", "L1/H32", "--set", "build.processes=2", "-o", out)
    assert result.exit_code == 0, result.output
    evaluation = json.loads((out / "models" / "L1-H32" / "eval.json").read_text())
    assert evaluation["world_size"] == 2 and evaluation["steps"] == 4


def test_the_tokenizer_stage_says_the_vocabulary_size_the_trainer_chose(built, tmp_path):
    source, _ = built
    shutil.copytree(source / "corpus", tmp_path / "corpus")
    build = Build(read(None, ("tokenizer.vocab_size=0",), sizes="tiny"), tmp_path, progress=False)
    outcome = _tokenizer(build)
    chosen = json.loads((build.tokenizer_dir / "stats.json").read_text(encoding="utf-8"))["vocab_size"]
    assert chosen > 0 and outcome.summary.startswith(f"{chosen:,} WordPiece tokens")
