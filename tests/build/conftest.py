"""Shared by the build's tests: the command line, a fast chain of two tiny sizes, and one finished build."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from macedonizer.cli import main
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


def write(tmp_path, text: str):
    path = tmp_path / "build.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="package")
def built(tmp_path_factory):
    """The FAST build, run once through the command line: its folder and its output."""
    out = tmp_path_factory.mktemp("build") / "out"
    result = invoke(*FAST, "-o", out)
    assert result.exit_code == 0, result.output
    return out, result.output
