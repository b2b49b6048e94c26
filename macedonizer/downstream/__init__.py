"""Downstream tasks: is a pretrained model useful? Fine-tuning, evaluation and the baselines to beat.

``conllu`` reads tagged sentences; ``tagging`` turns words into first-piece
labels and the model's pieces back into one tag per word; ``scoring`` holds
the scores and the most-frequent-tag baseline; ``finetune`` is the stage
(``run(config, model, train, out, dev)``); ``evaluate`` scores a fine-tuned
folder and its baselines on a test file; ``report`` writes scores.json and
the card.
"""
