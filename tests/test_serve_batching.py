"""Batching in the fill-mask service: the micro-batcher, and concurrent HTTP requests sharing a forward pass.

Every test here builds its own batcher or app, so counts start at zero whatever ran before.
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")

from macedonizer.serve.app import create_app  # noqa: E402
from macedonizer.serve.batcher import MicroBatcher, QueueFull  # noqa: E402
from macedonizer.serve.engine import Limits, Query, _length_groups  # noqa: E402
from macedonizer.serve.models import load_all, parse_specs  # noqa: E402
from tests.serve_server import post, running, same_answer  # noqa: E402

ONE = "Скопје е главен [MASK] на Македонија."
TWO = "[MASK] ќе одам на [MASK]."
OTHER = "Утре ќе одам на [MASK] со мајка ми."
WORDS = ("Утре", "Денес", "Вчера", "Сега", "Пак", "Тогаш", "Потоа", "Јас")
TEXTS = [f"{word} ќе одам на [MASK]." for word in WORDS]


@pytest.fixture(scope="module")
def models(tiny_model):
    return load_all(parse_specs([f"mk={tiny_model}"]))


@pytest.fixture(scope="module")
def alone(models):
    """The answer to each of TEXTS from the engine with nothing else in its forward pass."""
    engine = models["mk"].engine
    return {text: engine.predict([Query(engine.encode(text), 5)])[0] for text in TEXTS}


class HeldModel:
    """The engine's predict, counting its calls; the first call waits at the gate until the test opens it."""

    def __init__(self, predict):
        self.predict = predict
        self.calls: list[int] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __call__(self, queries):
        self.entered.set()
        assert self.gate.wait(timeout=60)
        self.calls.append(len(queries))
        return self.predict(queries)


def _held_app(model, monkeypatch, limits=Limits()):
    held = HeldModel(model.engine.predict)
    monkeypatch.setattr(model.engine, "predict", held)
    app = create_app({"mk": model}, limits)
    return app, app.state.batchers["mk"], held


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_batch_answers_as_each_text_would_alone(models):
    engine = models["mk"].engine
    texts = [ONE, TWO, "[MASK] " + "многу долга реченица " * 12, OTHER, "[MASK]."]
    queries = [Query(engine.encode(text), 3) for text in texts]
    same_answer(engine.predict(queries), [engine.predict([query])[0] for query in queries])


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


def test_concurrent_http_requests_share_a_forward_pass(tiny_model, alone, monkeypatch):
    [model] = load_all(parse_specs([str(tiny_model)])).values()
    app, batcher, held = _held_app(model, monkeypatch)
    with running(app) as base, ThreadPoolExecutor(len(TEXTS)) as pool:
        first = pool.submit(post, base, {"inputs": TEXTS[0]})
        assert held.entered.wait(timeout=60)
        rest = [pool.submit(post, base, {"inputs": text}) for text in TEXTS[1:]]
        _wait_for(lambda: batcher.waiting == len(TEXTS) - 1, "the seven requests never queued")
        held.gate.set()
        answers = [first.result()] + [f.result() for f in rest]
    # Eight requests, two forward passes: the one held, then the seven that queued behind it.
    assert held.calls == [1, len(TEXTS) - 1]
    assert batcher.stats == {"batches": 2, "items": len(TEXTS), "largest_batch": len(TEXTS) - 1}
    for text, (status, answer, _) in zip(TEXTS, answers):
        assert status == 200
        same_answer(answer, alone[text])


def test_a_full_queue_is_503_and_the_queued_requests_are_answered(tiny_model, alone, monkeypatch):
    [model] = load_all(parse_specs([str(tiny_model)])).values()
    app, batcher, held = _held_app(model, monkeypatch, Limits(max_queue=3))
    with running(app) as base, ThreadPoolExecutor(len(TEXTS)) as pool:
        first = pool.submit(post, base, {"inputs": TEXTS[0]})
        assert held.entered.wait(timeout=60)  # in the forward pass, not in the queue
        queued = [pool.submit(post, base, {"inputs": text}) for text in TEXTS[1:4]]
        _wait_for(lambda: batcher.waiting == 3, "the queue never filled")
        # The queue is full: one more text, alone or in a list, is refused at once.
        overflow = [post(base, {"inputs": TEXTS[4]}), post(base, {"inputs": [TEXTS[5], TEXTS[6]]})]
        assert batcher.waiting == 3 and not any(f.done() for f in queued)
        held.gate.set()
        answered = [first.result()] + [f.result() for f in queued]
    for status, body, headers in overflow:
        assert status == 503 and headers["retry-after"] == "1"
        assert body == {"error": "The server is busy (3 texts are waiting already); try again shortly."}
    assert held.calls == [1, 3]
    for text, (status, answer, _) in zip(TEXTS[:4], answered):
        assert status == 200
        same_answer(answer, alone[text])
