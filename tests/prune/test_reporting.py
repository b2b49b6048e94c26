import json

import pytest
from click.testing import CliRunner

from macedonizer.cli import main
from macedonizer.train.evaluate import evaluate_text


def test_report_writes_json_png_and_a_table(parent, tmp_path):
    parent_dir, _ = parent
    text = tmp_path / "held-out.txt"
    text.write_text("Утре ќе одам на пазар со мајка ми.\nВладата денес го усвои буџетот за следната година.\n"
                    "Охридското Езеро е едно од најстарите езера во Европа.\n", encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["prune", str(parent_dir), "--report", "-o", str(out), "--text", str(text),
                                       "--sparsities", "0.5,0.9", "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "prune_report.json").read_text())
    assert data["parent"]["layers"] == 4 and data["texts"] == ["held-out.txt"]
    assert data["parent"]["scores"] == evaluate_text(parent_dir, [str(text)])["held-out.txt"]  # as `eval` scores it
    assert [(r["strategy"], r["layers_kept"]) for r in data["layers"]] == [
        ("top", 3), ("top", 2), ("top", 1), ("bottom", 3), ("bottom", 2), ("bottom", 1), ("alternate", 3),
        ("alternate", 2), ("symmetric", 3), ("symmetric", 2), ("symmetric", 1)]
    assert [(r["scope"], r["sparsity"]) for r in data["sparsity"]] == [
        ("global", 0.5), ("global", 0.9), ("layer", 0.5), ("layer", 0.9)]
    for row in data["layers"] + data["sparsity"]:
        assert {"method", "loss", "masked_accuracy", "retained_accuracy"} <= set(row)
    assert all(r["achieved"] == pytest.approx(r["sparsity"], abs=1e-3) for r in data["sparsity"])
    assert (out / "prune_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = CliRunner().invoke(main, ["prune", str(parent_dir), "--report", "-o", str(out), "--text", str(text),
                                        "--sparsities", "0.5", "--overwrite"])
    assert printed.exit_code == 0 and "layers kept" in printed.output and "retained" in printed.output

