"""A real uvicorn server for an app, on a free 127.0.0.1 port, in a background thread; helpers to talk to it."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from macedonizer.serve import bind


@contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` while the block runs; yields its base URL."""
    import uvicorn

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def post(base: str, body: dict, path: str = "/fill-mask") -> tuple[int, dict, dict]:
    """``(status, JSON body, headers by lower-case name)`` of one POST; an error status is an answer, not an
    exception."""
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error), {k.lower(): v for k, v in error.headers.items()}


def same_answer(ours, reference) -> None:
    """Same nesting, tokens and sequences; scores equal up to float rounding."""
    if isinstance(reference, list):
        assert isinstance(ours, list) and len(ours) == len(reference)
        for a, b in zip(ours, reference):
            same_answer(a, b)
        return
    assert set(ours) == {"score", "token", "token_str", "sequence"}
    assert (ours["token"], ours["token_str"], ours["sequence"]) == \
        (reference["token"], reference["token_str"], reference["sequence"])
    assert ours["score"] == pytest.approx(reference["score"], rel=1e-4, abs=1e-7)
