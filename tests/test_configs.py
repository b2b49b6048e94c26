"""The config dataclasses check themselves: Python, the command line and TOML fail alike, before any work."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from macedonizer.build import config as buildconfig
from macedonizer.cli import main
from macedonizer.configs import (BUDGET_KEYS, DEFAULT_MAX_STEPS, RECIPES, SPDX_LICENCES, ConfigError, MaskingConfig,
                                 RunConfig, TokenizerConfig, TrainConfig, check_licence, check_repo_id,
                                 keep_one_budget, resolve_size)

BAD_TRAINING = [  # (field, value, what the one sentence says)
    ("schedule", "cosin", r"schedule: one of linear, cosine, not 'cosin'"),
    ("variant", "post", r"variant: one of post-ln, pre-ln"),
    ("init", "xavier", r"init: one of local, bert"),
    ("size", "huge", r"Unknown size 'huge'"),
    ("seq_len", 1024, r"seq_len: must be in \[8, 512\]"),
    ("warmup", 1.0, r"warmup: must be in \[0, 1\)"),
    ("lr", 0.0, r"lr: must be a positive number"),
]


@pytest.mark.parametrize("field, value, message", BAD_TRAINING)
def test_a_bad_training_setting_fails_the_same_from_python_the_cli_and_toml(field, value, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})

    option = {"size": "--size", "seq_len": "--seq-len"}.get(field, "--" + field.replace("_", "-"))
    result = CliRunner().invoke(main, ["pretrain", "--data", "x.txt", "--tokenizer", str(tmp_path), "-o",
                                       str(tmp_path / "out"), option, str(value)])
    if field in ("schedule", "variant", "init"):  # offered as choices: click refuses them itself
        assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output
    else:
        assert result.exit_code == 1 and result.output.startswith("Error: ")
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing was started

    toml = tmp_path / "build.toml"
    key = {"size": None}.get(field, field)
    body = f'[build]\nsizes = ["{value}"]\n' if key is None else f"[pretrain]\n{key} = {value!r}\n".replace("'", '"')
    with pytest.raises(ConfigError, match=message):
        buildconfig.read(str(toml.write_text(body, encoding="utf-8") and toml))


def test_budgets_one_rule():
    assert TrainConfig().max_steps == DEFAULT_MAX_STEPS  # none given: the default
    assert TrainConfig(tokens=4096, seq_len=32, batch_size=4).steps() == 32
    assert TrainConfig(time_s=60.0).steps() is None
    with pytest.raises(ConfigError, match="exactly one budget.*found max_steps, tokens"):
        TrainConfig(max_steps=10, tokens=100)
    assert keep_one_budget({"max_steps": 5, "lr": 1}, {"tokens": 9}) == {"lr": 1}
    assert keep_one_budget({"max_steps": 5, "lr": 1}, {"lr": 2}) == {"max_steps": 5, "lr": 1}
    assert set(BUDGET_KEYS) == {"max_steps", "tokens", "time_s"}


def test_a_size_recipe_fills_what_is_not_given():
    config = TrainConfig.for_size("mini", lr=None, dropout=0.2)
    assert config.lr == RECIPES["mini"].lr and config.variant == RECIPES["mini"].variant and config.dropout == 0.2
    assert resolve_size("L3/H96").layers == 3 and resolve_size("L3/H96").heads == 1


def test_masking_and_run_settings_check_themselves():
    with pytest.raises(ConfigError, match="mask_share \\+ random_share"):
        MaskingConfig(mask_share=0.8, random_share=0.3)
    with pytest.raises(ConfigError, match="precision: one of auto, bf16, fp32"):
        RunConfig(precision="fp8")
    with pytest.raises(ConfigError, match="log_every: must be at least 1"):
        RunConfig(log_every=0)
    with pytest.raises(ConfigError, match="min_frequency: must be at least 1"):
        TokenizerConfig(min_frequency=0)


def test_one_licence_list_and_one_repo_id_check(tmp_path):
    assert check_licence("Apache-2.0") == "apache-2.0" and "cc-by-sa-4.0" in SPDX_LICENCES
    with pytest.raises(ConfigError, match="Unknown licence 'proprietary'"):
        check_licence("proprietary")
    assert check_repo_id("my-org/mk-bert.tiny_1") == "my-org/mk-bert.tiny_1"
    for bad in ("no-namespace", "a/b/c", "org/bad--name", "org/name.", "org/" + "x" * 100, "org/with space"):
        with pytest.raises(ConfigError, match="Invalid repo id"):
            check_repo_id(bad)
    # The same checks reach the card command, the push command and a build config, before any work.
    runner = CliRunner()
    card = runner.invoke(main, ["card", str(tmp_path), "--license", "proprietary"])
    assert card.exit_code == 1 and "Unknown licence 'proprietary'" in card.output
    push = runner.invoke(main, ["push", str(tmp_path), "org/bad--name"])
    assert push.exit_code == 1 and "Invalid repo id 'org/bad--name'" in push.output
    toml = tmp_path / "build.toml"
    toml.write_text('[push]\nnamespace = "org"\npattern = "{namespace}/mk--{size}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="Invalid repo id 'org/mk--tiny'"):
        buildconfig.read(str(toml))
    toml.write_text('[card]\nlicense = "proprietary"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[card\] license: Unknown licence"):
        buildconfig.read(str(toml))


def test_the_config_module_does_not_import_torch():
    code = "import sys, macedonizer, macedonizer.configs, macedonizer.fields; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
