"""Input specs: every way to name an input, parsed in one place.

An input is a local file, folder or glob (:class:`LocalSpec`), a Hugging
Face dataset as ``hf:ID[:CONFIG[:SPLIT]]`` (:class:`HubDatasetSpec`,
streamed, never downloaded whole) or a bundled corpus recipe as
``corpus:NAME`` (:class:`RecipeSpec`; ``corpus:sample`` is the offline
sample corpus). :func:`parse` reads the string alone: whether a file exists
or a recipe is known is found out by whoever reads the input
(``corpus.readers``), which raises :class:`~macedonizer.errors.InputError`.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

HUB_PREFIX = "hf:"
RECIPE_PREFIX = "corpus:"
SAMPLE_RECIPE = "sample"
"""``corpus:sample``: the bundled sample corpus (CC0), a folder of files rather than a dataset."""
_RECIPE_NAME = re.compile(r"[\w-]+")


@dataclass(frozen=True)
class LocalSpec:
    """A file, a folder or a glob on this machine."""

    path: str

    @property
    def is_glob(self) -> bool:
        return glob.has_magic(self.path)

    def relative_to(self, base: str | os.PathLike | None) -> LocalSpec:
        """This path seen from ``base`` (the folder of the config that names it); absolute paths stay."""
        if base is None or Path(self.path).is_absolute():
            return self
        return LocalSpec(str(Path(base) / self.path))

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class HubDatasetSpec:
    """``hf:ID[:CONFIG[:SPLIT]]``: a dataset on the Hub (or a folder ``datasets`` can load)."""

    id: str
    config: str | None = None
    split: str = "train"

    def relative_to(self, base: str | os.PathLike | None) -> HubDatasetSpec:
        """Itself: a dataset id is the same from every folder."""
        return self

    def __str__(self) -> str:
        split = "" if self.split == "train" else self.split
        return HUB_PREFIX + ":".join((self.id, self.config or "", split)).rstrip(":")


@dataclass(frozen=True)
class RecipeSpec:
    """``corpus:NAME``: a bundled recipe (``corpora/NAME.toml``), or the sample corpus."""

    name: str

    @property
    def is_sample(self) -> bool:
        return self.name == SAMPLE_RECIPE

    def relative_to(self, base: str | os.PathLike | None) -> RecipeSpec:
        """Itself: a recipe is named, not found relative to a folder."""
        return self

    def __str__(self) -> str:
        return RECIPE_PREFIX + self.name


Spec = LocalSpec | HubDatasetSpec | RecipeSpec


def parse(text: str) -> Spec:
    """The spec a string names; :class:`ConfigError` (one sentence) when it is malformed."""
    if text.startswith(HUB_PREFIX):
        parts = text[len(HUB_PREFIX):].split(":")
        if not parts[0] or len(parts) > 3:
            raise ConfigError(f"Invalid dataset spec {text!r}: expected hf:ID[:CONFIG[:SPLIT]].")
        config = parts[1] if len(parts) > 1 and parts[1] else None
        split = parts[2] if len(parts) > 2 and parts[2] else "train"
        return HubDatasetSpec(parts[0], config, split)
    if text.startswith(RECIPE_PREFIX):
        name = text[len(RECIPE_PREFIX):]
        if not _RECIPE_NAME.fullmatch(name):
            raise ConfigError(f"Invalid recipe spec {text!r}: expected corpus:NAME (see `macedonizer corpora`).")
        return RecipeSpec(name)
    if not text:
        raise ConfigError("An input is empty: name a file, folder, glob, hf:ID or corpus:NAME.")
    return LocalSpec(text)


def portable(text: str) -> str:
    """How an output names an input: a local path by its last part (never a folder of this machine, so that
    the same input named by an absolute or a relative path reads alike), ``hf:`` and ``corpus:`` as given."""
    spec = parse(text)
    if not isinstance(spec, LocalSpec):
        return str(spec)
    return Path(spec.path).name or Path(spec.path).resolve().name
