"""push → pull → fill over real HTTP against a Hub-compatible server on 127.0.0.1 (tests/hub_server.py).

The server takes the LFS route for model.safetensors (preupload "lfs", the LFS batch
API, a PUT checked by SHA-256 and size, an ``lfsFile`` commit line) and never offers
Xet. Faults are injected per call kind; neither retry layer really sleeps here
(huggingface_hub's waits are dropped, ours are recorded).
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import types
import urllib.error
import urllib.request

import huggingface_hub.lfs
import huggingface_hub.utils._http as hf_http
import pytest
from click.testing import CliRunner
from huggingface_hub import errors as hf_errors

from macedonizer import FillMask, hub
from macedonizer.cli import main
from macedonizer.errors import ConfigError, HubError, InputError, MacedonizerError
from macedonizer.hub import _with_retries, pull, push
from tests import hub_server

TOKEN = hub_server.TOKEN
# Every Hub call a push makes, and every one a pull makes (kinds of tests/hub_server.py).
PUSH_CALLS = ("create", "info", "yaml", "preupload", "lfs-batch", "lfs-upload", "lfs-verify", "commit")
PULL_CALLS = ("info", "tree", "resolve-head", "resolve-get")


@pytest.fixture
def model(tiny_model):
    return tiny_model


@pytest.fixture
def fake(monkeypatch):
    """(state, endpoint, sleeps): a fresh fake Hub; ``sleeps`` are the waits of our retry loop."""
    server, state, endpoint = hub_server.start()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(hf_http, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    sleeps = []
    monkeypatch.setattr(hub, "_sleep", sleeps.append)
    yield state, endpoint, sleeps
    server.shutdown()


def outage_until_our_retry(state, monkeypatch, sleeps, kind, status):
    """Every ``kind`` call fails with ``status`` (huggingface_hub's own retries included) until our loop waits."""
    state.down(kind, status)
    monkeypatch.setattr(hub, "_sleep", lambda seconds: (sleeps.append(seconds), state.up()))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local_files(model) -> dict:
    return {path: (model / path).read_bytes() for path, _ in hub.files_to_push(model)}


def lfs_files(model) -> dict:
    """path -> sha256 of the files the Hub stores in LFS: the weights and any other binary file."""
    lfs = {path: sha256(data) for path, data in local_files(model).items()
           if hub_server.should_be_lfs(path, len(data), data[:512])}
    assert "model.safetensors" in lfs and "config.json" not in lfs
    return lfs


def assert_complete(state, repo_id, model):
    """The repo holds every file of the folder, all from one commit after the Hub's initial one, the weights in LFS."""
    repo, local = state.repos[repo_id], local_files(model)
    assert len(repo.commits) == 2, repo.commits
    assert sorted(repo.changed[repo.commits[-1]]) == sorted(local)
    assert {path: entry.data for path, entry in repo.head.items() if path != ".gitattributes"} == local
    assert {path: entry.lfs for path, entry in repo.head.items() if entry.lfs} == lfs_files(model)


def test_push_pull_fill_end_to_end_through_lfs(model, fake, tmp_path):
    state, _, sleeps = fake
    result = push(model, "tester/mk-bert-tiny")
    assert result["changed"] and result["commit"] == state.repos["tester/mk-bert-tiny"].commits[-1]
    files = dict(result["files"])
    assert "model.safetensors" in files and "README.md" in files and not any(p.startswith("checkpoints") for p in files)
    assert_complete(state, "tester/mk-bert-tiny", model)
    weights = (model / "model.safetensors").read_bytes()
    # The weights took the LFS route: one batch, one PUT of each LFS file (by sha256), verified; and never Xet.
    assert sorted(c.path for c in state.calls if c.kind == "lfs-upload") == sorted(
        f"/lfs-upload/tester/mk-bert-tiny/{oid}" for oid in lfs_files(model).values())
    assert f"PUT /lfs-upload/tester/mk-bert-tiny/{sha256(weights)}" in state.requests
    assert state.count("lfs-batch", 200) == 1 and state.count("lfs-verify", 200) == len(lfs_files(model))
    assert state.count("xet") == 0 and not any("xet" in r.lower() for r in state.requests)
    assert sleeps == []

    pulled = pull("tester/mk-bert-tiny", cache_dir=tmp_path / "cache")
    assert (pulled / "model.safetensors").read_bytes() == weights
    assert {p: (pulled / p).read_bytes() for p in files} == local_files(model)
    text = "Утре ќе одам на [MASK] со мајка ми."
    assert FillMask(pulled)(text, top_k=5) == FillMask(model)(text, top_k=5)

    # Pushing the unchanged folder again makes no new commit and uploads nothing.
    again = push(model, "tester/mk-bert-tiny")
    assert not again["changed"] and len(state.repos["tester/mk-bert-tiny"].commits) == 2
    assert state.count("lfs-upload") == len(lfs_files(model)) and state.count("commit") == 1


def test_large_and_binary_files_go_through_lfs_too(model, fake, tmp_path, monkeypatch):
    state, _, _ = fake
    monkeypatch.setattr(hub_server, "LFS_THRESHOLD", 40_000)
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    (folder / "notes.txt").write_text("тест " * 5000)  # text, over the threshold
    (folder / "table.dat").write_bytes(b"\0\1\2" * 10)  # small, binary
    (folder / "extra.txt").write_text("мало")  # small text: regular
    push(folder, "tester/mixed")
    repo = state.repos["tester/mixed"]
    assert {path for path, entry in repo.head.items() if entry.lfs} == {*lfs_files(model), "notes.txt", "table.dat"}
    assert repo.head["extra.txt"].lfs is None and repo.head["tokenizer.json"].lfs is None
    assert state.count("lfs-upload", 200) == len(lfs_files(model)) + 2
    pulled = pull("tester/mixed", cache_dir=tmp_path / "cache")
    assert {p: (pulled / p).read_bytes() for p in local_files(folder)} == local_files(folder)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("kind", PUSH_CALLS)
def test_push_survives_an_outage_of_any_call_by_our_retry(model, fake, monkeypatch, kind, status):
    state, _, sleeps = fake
    state.retry_after = 3
    outage_until_our_retry(state, monkeypatch, sleeps, kind, status)
    result = push(model, "tester/outage")
    assert result["changed"]
    assert state.count(kind, status) >= 1  # the outage was hit ...
    assert sleeps == [3 if status == 429 else hub.BACKOFF]  # ... and our loop, once, is what recovered
    assert_complete(state, "tester/outage", model)
    assert state.count("lfs-upload", 200) == len(lfs_files(model))  # no LFS file was sent twice


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("kind", PULL_CALLS)
def test_pull_survives_an_outage_of_any_call_by_our_retry(model, fake, monkeypatch, tmp_path, kind, status):
    state, _, sleeps = fake
    state.retry_after = 3
    push(model, "tester/outage")
    outage_until_our_retry(state, monkeypatch, sleeps, kind, status)
    pulled = pull("tester/outage", cache_dir=tmp_path / "cache")
    assert state.count(kind, status) >= 1
    assert sleeps == [3 if status == 429 else hub.BACKOFF]
    assert {p: (pulled / p).read_bytes() for p in local_files(model)} == local_files(model)


@pytest.mark.parametrize("kind, status", [("create", 503), ("preupload", 503), ("lfs-upload", 503), ("commit", 429)])
def test_exhausted_retries_end_in_one_sentence_and_no_commit(model, fake, kind, status):
    state, endpoint, sleeps = fake
    state.down(kind, status)
    result = CliRunner().invoke(main, ["push", str(model), "tester/down"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"Error: The Hub answered {status} for tester/down (after {hub.RETRIES} tries): ")
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert len(sleeps) == hub.RETRIES - 1
    repo = state.repos.get("tester/down")
    assert repo is None if kind == "create" else repo.commits == [hub_server.INITIAL_COMMIT]


def test_a_pull_that_keeps_failing_ends_in_one_sentence(model, fake, tmp_path):
    state, _, sleeps = fake
    push(model, "tester/down")
    state.down("resolve-get", 503)
    one_sentence = rf"^The Hub answered 503 for tester/down \(after {hub.RETRIES} tries\): [^\n]*$"
    with pytest.raises(HubError, match=one_sentence):
        pull("tester/down", cache_dir=tmp_path / "cache")
    assert len(sleeps) == hub.RETRIES - 1


def test_an_upload_refused_once_is_completed_by_pushing_again(model, fake):
    state, _, sleeps = fake
    state.fail("lfs-upload", 400)  # not retryable: the push stops
    with pytest.raises(HubError, match="^The Hub answered 400 for tester/resume: "):
        push(model, "tester/resume")
    assert state.repos["tester/resume"].commits == [hub_server.INITIAL_COMMIT]  # no partial commit
    assert push(model, "tester/resume")["changed"]
    assert_complete(state, "tester/resume", model)
    assert state.count("lfs-upload", 400) == 1 and sleeps == []


def test_a_push_killed_after_the_upload_resumes_without_sending_the_weights_again(model, fake, monkeypatch, tmp_path):
    state, _, _ = fake
    upload = huggingface_hub.lfs._upload_single_part

    def upload_then_die(operation, upload_url):  # the process dies after the weights, before the commit
        upload(operation=operation, upload_url=upload_url)
        if operation.path_in_repo == "model.safetensors":
            raise KeyboardInterrupt

    monkeypatch.setattr(huggingface_hub.lfs, "_upload_single_part", upload_then_die)
    with pytest.raises(KeyboardInterrupt):
        push(model, "tester/killed")
    repo = state.repos["tester/killed"]
    weights = sha256((model / "model.safetensors").read_bytes())
    assert repo.commits == [hub_server.INITIAL_COMMIT] and weights in repo.lfs  # uploaded, not committed
    monkeypatch.setattr(huggingface_hub.lfs, "_upload_single_part", upload)
    assert push(model, "tester/killed")["changed"]
    assert_complete(state, "tester/killed", model)
    assert state.count("lfs-upload") == len(lfs_files(model)) and state.count("lfs-batch") == 2
    pulled = pull("tester/killed", cache_dir=tmp_path / "cache")
    assert (pulled / "model.safetensors").read_bytes() == (model / "model.safetensors").read_bytes()


def test_a_commit_whose_answer_was_lost_is_not_made_twice(model, fake):
    state, _, sleeps = fake
    state.fail("commit", 503, applied=True)  # the Hub commits, the answer is lost
    result = push(model, "tester/lost")
    assert result["changed"] and result["commit"] == state.repos["tester/lost"].commits[-1]
    assert_complete(state, "tester/lost", model)
    assert state.count("commit") == 1 and sleeps == [hub.BACKOFF]


def test_the_fake_hub_checks_what_it_is_sent(fake):
    """The LFS tests mean something only if the server refuses what the Hub refuses."""
    state, endpoint, _ = fake
    state.repos["tester/x"] = hub_server.Repo(private=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def call(method, url, body=b"", headers=None):
        request = urllib.request.Request(url, data=body, method=method, headers={**auth, **(headers or {})})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    data = b"\0weights" * 100
    oid = sha256(data)
    batch = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]}
    status, body = call("POST", f"{endpoint}/tester/x.git/info/lfs/objects/batch", json.dumps(batch).encode())
    href = json.loads(body)["objects"][0]["actions"]["upload"]["href"]
    assert status == 200 and href.startswith(endpoint)
    assert call("PUT", href, data[:-1])[0] == 400  # size
    assert call("PUT", href, data[:-1] + b"!")[0] == 400  # sha256
    assert call("PUT", href.replace("sig=", "sig=0"), data)[0] == 403
    assert state.repos["tester/x"].lfs == {}

    def commit(*lines):
        header = {"key": "header", "value": {"summary": "s"}}
        return call("POST", f"{endpoint}/api/models/tester/x/commit/main",
                    b"".join(json.dumps(line).encode() + b"\n" for line in (header, *lines)))[0]

    pointer = {"key": "lfsFile",
               "value": {"path": "model.safetensors", "algo": "sha256", "oid": oid, "size": len(data)}}
    assert commit(pointer) == 400  # never uploaded
    regular = {"key": "file", "value": {"path": "model.safetensors", "encoding": "base64",
                                        "content": base64.b64encode(data).decode()}}
    assert commit(regular) == 400  # weights are not accepted as a regular file
    assert call("PUT", href, data)[0] == 200 and commit(pointer) == 200
    status, body = call("GET", f"{endpoint}/tester/x/resolve/main/model.safetensors")
    assert status == 200 and body == data


def test_a_refused_token_is_explained_and_never_shown(model, fake, monkeypatch, capfd):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_secret_token_value")
    with pytest.raises(MacedonizerError) as info:
        push(model, "tester/denied")
    assert "401" in str(info.value) and "HF_TOKEN" in str(info.value)
    assert "hf_wrong_secret_token_value" not in str(info.value)
    assert "hf_wrong_secret_token_value" not in "".join(capfd.readouterr())
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(MacedonizerError, match="No Hub token"):
        push(model, "tester/denied")


def test_bad_input(model, fake, tmp_path):
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


@pytest.mark.parametrize("bug", [TypeError("snapshot_download() got an unexpected keyword argument 'x'"),
                                 RuntimeError("Error while uploading 'x' to the Hub.")])
def test_a_bug_under_a_hub_call_keeps_its_traceback(bug):
    def call():
        try:
            raise ValueError("lfs_action is improperly formatted")
        except ValueError as cause:
            raise bug from cause

    with pytest.raises(type(bug), match=re.escape(str(bug))):
        _with_retries(call, None, "a/b")


def test_dry_run_uploads_nothing(model, fake):
    state, endpoint, _ = fake
    result = CliRunner().invoke(main, ["push", str(model), "tester/dry", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"Would upload to {endpoint}/tester/dry" in result.output and "model.safetensors" in result.output
    assert state.requests == []


def test_pull_works_offline_from_the_cache(model, fake, tmp_path):
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
