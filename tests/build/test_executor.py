"""Running a build: every stage once, skipping what is up to date, resuming, and the results it returns."""

from __future__ import annotations

import json
import shutil

import pytest

from macedonizer.build import executor, read
from macedonizer.build.executor import (DONE, RESUMING, RUNNING, UP_TO_DATE, BuildResult, Manifests, StageRecord,
                                        execute, summarise)
from macedonizer.build.report import stage_line, summary
from macedonizer.build.stages import Build, Outcome, Stage
from macedonizer.errors import MacedonizerError
from macedonizer.train import loop
from tests.build.conftest import FAST, MODELS, SIZES, invoke, ran, stage_lines

# ---------------------------------------------------------------- the loop, on stages that do nothing


class Chain:
    """Two stubbed stages, b after a; ``keys`` and ``interrupt`` steer them, ``calls`` records their runs."""

    def __init__(self):
        self.keys = {"a": 1, "b": 1}
        self.calls: list[tuple[str, bool]] = []
        self.interrupt = None

    def stage(self, name: str, after: tuple[str, ...] = ()) -> Stage:
        def work(resume: bool) -> Outcome:
            self.calls.append((name, resume))
            if self.interrupt == name:
                raise KeyboardInterrupt
            return Outcome(f"{name} made")
        return Stage(name, lambda: {"k": self.keys[name]}, after, lambda: True, work, resumable=True)

    def run(self, manifests: Manifests, force: bool = False) -> tuple[list[StageRecord], list]:
        events = []
        self.calls.clear()
        records = execute([self.stage("a"), self.stage("b", ("a",))], manifests, force=force,
                          on_event=events.append)
        return records, events


def test_execute_runs_skips_reruns_what_follows_and_resumes(tmp_path):
    chain, manifests = Chain(), Manifests(tmp_path / "manifests")
    records, events = chain.run(manifests)
    assert records == [StageRecord("a", True, records[0].seconds), StageRecord("b", True, records[1].seconds)]
    assert [(e.name, e.state) for e in events] == [("a", RUNNING), ("a", DONE), ("b", RUNNING), ("b", DONE)]
    assert events[1].outcome == Outcome("a made") and manifests.get("a")["result"] == "a made"
    assert chain.run(manifests)[0] == [StageRecord("a", False, 0.0), StageRecord("b", False, 0.0)]
    chain.keys["a"] = 2  # a changes: b, after it, runs again
    assert chain.run(manifests)[0][1].ran and chain.calls == [("a", False), ("b", False)]
    chain.run(manifests, force=True)
    assert chain.calls == [("a", False), ("b", False)]
    chain.interrupt = "b"
    with pytest.raises(KeyboardInterrupt):
        chain.run(manifests, force=True)
    assert manifests.get("b")["status"] == "running"
    chain.interrupt = None
    _, events = chain.run(manifests)
    assert chain.calls == [("b", True)] and [e.state for e in events] == [UP_TO_DATE, RESUMING, DONE]


def test_stage_lines_align_and_say_the_outcome(tmp_path):
    _, events = Chain().run(Manifests(tmp_path))
    assert stage_line(events[0]) == "[1/2] a  running"
    assert stage_line(events[3]).startswith("[2/2] b  done in ") and stage_line(events[3]).endswith("s: b made")


def test_a_push_url_is_read_from_the_push_manifest_not_guessed_from_the_result(tmp_path):
    config = read(None)
    build = Build(config, tmp_path, push=True)
    manifests = Manifests(build.manifests_dir)
    manifests.write("push tiny", {"status": "done", "result": "https://hub/x/mk-bert-tiny",
                                  "url": "https://hub/x/mk-bert-tiny"})
    manifests.write("push mini", {"status": "done", "result": "https://not a url", "url": None})
    rows = summarise(build, manifests)
    assert [(r.model, r.hub) for r in rows] == [("tiny", "https://hub/x/mk-bert-tiny"), ("mini", None)]
    assert rows[0].accuracy is None and rows[0].verdict
    text = summary(BuildResult(config={}, stages=[], models=rows, seconds=75.0, finished="now"))
    assert "https://hub/x/mk-bert-tiny" in text and "Build finished in 1m15s." in text


def test_push_without_a_namespace_is_refused(tmp_path):
    with pytest.raises(MacedonizerError, match="needs a namespace"):
        executor.run(read(None), tmp_path / "out", push=True)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the whole chain


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
    assert record["stages"][0] == {"stage": "clean", "ran": True, "seconds": record["stages"][0]["seconds"]}
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
    real_save = loop.save_checkpoint

    def save_then_interrupt(folder, state, step, keep):
        path = real_save(folder, state, step, keep)
        if folder.name == "L1-H32" and step == 2:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(loop, "save_checkpoint", save_then_interrupt)
    killed = invoke(*FAST, "-o", out)
    assert killed.exit_code == 130 and "Run the same command again to resume" in killed.output
    assert not (out / "models" / "L1-H32" / "eval.json").exists()
    monkeypatch.setattr(loop, "save_checkpoint", real_save)

    resumed = invoke(*FAST, "-o", out)
    assert resumed.exit_code == 0, resumed.output
    states = stage_lines(resumed.output)
    assert states["clean"] == states["tokenizer"] == "up to date"
    assert states["pretrain L1/H32"] == "resuming"
    metrics = [json.loads(line) for line in (out / "models" / "L1-H32" / "metrics.jsonl").read_text().splitlines()]
    steps = [m["step"] for m in metrics if m["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 4  # continued, not restarted or repeated
    assert json.loads((out / "models" / "L1-H32" / "eval.json").read_text())["steps"] == 4
