"""Corpus recipes and the bundled sample corpus, installed as macedonizer._corpora (data only)."""
