"""Input specs: each kind parsed from its string, malformed ones refused in one sentence."""

from pathlib import Path

import pytest

from macedonizer.build.stages import file_identity
from macedonizer.cards import _source
from macedonizer.corpus.readers import resolve_inputs
from macedonizer.errors import ConfigError, InputError
from macedonizer.specs import HubDatasetSpec, LocalSpec, RecipeSpec, parse


def test_paths_globs_and_folders_are_local(tmp_path):
    assert parse("data/a.txt") == LocalSpec("data/a.txt") and not parse("data/a.txt").is_glob
    assert parse("dump/**/*.jsonl.gz").is_glob
    assert parse(str(tmp_path)) == LocalSpec(str(tmp_path))
    assert parse("nota:scheme") == LocalSpec("nota:scheme")  # only hf: and corpus: are specs
    assert parse("data").relative_to(tmp_path) == LocalSpec(str(tmp_path / "data"))
    assert parse("/abs/data").relative_to(tmp_path) == LocalSpec("/abs/data")
    assert parse("data").relative_to(None) == LocalSpec("data")
    assert str(parse("data/*.txt")) == "data/*.txt"


@pytest.mark.parametrize("text, spec", [
    ("hf:org/set", HubDatasetSpec("org/set")),
    ("hf:wikimedia/wikipedia:20231101.mk", HubDatasetSpec("wikimedia/wikipedia", "20231101.mk")),
    ("hf:org/set:cfg:validation", HubDatasetSpec("org/set", "cfg", "validation")),
    ("hf:org/set::test", HubDatasetSpec("org/set", None, "test")),
    ("hf:org/set:", HubDatasetSpec("org/set")),
])
def test_hub_datasets(text, spec, tmp_path):
    assert parse(text) == spec
    assert parse(str(spec)) == spec  # the canonical spelling names the same dataset
    assert spec.relative_to(tmp_path) is spec


def test_recipes():
    assert parse("corpus:wikipedia") == RecipeSpec("wikipedia")
    assert not RecipeSpec("wikipedia").is_sample and RecipeSpec("sample").is_sample
    assert str(parse("corpus:fineweb2")) == "corpus:fineweb2"
    assert parse("corpus:wikipedia").relative_to(Path("/x")) == RecipeSpec("wikipedia")


@pytest.mark.parametrize("text, says", [
    ("hf:", "Invalid dataset spec 'hf:': expected hf:ID[:CONFIG[:SPLIT]]."),
    ("hf::cfg", "Invalid dataset spec"),
    ("hf:a/b:c:d:e", "Invalid dataset spec"),
    ("corpus:", "Invalid recipe spec 'corpus:': expected corpus:NAME"),
    ("corpus:../secrets", "Invalid recipe spec"),
    ("corpus:a:b", "Invalid recipe spec"),
    ("", "An input is empty"),
])
def test_malformed_specs_are_config_errors(text, says):
    with pytest.raises(ConfigError, match=says.replace("[", r"\[").replace("]", r"\]")) as info:
        parse(text)
    assert str(info.value).count(".") >= 1 and "\n" not in str(info.value)


def test_readers_raise_input_errors_for_what_is_missing(tmp_path):
    with pytest.raises(InputError, match="Input not found"):
        resolve_inputs([str(tmp_path / "nope.txt")])
    with pytest.raises(InputError, match="Unknown corpus recipe 'nope'"):
        resolve_inputs(["corpus:nope"])
    with pytest.raises(ConfigError, match="Invalid recipe spec"):
        resolve_inputs(["corpus:../nope"])
    sources, _ = resolve_inputs(["corpus:sample"])
    assert sources and all(s.kind in ("txt", "jsonl") for s in sources)


def test_cards_and_fingerprints_read_the_same_specs(tmp_path):
    assert _source("hf:org/set:cfg") == ("org/set", "org/set")
    assert _source("corpus:wikipedia") == ("Macedonian Wikipedia (2023-11-01 dump)", "wikimedia/wikipedia")
    assert _source("corpus:sample") == ("corpus:sample", None)
    assert _source(str(tmp_path / "private" / "a.txt")) == ("a.txt", None)  # never a local path
    local = tmp_path / "a.txt"
    local.write_text("x")
    identity = file_identity(["hf:org/set", "corpus:sample", str(local), str(tmp_path / "missing.txt")])
    # Local inputs are named by their last part, never by a folder of this machine.
    assert identity[:2] == ["hf:org/set", "corpus:sample"] and identity[3] == "missing.txt"
    assert identity[2][:3] == ["a.txt", "", 1]
