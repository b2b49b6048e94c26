"""The build config: checking every key before any work, ``--set`` and ``--sizes``, the resolved TOML."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import pytest

from macedonizer.build.config import configs_dir, from_table, read, resolved_table, to_toml
from tests.build.conftest import invoke, write


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
    config = read(str(configs_dir() / "production.toml"))
    assert config.auto_lr and config.derive and config.build.sizes[-1] == "base"
    again = read(str(write(tmp_path, to_toml(config))))
    assert resolved_table(again) == resolved_table(config)


def test_sizes_narrows_a_config_to_those_sizes_and_their_derived_members():
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


def test_the_build_config_does_not_import_torch():
    code = ("import sys, macedonizer.build.config as c; c.read(None); "
            "c.read(str(c.configs_dir() / 'demo.toml')); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
