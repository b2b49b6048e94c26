"""push → pull → fill over real HTTP against a Hub-compatible server on 127.0.0.1."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from huggingface_hub import errors as hf_errors

from macedonizer import FillMask
from macedonizer.cards import render
from macedonizer.cli import main
from macedonizer.errors import ConfigError, HubError, InputError, MacedonizerError
from macedonizer.hub import _with_retries, pull, push
from macedonizer.configs import RunConfig, TrainConfig
from macedonizer.pretrain import run as pretrain
from macedonizer.tokenizer import TokenizerConfig, run as train_tokenizer
from tests import hub_server
from tests.conftest import SAMPLE_DIR

SAMPLE = str(SAMPLE_DIR / "mk-sample.txt")
TOKEN = hub_server.TOKEN


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    tok = train_tokenizer([SAMPLE], root / "tok", TokenizerConfig(vocab_size=1200), progress=False)
    config = TrainConfig(size="L2/H64", seq_len=32, batch_size=4, max_steps=3)
    out = pretrain([SAMPLE], tok, root / "models" / "tiny", config,
                   RunConfig(progress=False, eval_every=3, checkpoint_every=3))
    render(out)
    return out


@pytest.fixture
def hub(monkeypatch):
    server, state, endpoint = hub_server.start()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    yield state, endpoint
    server.shutdown()


def test_push_pull_fill_end_to_end(model, hub, tmp_path):
    state, _ = hub
    result = push(model, "tester/mk-bert-tiny")
    assert result["changed"] and result["commit"]
    files = dict(result["files"])
    assert "model.safetensors" in files and "README.md" in files and not any(p.startswith("checkpoints") for p in files)
    pulled = pull("tester/mk-bert-tiny", cache_dir=tmp_path / "cache")
    text = "Утре ќе одам на [MASK] со мајка ми."
    assert FillMask(pulled)(text, top_k=5) == FillMask(model)(text, top_k=5)
    assert (pulled / "README.md").read_text(encoding="utf-8") == (model / "README.md").read_text(encoding="utf-8")
    # Pushing the unchanged folder again makes no new commit.
    commits = len(state.repos["tester/mk-bert-tiny"]["commits"])
    again = push(model, "tester/mk-bert-tiny")
    assert not again["changed"] and len(state.repos["tester/mk-bert-tiny"]["commits"]) == commits


def test_a_transient_503_is_retried(model, hub):
    state, _ = hub
    state.faults["commit"] = [503]
    result = push(model, "tester/retry")
    assert result["changed"]
    assert sum(1 for r in state.requests if r.startswith("POST") and r.endswith("/commit/main")) == 2


def test_a_refused_token_is_explained_and_never_shown(model, hub, monkeypatch, capfd):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_secret_token_value")
    with pytest.raises(MacedonizerError) as info:
        push(model, "tester/denied")
    assert "401" in str(info.value) and "HF_TOKEN" in str(info.value)
    assert "hf_wrong_secret_token_value" not in str(info.value)
    assert "hf_wrong_secret_token_value" not in "".join(capfd.readouterr())
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(MacedonizerError, match="No Hub token"):
        push(model, "tester/denied")


def test_bad_input(model, hub, tmp_path):
    with pytest.raises(MacedonizerError, match="Invalid repo id"):
        push(model, "not a repo id")
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    with pytest.raises(InputError, match="not a complete model: model.safetensors"):
        push(incomplete, "tester/x")
    with pytest.raises(HubError, match="was not found"):
        pull("tester/does-not-exist", cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("raised, expected, says", [
    (ConnectionError("[Errno 111] Connection refused"), HubError, "Cannot reach the Hub at .*Connection refused"),
    (hf_errors.HTTPError("Server disconnected"), HubError, "Cannot reach the Hub at .*Server disconnected"),
    (hf_errors.LocalEntryNotFoundError("no file"), HubError, "not in the local cache"),
    (hf_errors.HFValidationError("Repo id must be in the form"), ConfigError, "Invalid repo id 'a/b'"),
    (PermissionError(13, "Permission denied", "/models/a"), MacedonizerError, "Cannot access /models/a"),
])
def test_hub_failures_become_typed_errors(raised, expected, says):
    def call():
        raise raised

    with pytest.raises(expected, match=says) as info:
        _with_retries(call, None, "a/b")
    assert expected is HubError or not isinstance(info.value, HubError)


def test_a_bug_under_a_hub_call_keeps_its_traceback():
    def call():
        raise TypeError("snapshot_download() got an unexpected keyword argument 'x'")

    with pytest.raises(TypeError, match="unexpected keyword"):
        _with_retries(call, None, "a/b")


def test_dry_run_uploads_nothing(model, hub):
    state, endpoint = hub
    result = CliRunner().invoke(main, ["push", str(model), "tester/dry", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"Would upload to {endpoint}/tester/dry" in result.output and "model.safetensors" in result.output
    assert state.requests == []


def test_pull_works_offline_from_the_cache(model, hub, tmp_path):
    home = tmp_path / "hf-home"
    pull_command = [sys.executable, "-m", "macedonizer", "pull", "tester/offline"]
    push(model, "tester/offline")
    env = {**os.environ, "HF_HOME": str(home)}
    online = subprocess.run(pull_command, capture_output=True, text=True, env=env)
    assert online.returncode == 0, online.stderr
    offline_env = {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    offline = subprocess.run(pull_command, capture_output=True, text=True, env=offline_env)
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.strip() == online.stdout.strip()
    empty = subprocess.run(pull_command, capture_output=True, text=True,
                           env={**offline_env, "HF_HOME": str(tmp_path / "empty")})
    assert empty.returncode == 1 and "not in the local cache" in empty.stderr
    assert TOKEN not in empty.stderr + offline.stderr + online.stderr
