"""macedonizer: from raw Macedonian text to a published family of BERT models."""

__version__ = "0.1.0"

__all__ = ["FillMask", "__version__"]


def __getattr__(name: str):
    # Imported on first use: `import macedonizer` must not load torch.
    if name == "FillMask":
        from .inference import FillMask

        return FillMask
    raise AttributeError(f"module 'macedonizer' has no attribute {name!r}")
