"""The language filter on real text written by people (../shared/corpora).

These are the acceptance figures of the clean stage: real Macedonian of every
genre is kept, the same sentences in the neighbouring languages are not.
"""

import json

import pytest

from macedonizer.corpus.pipeline import CleanConfig, RunOptions, parse_filters, run

pytestmark = pytest.mark.slow  # see pyproject: `pytest -m "not slow"` leaves it out

LANG_ONLY = CleanConfig(filters=parse_filters("lang"))


def _documents(out):
    return json.loads((out / "report.json").read_text(encoding="utf-8"))["documents"]


def test_real_macedonian_is_kept(shared_corpora, tmp_path):
    files = sorted((shared_corpora / "mk").glob("*.txt"))
    total_in = total_out = 0
    for path in files:
        out = run([str(path)], tmp_path / path.stem, LANG_ONLY, RunOptions(progress=False, workers=2))
        docs = _documents(out)
        assert docs["out"] / docs["in"] >= 0.95, path.name
        total_in += docs["in"]
        total_out += docs["out"]
    assert total_out / total_in >= 0.98


@pytest.mark.parametrize("language", ["bg", "sr", "ru", "uk", "be"])
def test_neighbouring_languages_are_dropped(shared_corpora, tmp_path, language):
    [path] = (shared_corpora / "neighbours").glob(f"{language}.*.txt")
    out = run([str(path)], tmp_path / language, LANG_ONLY, RunOptions(progress=False))
    docs = _documents(out)
    assert docs["out"] / docs["in"] <= 0.02
