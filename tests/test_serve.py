"""The fill-mask service: Inference-API shapes, limits, errors, batching, the CLI."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from macedonizer.cli import main  # noqa: E402
from macedonizer.errors import MacedonizerError  # noqa: E402
from macedonizer.serve import bind  # noqa: E402
from macedonizer.serve.app import create_app  # noqa: E402
from macedonizer.serve.engine import Limits  # noqa: E402
from macedonizer.serve.models import card_metadata, load_all, parse_specs  # noqa: E402
from tests.serve_server import same_answer  # noqa: E402

ONE = "Скопје е главен [MASK] на Македонија."
TWO = "[MASK] ќе одам на [MASK]."
OTHER = "Утре ќе одам на [MASK] со мајка ми."


@pytest.fixture(scope="module")
def models(tiny_model):
    return load_all(parse_specs([f"mk={tiny_model}", f"other={tiny_model}"]))


@pytest.fixture(scope="module")
def client(models):
    limits = Limits(max_inputs=4, max_chars=200, max_top_k=20, max_targets=3, max_queue=6)
    with TestClient(create_app(models, limits), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def pipe(tiny_model):
    from transformers import pipeline

    return pipeline("fill-mask", model=str(tiny_model))


@pytest.mark.parametrize("inputs, parameters", [
    (ONE, {}),                                     # one text, one mask: a list of predictions
    (TWO, {"top_k": 3}),                           # several masks: one list per mask
    ([ONE, OTHER, TWO], {"top_k": 2}),             # several texts: one answer per text
    (ONE, {"top_k": 4, "targets": ["град", "на", "Скопје"]}),
    ([ONE, OTHER], {"targets": "на"}),
])
def test_answers_are_the_pipelines(client, pipe, inputs, parameters):
    response = client.post("/fill-mask", json={"inputs": inputs, "parameters": parameters})
    assert response.status_code == 200, response.text
    same_answer(response.json(), pipe(inputs, **parameters))


def test_list_of_one_text_keeps_its_list(client, pipe):
    # The pipeline unwraps a list of one; the service answers a list with a list, always.
    response = client.post("/fill-mask", json={"inputs": [ONE], "parameters": {"top_k": 2}})
    same_answer(response.json(), [pipe(ONE, top_k=2)])


def test_both_mask_spellings_and_options_are_accepted(client):
    bracket = client.post("/fill-mask", json={"inputs": "Утре ќе одам на [MASK]."}).json()
    angle = client.post("/fill-mask", json={"inputs": "Утре ќе одам на <mask>.", "options": {"wait_for_model": True}})
    assert angle.json() == bracket


def test_named_models_and_the_default(client):
    default = client.post("/fill-mask", json={"inputs": ONE}).json()
    assert client.post("/models/other/fill-mask", json={"inputs": ONE}).json() == default
    assert client.post("/models/mk/fill-mask", json={"inputs": ONE}).json() == default


@pytest.mark.parametrize("body, status, says", [
    ("{", 400, "not valid JSON"),
    ("[1, 2]", 400, "must be a JSON object"),
    ('{"text": "Скопје е [MASK]."}', 400, "no inputs"),
    ('{"inputs": 5}', 400, "inputs must be a text or a list of texts"),
    ('{"inputs": "Без маска."}', 422, "no mask token"),
    ('{"inputs": ["Тоа е [MASK].", "Без маска."]}', 422, "no mask token"),
    ('{"inputs": []}', 422, "empty list"),
    ('{"inputs": ["[MASK]", "[MASK]", "[MASK]", "[MASK]", "[MASK]"]}', 413, "5 texts in one request; the limit is 4"),
    (json.dumps({"inputs": "[MASK] " + "збор " * 60}), 413, "characters long; the limit is 200"),
    ('{"inputs": "[MASK]", "parameters": {"top_k": 0}}', 422, "top_k must be between 1 and 20"),
    ('{"inputs": "[MASK]", "parameters": {"top_k": 21}}', 422, "top_k must be between 1 and 20"),
    ('{"inputs": "[MASK]", "parameters": {"top_k": "5"}}', 400, "top_k"),
    ('{"inputs": "[MASK]", "parameters": {"topk": 5}}', 400, "parameters.topk"),
    ('{"inputs": "[MASK]", "parameters": {"targets": []}}', 422, "targets is an empty list"),
    ('{"inputs": "[MASK]", "parameters": {"targets": ["a", "b", "c", "d"]}}', 413, "4 targets; the limit is 3"),
    ('{"inputs": "[MASK]", "parameters": {"targets": 7}}', 400, "targets must be a word or a list of words"),
])
def test_bad_requests_get_one_sentence(client, body, status, says):
    response = client.post("/fill-mask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"] and says in response.json()["error"]


def test_unknown_model_route_and_method(client):
    response = client.post("/models/nope/fill-mask", json={"inputs": ONE})
    assert response.status_code == 404 and "No model called 'nope'" in response.json()["error"]
    assert client.get("/nothing-here").status_code == 404
    assert client.get("/fill-mask").json() == {"error": "Method Not Allowed"}


def test_a_text_longer_than_the_model_reads(models):
    with TestClient(create_app(models, Limits(max_chars=100_000))) as test_client:
        response = test_client.post("/fill-mask", json={"inputs": "[MASK] " + "Скопје е град. " * 300})
    assert response.status_code == 413
    assert "this model reads at most 512" in response.json()["error"]


def test_no_traceback_reaches_a_client(tiny_model, monkeypatch):
    [model] = load_all(parse_specs([str(tiny_model)])).values()

    def broken(queries):
        raise RuntimeError("secret /home/path went wrong")

    monkeypatch.setattr(model.engine, "predict", broken)
    with TestClient(create_app({"mk": model}), raise_server_exceptions=False) as test_client:
        response = test_client.post("/fill-mask", json={"inputs": ONE})
        assert response.status_code == 500
        assert response.json() == {"error": "Internal server error; the server's log has the details."}
        assert test_client.get("/health").status_code == 200  # the service lives on


def test_health_and_models(client, models, tiny_model):
    assert client.get("/health").json() == {"status": "ok", "models": ["mk", "other"]}
    listed = client.get("/models").json()
    assert [m["name"] for m in listed] == ["mk", "other"] and [m["default"] for m in listed] == [True, False]
    mk = listed[0]
    assert (mk["layers"], mk["hidden"], mk["architecture"], mk["mask_token"]) == (2, 64, "BertForMaskedLM", "[MASK]")
    weights = sum(p.numel() for p in models["mk"].engine.model.parameters())
    assert mk["parameters"] == weights and mk["repo_id"] is None
    assert mk["card"]["pipeline_tag"] == "fill-mask" and mk["card"]["widget"][0]["text"].count("[MASK]") == 1
    assert mk["eval"] == json.loads((tiny_model / "eval.json").read_text())


def test_models_counts_batches_and_items(client):
    # The client is shared: count what this test's own request adds (three texts, queued at once: one batch).
    before = [m["batching"] for m in client.get("/models").json()]
    assert client.post("/fill-mask", json={"inputs": [ONE, OTHER, TWO]}).status_code == 200
    after = [m["batching"] for m in client.get("/models").json()]
    assert after[0]["batches"] - before[0]["batches"] == 1 and after[0]["items"] - before[0]["items"] == 3
    assert after[0]["largest_batch"] == max(before[0]["largest_batch"], 3) and after[0]["waiting"] == 0
    assert after[1] == before[1]  # the other model answered nothing


def test_models_without_card_or_eval(tiny_model, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare, ignore=shutil.ignore_patterns("README.md", "eval.json", "checkpoints"))
    with TestClient(create_app(load_all(parse_specs([str(bare)])))) as test_client:
        [info] = test_client.get("/models").json()
        assert (info["name"], info["card"], info["eval"]) == ("bare", None, None)
        assert test_client.post("/fill-mask", json={"inputs": ONE}).status_code == 200


def test_a_card_whose_metadata_does_not_parse_has_none(tmp_path):
    for front_matter in ("language: [mk\n", "- a list, not a mapping\n"):
        (tmp_path / "README.md").write_text(f"---\n{front_matter}---\n# A card\n", encoding="utf-8")
        assert card_metadata(tmp_path) is None
    (tmp_path / "README.md").write_text("---\nlanguage: mk\n---\n# A card\n", encoding="utf-8")
    assert card_metadata(tmp_path) == {"language": "mk"}


def test_a_hub_repo_id_is_resolved_through_huggingface_hub(tiny_model, monkeypatch):
    asked = []
    monkeypatch.setattr("macedonizer.hub.pull", lambda repo_id: asked.append(repo_id) or tiny_model)
    [model] = load_all(parse_specs(["my-org/mk-bert-tiny"])).values()
    assert asked == ["my-org/mk-bert-tiny"]
    assert (model.name, model.info["repo_id"]) == ("mk-bert-tiny", "my-org/mk-bert-tiny")


def test_the_demo_page(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<html lang="mk">' in response.text and "Предвиди" in response.text


def test_model_specs(tiny_model):
    assert [(s.name, s.source) for s in parse_specs([f"a={tiny_model}", str(tiny_model), "org/repo"])] == \
        [("a", str(tiny_model)), (tiny_model.name, str(tiny_model)), ("repo", "org/repo")]
    with pytest.raises(MacedonizerError, match="Two models are called 'x'"):
        parse_specs(["x=a/b", "x=c/d"])
    with pytest.raises(MacedonizerError, match="Model folder not found"):
        load_all(parse_specs(["./no/such/model"]))


# --- the ONNX backend ------------------------------------------------------------------------------


def test_onnx_backend_matches_torch(tiny_model, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model, ignore=shutil.ignore_patterns("checkpoints"))
    result = CliRunner().invoke(main, ["export", "onnx", str(model)])
    assert result.exit_code == 0, result.output
    assert (model / "onnx" / "encoder.onnx").is_file() and not list(model.glob("onnx/*.partial"))
    apps = [create_app(load_all(parse_specs([str(model)]), backend=backend)) for backend in ("torch", "onnx")]
    with TestClient(apps[0]) as torch_client, TestClient(apps[1]) as onnx_client:
        assert onnx_client.get("/models").json()[0]["backend"] == "onnx"
        for body in ({"inputs": [ONE, OTHER, TWO], "parameters": {"top_k": 5}},
                     {"inputs": ONE, "parameters": {"targets": ["град", "на"]}}):
            same_answer(onnx_client.post("/fill-mask", json=body).json(), torch_client.post("/fill-mask", json=body).json())


def test_onnx_user_errors(tiny_model, monkeypatch):
    result = CliRunner().invoke(main, ["serve", "--model", str(tiny_model), "--backend", "onnx", "--port", "0"])
    assert result.exit_code == 1 and "has no ONNX export; run `macedonizer export onnx" in result.output
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = CliRunner().invoke(main, ["export", "onnx", str(tiny_model)])
    assert result.exit_code == 1
    assert "pip install 'macedonizer[onnx]'" in result.output and not (tiny_model / "onnx").exists()


# --- the command line ---------------------------------------------------------------------------


def test_cli_user_errors_are_one_sentence(tiny_model, tmp_path, monkeypatch):
    result = CliRunner().invoke(main, ["serve", "--model", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "Error: Model folder not found" in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--model", str(tiny_model), "--port", str(port)])
        assert result.exit_code == 1 and f"Port {port} on 127.0.0.1 is in use" in result.output
        with pytest.raises(MacedonizerError, match="is in use"):
            bind("127.0.0.1", port)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the serve extra were not installed
    result = CliRunner().invoke(main, ["serve", "--model", str(tiny_model)])
    assert result.exit_code == 1
    assert result.output.strip() == \
        "Error: The HTTP service needs FastAPI and uvicorn: pip install 'macedonizer[serve]'."


@pytest.mark.slow
def test_cli_serves_a_built_model_until_interrupted(tiny_model):
    # --port 0: the system picks a free port, and the server says which.
    server = subprocess.Popen([sys.executable, "-m", "macedonizer", "serve", "--model", str(tiny_model),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True)
    reader.start()
    seen = []
    try:
        deadline = time.monotonic() + 120
        while not (seen and seen[-1].startswith("Serving on http://127.0.0.1:")):
            assert time.monotonic() < deadline and (server.poll() is None or not lines.empty()), "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        base = seen[-1].split()[2]
        assert not base.endswith(":0")
        deadline = time.monotonic() + 120
        while True:
            try:
                assert json.load(urllib.request.urlopen(f"{base}/health", timeout=5))["status"] == "ok"
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        request = urllib.request.Request(f"{base}/fill-mask", data=json.dumps({"inputs": ONE}).encode(),
                                         headers={"Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(request, timeout=30))
        assert len(answer) == 5 and set(answer[0]) == {"score", "token", "token_str", "sequence"}
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        reader.join(timeout=30)
        output = "".join(seen) + "".join(lines.queue)
    assert server.returncode == 0, output
    assert "Traceback" not in output
