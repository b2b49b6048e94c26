import json

import pytest
from click.testing import CliRunner
from huggingface_hub import ModelCard, metadata_load

from macedonizer.cards import render
from macedonizer.cli import main
from macedonizer.corpus.pipeline import CleanConfig, RunOptions, run as clean
from macedonizer.errors import MacedonizerError
from macedonizer.configs import MaskingConfig, RunConfig, TokenizerConfig, TrainConfig
from macedonizer.train.pretrain import run as pretrain
from macedonizer.tokenizer import run as train_tokenizer
from tests.conftest import SAMPLE_DIR


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    root = tmp_path_factory.mktemp("cards")
    corpus = clean([str(SAMPLE_DIR)], root / "corpus", options=RunOptions(progress=False))
    tok = train_tokenizer([str(corpus)], root / "tok", TokenizerConfig(vocab_size=1200), progress=False)
    models = {}
    for size in ("L1/H32", "L2/H64"):
        config = TrainConfig(size=size, seq_len=32, batch_size=4, max_steps=4)
        models[size] = pretrain([str(corpus)], tok, root / "models" / size.replace("/", "-"), config,
                                RunConfig(progress=False, eval_every=2, checkpoint_every=4, log_every=1))
    return root, models


@pytest.fixture(scope="module")
def unfiltered(tmp_path_factory):
    """A model trained on a corpus cleaned with `--filters none`, masking 30%, every one with [MASK]."""
    root = tmp_path_factory.mktemp("cards-unfiltered")
    corpus = clean([str(SAMPLE_DIR)], root / "corpus", CleanConfig(filters=()), RunOptions(progress=False))
    tok = train_tokenizer([str(corpus)], root / "tok", TokenizerConfig(vocab_size=1200), progress=False)
    config = TrainConfig(size="L1/H32", seq_len=32, batch_size=4, max_steps=2,
                         masking=MaskingConfig(rate=0.3, mask_share=1.0, random_share=0.0))
    return pretrain([str(corpus)], tok, root / "models" / "L1-H32", config,
                    RunConfig(progress=False, eval_every=2, checkpoint_every=2, log_every=1))


def test_card_carries_real_numbers_and_parses(family):
    root, models = family
    model = models["L2/H64"]
    path = render(model, repo_id="someone/mk-bert-L2-H64", licence="cc-by-4.0", datasets=("wikimedia/wikipedia",))
    text = path.read_text(encoding="utf-8")
    card = ModelCard.load(path)
    meta = metadata_load(path)
    assert meta["language"] == "mk" and meta["license"] == "cc-by-4.0" and meta["pipeline_tag"] == "fill-mask"
    assert meta["library_name"] == "transformers" and meta["datasets"] == ["wikimedia/wikipedia"]
    assert all("[MASK]" in w["text"] for w in meta["widget"])
    evaluation = json.loads((model / "eval.json").read_text())
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert metrics[0]["value"] == evaluation["validation"]["masked_accuracy"]
    assert card.data.model_name == "mk-bert-L2-H64"
    # The family, the cleaning report and the tokenizer statistics are all there.
    assert "L1-H32" in text and "(this model)" in text and "https://huggingface.co/someone/mk-bert-L1-H32" in text
    assert "not macedonian" in text and "tokens per word" in text and "![Loss curve](loss_curve.png)" in text
    # What the cleaning did, in the report's own numbers; the training settings, from its config.
    report = json.loads((root / "corpus" / "report.json").read_text())
    assert report["drops"]["not_macedonian"]["docs"] > 0  # the sample holds Bulgarian, Serbian and Russian
    assert "with the filters: langid, quality, dedup, near-dedup, pii." in text
    assert (f"scored below 0.5 as Macedonian (against Bulgarian, Serbian, Russian, Ukrainian and Belarusian) were "
            f"filtered out ({report['drops']['not_macedonian']['docs']} documents), and so was text in Latin script "
            f"({report['drops']['latin_script']['docs']} documents)") in text
    assert "15.0% of tokens (single pieces): 80% replaced by `[MASK]`, 10% replaced by a random token, " \
        "10% left unchanged |" in text
    assert f"| precision | {evaluation['precision']} |" in text and "| sequence length | 32 |" in text
    assert "Built together, on the same corpus and tokenizer:" in text
    assert f"{evaluation['tokens']:,}" in text
    assert (model / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # No placeholders, no local paths, no temporary files left.
    assert "More Information Needed" not in text and "{{" not in text
    assert str(root) not in text and "/tmp" not in text
    assert not list(model.glob(".*tmp*"))


def test_a_modern_models_card_names_its_architecture(tok, tmp_path):
    from tests.train.conftest import train_modern

    path = render(train_modern(tok, tmp_path / "models" / "modern"))
    text = path.read_text(encoding="utf-8")
    assert ("| architecture | ModernBERT (`ModernBertForMaskedLM`): pre-LayerNorm, GLU feed-forward, rotary positions, "
            "no biases, global attention in every layer, dropout 0.0 |") in text
    assert "post-LayerNorm" not in text and "modernbert" in metadata_load(path)["tags"]


def test_the_card_states_the_masking_the_model_was_trained_with(unfiltered):
    text = render(unfiltered).read_text(encoding="utf-8")
    assert "| objective | masked-language modelling, 30.0% of tokens (single pieces): 100% replaced by `[MASK]` |" \
        in text
    assert "80%" not in text and "random token" not in text and "unchanged" not in text


def test_a_corpus_cleaned_without_filters_claims_no_language_filtering(unfiltered):
    text = render(unfiltered).read_text(encoding="utf-8")
    assert "with the filters: none (normalisation only)." in text
    assert "No language filter ran when the text was cleaned" in text
    for claim in ("filtered out", "Bulgarian", "Serbian", "Russian", "Latin script", "not macedonian"):
        assert claim not in text, claim


def test_without_a_cleaning_report_the_card_says_nothing_of_filtering(unfiltered, tmp_path):
    saved = (unfiltered / "training_config.json").read_text()
    config = json.loads(saved)
    bare = tmp_path / "bare.txt"
    bare.write_text("Скопје е град.\n", encoding="utf-8")
    config["data"]["inputs"] = [str(bare)]
    (unfiltered / "training_config.json").write_text(json.dumps(config))
    try:
        text = render(unfiltered).read_text(encoding="utf-8")
    finally:
        (unfiltered / "training_config.json").write_text(saved)
    assert "from: bare.txt." in text and "macedonizer clean" not in text
    assert "filter" not in text and "Bulgarian" not in text


def test_the_tokenizer_section_follows_the_saved_tokenizer(unfiltered, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(unfiltered, model, ignore=shutil.ignore_patterns("checkpoints", "tensorboard"))
    text = render(model).read_text(encoding="utf-8")
    assert "WordPiece, 1,200 tokens, cased" in text and "accents are not stripped" in text
    tokenizer = json.loads((model / "tokenizer.json").read_text())
    tokenizer["normalizer"].update(strip_accents=True, lowercase=True)
    (model / "tokenizer.json").write_text(json.dumps(tokenizer))
    text = render(model).read_text(encoding="utf-8")
    assert "WordPiece, 1,200 tokens, uncased" in text and "normaliser strips accents" in text
    assert "accents are not stripped" not in text


def test_a_model_that_did_not_learn_says_so(family):
    _, models = family
    model = models["L1/H32"]
    evaluation = json.loads((model / "eval.json").read_text())
    evaluation["validation"]["masked_accuracy"] = evaluation["validation"]["unigram_accuracy"]
    (model / "eval.json").write_text(json.dumps(evaluation))
    text = render(model).read_text(encoding="utf-8")
    assert "**This model did not learn**" in text and "**Verdict: untrained**" in text
    assert "| n-gram baseline |" in text and "every scored token replaced by the mask token" in text
    # The card follows the one verdict: the same model, as if it beat the n-gram baseline beyond noise.
    validation = evaluation["validation"]
    validation.update(loss=1.0, masked_accuracy=0.9, ngram_loss=3.0, ngram_accuracy=0.3, loss_vs_ngram_se=0.01,
                      accuracy_vs_ngram_se=0.01, loss_vs_unigram_se=0.01, accuracy_vs_unigram_se=0.01)
    (model / "eval.json").write_text(json.dumps(evaluation))
    text = render(model).read_text(encoding="utf-8")
    assert "**Verdict: learned**" in text and "did not learn" not in text


def test_bad_input(family, tmp_path):
    _, models = family
    model = models["L2/H64"]
    with pytest.raises(MacedonizerError, match="Unknown licence"):
        render(model, licence="Apache License")
    with pytest.raises(MacedonizerError, match="Invalid repo id"):
        render(model, repo_id="not a repo")
    with pytest.raises(MacedonizerError, match="not a model trained by"):
        render(tmp_path)
    result = CliRunner().invoke(main, ["card", str(model)])
    assert result.exit_code == 0 and result.output.startswith("Card: ")


def _downstream_record(accuracy: float) -> dict:
    """A downstream.json as the build's downstream stage writes it."""
    score = {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "words": 400}
    return {"task": "upos", "train": "mk-train.conllu", "test": "mk-test.conllu", "split": "test", "words": 400,
            "labels": 17, "scores": {"model": score, "most_frequent_tag": {**score, "accuracy": 0.8125},
                                     "random_init": {**score, "accuracy": 0.6875}}}


def test_downstream_scores_make_a_section_a_family_column_and_model_index_entries(family, tmp_path):
    import shutil

    root, _ = family
    models = tmp_path / "models"
    shutil.copytree(root / "models", models, ignore=shutil.ignore_patterns("checkpoints", "tensorboard"))
    before = render(models / "L2-H64").read_text(encoding="utf-8")
    assert "## Downstream" not in before and "UPOS accuracy" not in before
    (models / "L2-H64" / "downstream.json").write_text(json.dumps(_downstream_record(0.9375)))
    path = render(models / "L2-H64")
    text = path.read_text(encoding="utf-8")
    assert "## Downstream" in text and "`mk-train.conllu`" in text and "`mk-test.conllu` (test, 400 words" in text
    assert "| this model, fine-tuned | 93.8% | 83.8% |" in text
    assert "| most frequent tag | 81.2% |" in text and "| random init, fine-tuned | 68.8% |" in text
    # The family table: a column, filled for the member with scores, a dash for the other.
    assert "| verdict | UPOS accuracy |" in text
    rows = {line.split(" |")[0]: line for line in text.splitlines() if line.startswith("| L")}
    assert rows["| L2-H64 (this model)"].endswith("| 93.8% |") and rows["| L1-H32"].endswith("| – |")
    results = ModelCard.load(path).data.eval_results
    tagging = [r for r in results if r.task_type == "token-classification"]
    assert [(r.metric_type, r.metric_value, r.dataset_name, r.dataset_split) for r in tagging] == [
        ("accuracy", 0.9375, "mk-test.conllu", "test"), ("f1", 0.8375, "mk-test.conllu", "test")]
    assert [r.task_type for r in results].count("fill-mask") == 2  # the masked-LM entries stay
    # The sibling's card shows the column too, though it has no section of its own.
    sibling = render(models / "L1-H32").read_text(encoding="utf-8")
    assert "UPOS accuracy" not in sibling and "| downstream accuracy |" in sibling and "## Downstream" not in sibling
