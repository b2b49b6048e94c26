"""macedonizer: from raw Macedonian text to a published family of BERT models."""

__version__ = "0.1.0"
