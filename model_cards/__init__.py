"""Jinja2 templates of the model cards, installed as macedonizer._model_cards (data only)."""
