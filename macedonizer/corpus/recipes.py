"""Corpus recipes: the real corpora a user would clean, as TOML files.

A recipe names a Hugging Face dataset (id, config, split, text field) with
its licence and size, so ``macedonizer clean corpus:wikipedia -o OUT`` needs
no further knowledge. Recipes live in the top-level ``corpora/`` folder,
which is installed with the package as ``macedonizer._corpora``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InputError
from ..specs import HubDatasetSpec


def corpora_dir() -> Path:
    """The folder of bundled recipes and the sample corpus."""
    return Path(str(resources.files("macedonizer._corpora")))


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    dataset: str
    config: str | None
    split: str
    text_field: str
    licence: str
    size: str
    homepage: str
    notes: str = ""

    @property
    def spec(self) -> HubDatasetSpec:
        """The dataset it names (its text field is ``text_field``)."""
        return HubDatasetSpec(self.dataset, self.config, self.split)


def available_recipes() -> list[str]:
    return sorted(p.stem for p in corpora_dir().glob("*.toml"))


def load_recipe(name: str) -> Recipe:
    path = corpora_dir() / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(available_recipes())
        raise InputError(f"Unknown corpus recipe {name!r} (known: {known}).")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    try:
        return Recipe(
            name=name,
            title=data["title"],
            dataset=data["dataset"],
            config=data.get("config"),
            split=data.get("split", "train"),
            text_field=data.get("text_field", "text"),
            licence=data["licence"],
            size=data["size"],
            homepage=data["homepage"],
            notes=data.get("notes", ""),
        )
    except KeyError as exc:
        raise InputError(f"Corpus recipe {path.name} lacks the key {exc.args[0]!r}.") from None
