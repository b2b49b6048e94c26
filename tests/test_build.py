"""``macedonizer build``: config checking, stage caching, resume, summary and push."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from click.testing import CliRunner

from macedonizer import pretrain
from macedonizer.buildconfig import from_table, read, resolved_table
from macedonizer.cli import main
from macedonizer.configs import recipe_for
from macedonizer.errors import MacedonizerError
from tests import hub_server
from tests.conftest import SAMPLE_DIR

# Two tiny shapes and a few steps: the whole chain in well under a minute.
FAST = ("--sizes", "L1/H32,L2/H32",
        "--set", "pretrain.max_steps=4", "--set", "pretrain.seq_len=32", "--set", "pretrain.batch_size=8",
        "--set", "pretrain.eval_every=2", "--set", "pretrain.checkpoint_every=2", "--set", "pretrain.eval_batches=2",
        "--set", "tokenizer.vocab_size=1200", "--set", f'corpus.inputs=["{SAMPLE_DIR / "mk-sample.txt"}"]')
SIZES = ("L1/H32", "L2/H32")
MODELS = ("L1-H32", "L2-H32")  # their folders


def invoke(*args):
    return CliRunner().invoke(main, ["build", *(str(a) for a in args)])


def stage_lines(output: str) -> dict[str, str]:
    """{stage: "up to date" | "running" | "resuming"} from the stage lines."""
    states = {}
    for match in re.finditer(r"^\[\d+/\d+\] (\S+(?: \S+)?)\s+(up to date|running|resuming)$", output, re.M):
        states[match.group(1)] = match.group(2)
    return states


def ran(output: str) -> set[str]:
    return {stage for stage, state in stage_lines(output).items() if state != "up to date"}


# ---------------------------------------------------------------- config


def write(tmp_path, text: str):
    path = tmp_path / "build.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, message", [
    ("[pretrain]\nlrr = 1e-3\n", r"\[pretrain\] unknown key 'lrr' \(known: .*lr"),
    ("[trainer]\nlr = 1\n", r"unknown key 'trainer'"),
    ('[pretrain]\nlr = "fast"\n', r'\[pretrain\] lr: expected a number or "auto", got \'fast\''),
    ('[pretrain]\nbatch_size = "32"\n', r"\[pretrain\] batch_size: expected an integer, got '32'"),
    ("[pretrain]\nmax_steps = 10\ntokens = 100\n", r"exactly one budget .*found max_steps, tokens"),
    ('[build]\nsizes = ["huge"]\n', r"\[build\] sizes: Unknown size 'huge'"),
    ('[build]\nsizes = ["tiny"]\n[pretrain.size.mini]\nlr = 1e-4\n', r"\[pretrain.size.mini\]: 'mini' is not in"),
    ('[card]\nlicense = "proprietary"\n', r"\[card\] license: Unknown licence"),
    ('[push]\npattern = "{namespace}/mk-bert"\n', r"\[push\] pattern: must contain \{size\}"),
    ('[clean]\nfilters = "bogus"\n', r"\[clean\] filters: Unknown filter group 'bogus'"),
    ("[clean.quality]\nmin_words = 2.5\n", r"\[clean.quality\] min_words: expected an integer"),
    ("[pretrain\n", r"not valid TOML"),
    ('[build]\nprecision = "fp8"\n', r"\[build\] precision: one of auto, bf16, fp32, not 'fp8'"),
])
def test_an_invalid_config_is_rejected_with_the_key_and_the_reason(tmp_path, text, message):
    base = "[pretrain]\nmax_steps = 10\n" if "max_steps" not in text and "[pretrain]" not in text else ""
    result = invoke(write(tmp_path, base + text), "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert re.search(message, result.output), result.output
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_bad_overrides_are_one_clear_error(tmp_path):
    result = invoke("--set", "pretrain.max_steps", "-o", tmp_path / "o")
    assert result.exit_code == 1 and "expected KEY=VALUE" in result.output
    result = invoke("--sizes", "tiny,gigantic", "-o", tmp_path / "o")
    assert result.exit_code == 1 and "Unknown size 'gigantic'" in result.output


def test_print_config_is_complete_and_reads_back_the_same(tmp_path):
    result = invoke("--print-config", "--sizes", "tiny", "--set", "pretrain.size.tiny.lr=3e-4")
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)
    assert printed["pretrain"]["size"]["tiny"]["lr"] == 3e-4
    assert printed["clean"]["quality"]["min_words"] == 3  # a default, filled in
    again = read(str(write(tmp_path, result.output)))
    assert resolved_table(again) == resolved_table(read(None, ("pretrain.size.tiny.lr=3e-4",), sizes="tiny"))


def test_the_production_example_is_valid_and_round_trips(tmp_path):
    from macedonizer.buildconfig import configs_dir, to_toml

    config = read(str(configs_dir() / "production.toml"))
    assert config.auto_lr and config.derive and config.build.sizes[-1] == "base"
    again = read(str(write(tmp_path, to_toml(config))))
    assert resolved_table(again) == resolved_table(config)


def test_sizes_narrows_a_config_to_those_sizes_and_their_derived_members():
    from macedonizer.buildconfig import configs_dir

    config = read(str(configs_dir() / "production.toml"), sizes="tiny,base")
    assert list(config.pretrain) == ["tiny", "base"] and [d.name for d in config.derive] == ["base-L8"]
    assert config.pretrain["base"].batch_size == 512  # its own table still applies
    config = read(str(configs_dir() / "production.toml"), sizes="tiny")
    assert list(config.pretrain) == ["tiny"] and config.derive == ()


def test_per_size_tables_override_and_a_size_budget_replaces_the_shared_one():
    config = from_table({
        "build": {"sizes": ["tiny", "mini"]},
        "pretrain": {"lr": 1e-3, "max_steps": 100, "masking": {"rate": 0.2},
                     "size": {"mini": {"lr": 3e-4, "tokens": 5000, "masking": {"whole_word": True}}}},
    })
    tiny, mini = config.pretrain["tiny"], config.pretrain["mini"]
    assert (tiny.lr, tiny.max_steps, tiny.tokens) == (1e-3, 100, None)
    assert (mini.lr, mini.max_steps, mini.tokens) == (3e-4, None, 5000)
    assert mini.masking.rate == 0.2 and mini.masking.whole_word and not tiny.masking.whole_word


def test_local_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "data").mkdir()
    path = write(tmp_path, '[corpus]\ninputs = ["data", "corpus:wikipedia", "hf:org/set"]\n'
                           '[pretrain]\nmax_steps = 1\n')
    config = read(str(path))
    assert config.corpus.inputs == (str(tmp_path / "data"), "corpus:wikipedia", "hf:org/set")


def test_push_without_a_namespace_is_refused(tmp_path):
    config = read(None)
    from macedonizer.build import run

    with pytest.raises(MacedonizerError, match="needs a namespace"):
        run(config, tmp_path / "out", push=True)


# ---------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "out"
    result = invoke(*FAST, "-o", out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_a_build_runs_every_stage_and_writes_loadable_models_and_cards(built):
    out, output = built
    assert ran(output) == {"clean", "tokenizer", *(f"{s} {m}" for m in SIZES for s in ("pretrain", "eval")), "cards"}
    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    for name in MODELS:
        folder = out / "models" / name
        AutoModelForMaskedLM.from_pretrained(folder)
        AutoTokenizer.from_pretrained(folder)
        predictions = pipeline("fill-mask", model=str(folder))("Скопје е главен [MASK] на Македонија.")
        assert len(predictions) == 5
        card = (folder / "README.md").read_text(encoding="utf-8")
        sibling = MODELS[1 - MODELS.index(name)]
        assert "(this model)" in card and f"| {sibling} |" in card  # the card lists its sibling
        guesses = json.loads((folder / "heldout.json").read_text(encoding="utf-8"))["fill_check"]
        assert len(guesses) == 3 and all(len(top) == 5 for top in guesses.values())  # the card's widget sentences
    record = json.loads((out / "build.json").read_text(encoding="utf-8"))
    assert [m["model"] for m in record["models"]] == ["L1/H32", "L2/H32"]
    # The summary table: one row per model with parameters, accuracy against the unigram baseline and the path.
    for name in ("L1/H32", "L2/H32"):
        row = next(line for line in output.splitlines() if line.startswith(name + " "))
        assert "%" in row and str(out / "models") in row
    assert output.count("top 5 guesses for the card's example sentences") == 2
    assert "Скопје е главен [MASK] на Северна Македонија.  →  " in output


def test_a_second_run_does_nothing_and_a_deleted_tokenizer_reruns_only_what_follows(built):
    out, _ = built
    weights = out / "models" / "L1-H32" / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again = invoke(*FAST, "-o", out)
    assert again.exit_code == 0, again.output
    assert ran(again.output) == set() and weights.stat().st_mtime_ns == before
    # How often a run logs, validates and saves is not what it trains: changing it reruns nothing.
    relogged = invoke(*FAST, "--set", "pretrain.log_every=1", "--set", "pretrain.eval_every=3",
                      "--set", "pretrain.size.L1/H32.checkpoint_every=1", "-o", out)
    assert relogged.exit_code == 0, relogged.output
    assert ran(relogged.output) == set() and weights.stat().st_mtime_ns == before

    import shutil

    shutil.rmtree(out / "tokenizer")
    third = invoke(*FAST, "-o", out)
    assert third.exit_code == 0, third.output
    assert stage_lines(third.output)["clean"] == "up to date"
    assert ran(third.output) == {"tokenizer", *(f"{s} {m}" for m in SIZES for s in ("pretrain", "eval")), "cards"}


def test_changing_one_size_reruns_that_size_and_the_cards_only(built):
    out, _ = built
    result = invoke(*FAST, "--set", "pretrain.size.L2/H32.lr=5e-4", "-o", out)
    assert result.exit_code == 0, result.output
    assert ran(result.output) == {"pretrain L2/H32", "eval L2/H32", "cards"}


def test_an_interrupted_pretraining_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_save = pretrain._save_checkpoint

    def save_then_interrupt(folder, state, step, keep):
        path = real_save(folder, state, step, keep)
        if folder.name == "L1-H32" and step == 2:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(pretrain, "_save_checkpoint", save_then_interrupt)
    killed = invoke(*FAST, "-o", out)
    assert killed.exit_code == 130 and "Run the same command again to resume" in killed.output
    assert not (out / "models" / "L1-H32" / "eval.json").exists()
    monkeypatch.setattr(pretrain, "_save_checkpoint", real_save)

    resumed = invoke(*FAST, "-o", out)
    assert resumed.exit_code == 0, resumed.output
    states = stage_lines(resumed.output)
    assert states["clean"] == states["tokenizer"] == "up to date"
    assert states["pretrain L1/H32"] == "resuming"
    metrics = [json.loads(line) for line in (out / "models" / "L1-H32" / "metrics.jsonl").read_text().splitlines()]
    steps = [m["step"] for m in metrics if m["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 4  # continued, not restarted or repeated
    assert json.loads((out / "models" / "L1-H32" / "eval.json").read_text())["steps"] == 4


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
    choice = {"lr": 3e-3, "warmup": 0.25, "variant": "pre-ln", "lr_scaling": "none", "max_grad_norm": 1.0}
    monkeypatch.setattr(sweep, "recommended", lambda out: {**real_recommended(out), "L2/H32": choice})
    monkeypatch.setattr(sweep, "recommended_lr", lambda out, size: choice["lr"])
    out = tmp_path / "out"
    result = invoke(write(tmp_path, AUTO), *FAST, "--sizes", "L1/H32,L2/H32", "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "sweep" / "runs.csv").is_file() and (out / "sweep" / "learnability.png").is_file()
    trained = json.loads((out / "models" / "L2-H32" / "training_config.json").read_text())["train"]
    assert (trained["lr"], trained["warmup"], trained["variant"]) == (3e-3, 0.25, "pre-ln")
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
