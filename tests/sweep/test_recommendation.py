import json

import pytest

from macedonizer import sweep
from macedonizer.errors import MacedonizerError
from macedonizer.sweep.recommendation import recommend


def _outcome(size, lr, outcome, loss, variant="post-ln"):
    return {"size": size, "lr": lr, "warmup": 0.0, "variant": variant, "lr_scaling": "none", "max_grad_norm": 1.0,
            "outcome": outcome, "validation_loss": loss, "unigram_loss": 7.3, "masked_accuracy": 0.1, "steps": 500,
            "name": f"{size}-{variant}-lr{lr}"}


def test_the_recommendation_is_each_sizes_best_learned_run(tmp_path):
    outcomes = [_outcome("tiny", 1e-3, "learned", 6.9), _outcome("tiny", 3e-3, "learned", 6.8),
                _outcome("tiny", 1e-2, "diverged", 9.0), _outcome("mini", 1e-3, "plateau", 7.3),
                _outcome("mini", 1e-2, "learned", 7.0, variant="pre-ln"), _outcome("small", 1e-3, "plateau", 7.4),
                _outcome("small", 3e-3, "undertrained", 7.5)]
    recommendation = recommend(outcomes, ["tiny", "mini", "small"])
    assert recommendation["sizes"]["tiny"]["lr"] == 3e-3 and recommendation["sizes"]["tiny"]["learned_lrs"] == [1e-3, 3e-3]
    assert recommendation["sizes"]["mini"]["variant"] == "pre-ln" and recommendation["sizes"]["mini"]["mask_rate"] == 0.15
    masked = recommend(outcomes + [{**_outcome("tiny", 1e-2, "learned", 6.7), "mask_rate": 0.3}], ["tiny"])
    assert (masked["sizes"]["tiny"]["mask_rate"], masked["sizes"]["tiny"]["learned_lrs"]) == (0.3, [1e-2])
    assert recommendation["unlearned"] == {"small": "1 plateau, 1 undertrained"}
    (tmp_path / "recommended.json").write_text(json.dumps(recommendation), encoding="utf-8")
    assert sweep.recommended_lr(tmp_path, "tiny") == 3e-3
    with pytest.raises(MacedonizerError, match=r"No run of size small learned .*1 plateau, 1 undertrained"):
        sweep.recommended_lr(tmp_path, "small")
    with pytest.raises(MacedonizerError, match="was not in the grid"):
        sweep.recommended_lr(tmp_path, "base")
    with pytest.raises(MacedonizerError, match="run `macedonizer sweep` first"):
        sweep.recommended(tmp_path / "empty")
