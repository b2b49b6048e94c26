import pytest
from click.testing import CliRunner

from macedonizer import sweep
from macedonizer.build.config import from_table as build_config
from macedonizer.cli import main
from macedonizer.configs import VARIANTS
from macedonizer.errors import ConfigError, MacedonizerError
from macedonizer.sweep import SweepConfig
from tests.sweep.conftest import SAMPLE


UNKNOWN_VARIANT = f"variants: one of {', '.join(VARIANTS)}, not 'mid-ln'"  # the variants are configs.VARIANTS


def test_bad_settings_are_one_sentence(tok, tmp_path):
    with pytest.raises(MacedonizerError, match=UNKNOWN_VARIANT):
        sweep.run([SAMPLE], tok, tmp_path / "a", SweepConfig(variants=("mid-ln",)), progress=False)
    with pytest.raises(MacedonizerError, match="Unknown size"):
        sweep.run([SAMPLE], tok, tmp_path / "a", SweepConfig(sizes=("huge",)), progress=False)
    result = CliRunner().invoke(main, ["sweep", "--data", SAMPLE, "--tokenizer", str(tok), "-o", str(tmp_path / "a"),
                                       "--variant", "post-ln,mid-ln", "--lr", "1e-3,3e-3"])
    assert result.exit_code == 1 and result.output.startswith(f"Error: {UNKNOWN_VARIANT}")
    (tmp_path / "s.toml").write_text('lrs = [1e-3]\nlayers = 3\n')
    with pytest.raises(MacedonizerError, match="unknown key 'layers'"):
        SweepConfig.load(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text('lrs = [1e-3]\nsizes = ["tiny"]\n')
    assert SweepConfig.load(tmp_path / "s.toml", tokens=1000, lrs=None) == SweepConfig(
        lrs=(1e-3,), sizes=("tiny",), steps=None, tokens=1000)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("settings, message", [
    ({"lrs": (1e-3, 0.0)}, r"^lrs: every learning rate must be a number above 0, got 0\.0\.$"),
    ({"warmups": (1.0,)}, r"^warmups: must be in \[0, 1\), got 1\.0\.$"),
    ({"max_grad_norms": (0,)}, r"^max_grad_norms: every clipping norm must be above 0"),
    ({"lr_scalings": ("sqrt",)}, r"^lr_scalings: one of none, mup, not 'sqrt'\.$"),
    ({"sizes": "tiny"}, r"^Sweep setting sizes must be a non-empty list\.$"),
    ({"warmups": ()}, r"^Sweep setting warmups must be a non-empty list\.$"),
    ({"steps": 100, "tokens": 1000}, r"^Give exactly one budget of steps, tokens \(found steps, tokens\)\.$"),
    ({"steps": 0}, r"^steps: must be at least 1, got 0\.$"),
    ({"seq_len": 4}, r"^seq_len: must be in \[8, 512\], got 4\.$"),
    ({"workers": 0}, r"^workers: must be at least 1, got 0\.$"),
    ({"diagnostics_every": -1}, r"^diagnostics_every: must be at least 0, got -1\.$"),
    ({"mask_rates": (0.15, 1.0)}, r"^masking rate: must be in \[0\.01, 0\.9\], got 1\.0\.$"),
    ({"mask_rates": ("high",)}, r"^mask_rates: every masking rate must be a number, got 'high'\.$"),
    ({"early_stop": ("halving", "hyperband")}, r"^early_stop: one of halving, rules, not 'hyperband'\.$"),
    ({"eta": 1}, r"^eta: must be a whole number of at least 2, got 1\.$"),
    ({"min_share": 0.0}, r"^min_share: must be above 0, got 0\.0\.$"),
    ({"halve_per": "lr"}, r"^halve_per: one of size, variant, not 'lr'\.$"),
])
def test_a_sweep_config_checks_itself(settings, message):
    with pytest.raises(ConfigError, match=message):
        SweepConfig(**settings)


def test_python_toml_and_the_build_config_fail_alike(tmp_path):
    with pytest.raises(ConfigError, match=r"^warmups: must be in \[0, 1\)"):
        SweepConfig(warmups=(0.0, 1.5))
    (tmp_path / "s.toml").write_text("warmups = [0.0, 1.5]\n")
    with pytest.raises(ConfigError, match=r"s\.toml: \[sweep\] warmups: must be in \[0, 1\)"):
        SweepConfig.load(tmp_path / "s.toml")
    table = {"pretrain": {"lr": "auto", "max_steps": 10}, "sweep": {"warmups": [0.0, 1.5]}}
    with pytest.raises(ConfigError, match=r"^b\.toml: \[sweep\] warmups: must be in \[0, 1\)"):
        build_config(table, "b.toml")
    with pytest.raises(ConfigError, match=r"^b\.toml: \[sweep\] lrs: expected a list of .*numbers, got 'fast'"):
        build_config({**table, "sweep": {"lrs": "fast"}}, "b.toml")


def test_a_budget_given_as_an_override_replaces_the_tables():
    assert SweepConfig().steps == 300 and SweepConfig(tokens=1000).steps is None
    from_file = {"steps": 50, "lrs": [1e-3]}
    assert SweepConfig.from_table(from_file, "s.toml", tokens=1000).budget()["steps"] is None
    assert SweepConfig.from_table({"tokens": 1000}, "s.toml", steps=20).budget()["tokens"] is None
    assert SweepConfig.from_table({"tokens": 1000}, "s.toml").steps is None  # no default steps beside it
    assert SweepConfig.from_table(from_file, "s.toml", sizes=("tiny",), lrs=None).lrs == (1e-3,)
    config = build_config({"pretrain": {"lr": "auto", "max_steps": 10}, "sweep": {"tokens": 5000}}, "b.toml")
    assert SweepConfig.from_table(config.sweep, config.source) == SweepConfig(tokens=5000)


def test_the_masking_rate_is_a_grid_axis_whose_runs_train_at_it():
    config = SweepConfig(sizes=("tiny",), lrs=(1e-3,), warmups=(0.0,), mask_rates=(0.15, 0.3))
    points = config.points()
    assert [p.name for p in points] == ["tiny-post-ln-wu0-lr0.001", "tiny-post-ln-mask0.3-wu0-lr0.001"]
    assert [p.train_config(config).masking.rate for p in points] == [0.15, 0.3]
    assert SweepConfig.load(None, early_stop="halving").early_stop == ("halving",)
