"""``macedonizer sweep``'s early-stopping and masking options: mistakes end in one sentence before any training."""

import pytest
from click.testing import CliRunner

from macedonizer.cli import main
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")


@pytest.mark.parametrize("options, message", [
    (["--early-stop", "pruning"], "Error: early_stop: one of halving, rules, not 'pruning'."),
    (["--mask-rate", "0.15,0.95"], "Error: masking rate: must be in [0.01, 0.9], got 0.95."),
    (["--early-stop", "halving", "--min-share", "1.5"], "Error: min_share: must be in [0, 1), got 1.5."),
    (["--fidelity", "FULL"], "Error: --fidelity compares against early stopping: give --early-stop too."),
    (["--early-stop", "halving", "--fidelity", "OUT"],
     "Error: --fidelity needs a folder of its own for the full grid, not OUT."),
])
def test_a_bad_early_stopping_option_is_one_sentence(tmp_path, options, message):
    out = tmp_path / "out"
    options = [str(out) if o == "OUT" else str(tmp_path / "full") if o == "FULL" else o for o in options]
    result = CliRunner().invoke(main, ["sweep", "--data", SAMPLE, "--tokenizer", str(tmp_path), "-o", str(out),
                                       *options])
    assert result.exit_code == 1 and result.output.strip() == message
    assert not out.exists() and not (tmp_path / "full").exists()


def test_early_stop_none_is_no_early_stopping(monkeypatch, tmp_path):
    from macedonizer import sweep

    seen = {}
    monkeypatch.setattr(sweep, "run", lambda data, tok, out, config, **kw: seen.update(config=config, **kw) or out)
    monkeypatch.setattr(sweep, "recommended", lambda out: {})
    result = CliRunner().invoke(main, ["sweep", "--data", SAMPLE, "--tokenizer", str(tmp_path), "-o",
                                       str(tmp_path / "o"), "--early-stop", "none", "--mask-rate", "0.15,0.3",
                                       "--resume-stopped", "--eta", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert seen["config"].early_stop == () and seen["config"].mask_rates == (0.15, 0.3) and seen["resume_stopped"]
    assert seen["config"].eta == 2
