"""Reproducible builds: one config and input, two folders, the same bytes (but for times), no absolute path."""

from __future__ import annotations

import gzip
import json
import os

from tests.build.conftest import FAST, MODELS, invoke
from tests.conftest import REPO, SAMPLE_DIR

TIMES = {"seconds", "started", "finished", "timings_s", "tokens_per_s", "elapsed"}
"""Keys whose values are times or durations: the only things two builds may differ in."""
UNTIMED = {"stamp.json", "state.pt"}
"""The input files' modification times (a cache's check) and a checkpoint's elapsed time: times only."""


def _without_times(value):
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _content(path):
    """A file's bytes; JSON without its times; a card without its training time; a shard decompressed."""
    if path.suffix == ".json":
        return _without_times(json.loads(path.read_text(encoding="utf-8")))
    if path.suffix == ".jsonl":
        return [_without_times(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.name == "README.md":
        return [line for line in path.read_text(encoding="utf-8").splitlines() if "training time" not in line]
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def _files(out):
    """Every file of a build by its path inside it; TensorBoard's logs are named by the clock and left out."""
    return {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*"))
            if p.is_file() and "tensorboard" not in p.parts}


def test_two_builds_in_two_folders_give_the_same_bytes_and_name_no_absolute_path(tmp_path, monkeypatch):
    first = tmp_path / "first" / "out"
    # The input by its absolute path, the build folder by an absolute path …
    absolute = invoke(*FAST, "--set", f'corpus.inputs=["{SAMPLE_DIR}"]', "-o", first)
    assert absolute.exit_code == 0, absolute.output
    # … then, from another working directory, both by relative paths.
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(REPO)
    relative_input = os.path.relpath(SAMPLE_DIR, REPO)
    second_rel = os.path.relpath(tmp_path / "second" / "out", REPO)
    relative = invoke(*FAST, "--set", f'corpus.inputs=["{relative_input}"]', "-o", second_rel)
    assert relative.exit_code == 0, relative.output
    second = tmp_path / "second" / "out"

    a, b = _files(first), _files(second)
    assert set(a) == set(b)
    for must in ("corpus/part-00000.jsonl.gz", "tokenizer/tokenizer.json", "tokenizer/vocab.txt",
                 *(f"models/{m}/model.safetensors" for m in MODELS)):
        assert a[must].read_bytes() == b[must].read_bytes(), must  # byte-identical, gzip header included
    for name in MODELS:
        scores = [json.loads((o / "models" / name / "eval.json").read_text())["validation"] for o in (first, second)]
        assert scores[0] == scores[1] and scores[0]["loss"] > 0
    different = [name for name in a if a[name].name not in UNTIMED and _content(a[name]) != _content(b[name])]
    assert different == []

    folders = [str(first.resolve()), str(second.resolve()), str(SAMPLE_DIR.resolve()), str(REPO), second_rel,
               str(tmp_path)]
    for files in (a, b):
        for name, path in files.items():
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            named = [folder for folder in folders if folder.encode() in data]
            assert named == [], f"{name} names {named}"
