"""The fill-mask service: Inference-API shapes, limits, errors, batching, the CLI."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from macedonizer.cli import main  # noqa: E402
from macedonizer.errors import MacedonizerError  # noqa: E402
from macedonizer.serve import bind  # noqa: E402
from macedonizer.serve.app import create_app  # noqa: E402
from macedonizer.serve.batcher import MicroBatcher, QueueFull  # noqa: E402
from macedonizer.serve.engine import Limits, Query, _length_groups  # noqa: E402
from macedonizer.serve.models import card_metadata, load_all, parse_specs  # noqa: E402
from tests.serve_server import running  # noqa: E402

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


def _same(ours, reference):
    """Same nesting, tokens and sequences; scores equal up to float rounding."""
    if isinstance(reference, list):
        assert isinstance(ours, list) and len(ours) == len(reference)
        for a, b in zip(ours, reference):
            _same(a, b)
        return
    assert set(ours) == {"score", "token", "token_str", "sequence"}
    assert (ours["token"], ours["token_str"], ours["sequence"]) == \
        (reference["token"], reference["token_str"], reference["sequence"])
    assert ours["score"] == pytest.approx(reference["score"], rel=1e-4, abs=1e-7)


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
    _same(response.json(), pipe(inputs, **parameters))


def test_list_of_one_text_keeps_its_list(client, pipe):
    # The pipeline unwraps a list of one; the service answers a list with a list, always.
    response = client.post("/fill-mask", json={"inputs": [ONE], "parameters": {"top_k": 2}})
    _same(response.json(), [pipe(ONE, top_k=2)])


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


def test_a_full_queue_is_503(models):
    with TestClient(create_app(models, Limits(max_queue=1))) as test_client:
        response = test_client.post("/fill-mask", json={"inputs": [ONE, OTHER]})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "busy" in response.json()["error"]


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


def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok", "models": ["mk", "other"]}
    listed = client.get("/models").json()
    assert [m["name"] for m in listed] == ["mk", "other"] and [m["default"] for m in listed] == [True, False]
    mk = listed[0]
    assert (mk["layers"], mk["hidden"], mk["architecture"], mk["mask_token"]) == (2, 64, "BertForMaskedLM", "[MASK]")
    assert mk["parameters"] > 0 and mk["repo_id"] is None
    assert mk["card"]["pipeline_tag"] == "fill-mask" and mk["card"]["widget"][0]["text"].count("[MASK]") == 1
    assert set(mk["eval"]["validation"]) >= {"loss", "masked_accuracy", "unigram_accuracy"}
    assert mk["batching"]["items"] >= mk["batching"]["batches"] >= 1


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


# --- batching -------------------------------------------------------------------------------------


def test_a_batch_answers_as_each_text_would_alone(models):
    engine = models["mk"].engine
    texts = [ONE, TWO, "[MASK] " + "многу долга реченица " * 12, OTHER, "[MASK]."]
    queries = [Query(engine.encode(text), 3) for text in texts]
    _same(engine.predict(queries), [engine.predict([query])[0] for query in queries])


def test_texts_of_similar_length_share_a_pass():
    assert _length_groups([10, 40, 11, 12, 41]) == [[0, 2, 3], [1, 4]]
    assert _length_groups([7] * 5) == [[0, 1, 2, 3, 4]]
    assert _length_groups([5]) == [[0]]



class Recorder:
    """A predict function that records its batches and can be held at the door."""

    def __init__(self, hold: bool = False):
        self.batches = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not hold:
            self.gate.set()

    def __call__(self, items):
        self.entered.set()
        self.gate.wait(timeout=60)
        self.batches.append(list(items))
        return [item * 10 for item in items]


def test_batcher_splits_at_max_batch_and_keeps_order():
    recorder = Recorder()

    async def scenario():
        batcher = MicroBatcher(recorder, max_batch=4)
        await batcher.start()
        results = await batcher.submit(list(range(10)))
        await batcher.stop()
        return results

    assert asyncio.run(scenario()) == [i * 10 for i in range(10)]
    assert [len(b) for b in recorder.batches] == [4, 4, 2]


def test_batcher_batches_what_queued_while_a_batch_ran():
    recorder = Recorder(hold=True)

    async def scenario():
        batcher = MicroBatcher(recorder, max_batch=32, wait_s=0)
        await batcher.start()
        first = asyncio.create_task(batcher.submit([1]))
        while not recorder.entered.is_set():
            await asyncio.sleep(0.001)
        others = [asyncio.create_task(batcher.submit([i])) for i in range(2, 9)]
        await asyncio.sleep(0)
        recorder.gate.set()
        results = [await first] + [await task for task in others]
        await batcher.stop()
        return results, batcher.stats

    results, stats = asyncio.run(scenario())
    assert results == [[i * 10] for i in range(1, 9)]
    assert recorder.batches == [[1], [2, 3, 4, 5, 6, 7, 8]]
    assert stats == {"batches": 2, "items": 8, "largest_batch": 7}


def test_batcher_waits_for_more_only_while_requests_come_together():
    recorder = Recorder()

    async def scenario():
        # A long wait ends as soon as the batch is full: no clock in this test.
        batcher = MicroBatcher(recorder, max_batch=3, wait_s=600)
        await batcher.start()
        lone = await asyncio.wait_for(batcher.submit(["x"]), 60)  # after no batch or a batch of one: no wait
        together = await asyncio.wait_for(batcher.submit(["y", "z"]), 60)
        first = asyncio.create_task(batcher.submit(["a"]))  # after a batch of two: waits for company
        await asyncio.sleep(0.01)
        rest = await batcher.submit(["b", "c"])
        results = lone + together + await first + rest
        await batcher.stop()
        return results

    assert asyncio.run(scenario()) == [c * 10 for c in "xyzabc"]
    assert recorder.batches == [["x"], ["y", "z"], ["a", "b", "c"]]


def test_batcher_errors_reach_every_waiter_and_the_queue_has_a_bound(caplog):
    calls = []

    def predict(items):
        calls.append(items)
        if len(calls) == 1:
            raise ValueError("bad batch")
        return items

    async def scenario():
        batcher = MicroBatcher(predict, max_batch=8, max_queue=3)
        await batcher.start()
        with pytest.raises(ValueError, match="bad batch"):
            await batcher.submit([1, 2])
        with pytest.raises(QueueFull):
            await batcher.submit([1, 2, 3, 4])
        ok = await batcher.submit([5])
        await batcher.stop()
        return ok

    assert asyncio.run(scenario()) == [5]
    [record] = [r for r in caplog.records if r.name == "macedonizer.serve.batcher"]
    assert "batch of 2 items failed" in record.getMessage() and record.exc_info[0] is ValueError


def test_concurrent_http_requests_share_a_forward_pass(tiny_model, pipe, monkeypatch):
    [model] = load_all(parse_specs([str(tiny_model)])).values()
    predict = model.engine.predict
    gate, entered = threading.Event(), threading.Event()

    def held(queries):
        entered.set()
        gate.wait(timeout=60)
        return predict(queries)

    monkeypatch.setattr(model.engine, "predict", held)
    app = create_app({"mk": model})
    batcher = app.state.batchers["mk"]
    words = ("Утре", "Денес", "Вчера", "Сега", "Пак", "Тогаш", "Потоа", "Јас")
    texts = [f"{word} ќе одам на [MASK]." for word in words]

    def post(base, text):
        request = urllib.request.Request(f"{base}/fill-mask", data=json.dumps({"inputs": text}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    with running(app) as base, ThreadPoolExecutor(8) as pool:
        first = pool.submit(post, base, texts[0])
        assert entered.wait(timeout=60)
        rest = [pool.submit(post, base, text) for text in texts[1:]]
        while batcher.waiting < 7:  # the seven are queued behind the held batch
            time.sleep(0.01)
        gate.set()
        answers = [first.result()] + [f.result() for f in rest]
        stats = json.load(urllib.request.urlopen(f"{base}/models"))[0]["batching"]
    assert (stats["batches"], stats["largest_batch"]) == (2, 7)
    for text, answer in zip(texts, answers):
        _same(answer, pipe(text))


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
            _same(onnx_client.post("/fill-mask", json=body).json(), torch_client.post("/fill-mask", json=body).json())


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


def test_cli_serves_a_built_model_until_interrupted(tiny_model):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "macedonizer", "serve", "--model", str(tiny_model),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert json.load(urllib.request.urlopen(f"{base}/health", timeout=5))["status"] == "ok"
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()
                time.sleep(0.2)
        request = urllib.request.Request(f"{base}/fill-mask", data=json.dumps({"inputs": ONE}).encode(),
                                         headers={"Content-Type": "application/json"})
        answer = json.load(urllib.request.urlopen(request, timeout=30))
        assert len(answer) == 5 and set(answer[0]) == {"score", "token", "token_str", "sequence"}
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode == 0, output
    assert "Traceback" not in output
