"""Fill-mask over HTTP against transformers' pipeline in-process, one text at a time.

Starts `macedonizer serve` in its own process on a free loopback port, then,
from this process, sends sentences of the bundled sample (one word masked in
each) with 1 and with 8 concurrent clients (one keep-alive connection each),
and measures latency p50/p95 and throughput. The reference is
`pipeline("fill-mask")` called in this process one text after another on
the same sentences; macedonizer's engine called in-process one by one is
shown too, so the cost of HTTP itself can be read off.

The measurements take turns (``--rounds``), so that other work on a shared
machine weighs on all of them alike. Targets: p50 of the server at one
client at most 1.10 × the pipeline's p50; throughput at 8 clients at least
2 × the pipeline's one-by-one throughput.

    pip install -e '.[serve]'
    python benchmarks/serve.py --model build/models/mini --threads 1
    macedonizer export onnx build/models/mini && python benchmarks/serve.py --model build/models/mini --backend onnx
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "corpora" / "sample" / "mk-sample.txt"


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` sample sentences of 5 to 40 words, one word of each replaced by [MASK]."""
    rng = random.Random(seed)
    lines = [line.strip() for line in SAMPLE.read_text(encoding="utf-8").splitlines() if 5 <= len(line.split()) <= 40]
    texts = []
    for line in rng.sample(lines, min(n, len(lines))):
        words = line.split()
        candidates = [i for i, w in enumerate(words) if re.fullmatch(r"\w+", w)] or [0]
        words[rng.choice(candidates)] = "[MASK]"
        texts.append(" ".join(words))
    return texts


def summary(latencies: list[float], wall: float) -> dict:
    ordered = sorted(latencies)
    return {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
            "per_s": len(latencies) / wall, "requests": len(latencies)}


def one_by_one(call, texts: list[str]) -> tuple[list[float], float]:
    """Latencies of ``call`` on each text in turn, and the wall time of all of them."""
    latencies = []
    start = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        call(text)
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - start


def http_clients(port: int, texts: list[str], clients: int, top_k: int) -> tuple[list[float], float]:
    """Each client thread sends its share of the texts over one keep-alive connection, one after another."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for text in share:
            body = json.dumps({"inputs": text, "parameters": {"top_k": top_k}})
            t0 = time.perf_counter()
            connection.request("POST", "/fill-mask", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                raise SystemExit(f"server answered {response.status}: {payload[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(texts[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start


def batching_now(port: int) -> dict:
    """The server's batching counters so far (batches, items, largest_batch), from GET /models."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/models")
    return json.loads(connection.getresponse().read())[0]["batching"]


def counted(port: int, run, totals: dict):
    """``run``, adding the batches and texts the server batched meanwhile to ``totals``."""

    def measured(chunk):
        before = batching_now(port)
        result = run(chunk)
        after = batching_now(port)
        for key in ("batches", "items"):
            totals[key] += after[key] - before[key]
        return result

    return measured


def start_server(model: str, extra: list[str], threads: int | None) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "macedonizer", "serve", "--model", model, "--port", str(port),
                               *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "HF_HUB_OFFLINE": "1",
                                   **({"OMP_NUM_THREADS": str(threads)} if threads else {})})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read().decode()[-500:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start in 3 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="build/models/mini", help="A model folder (a mini-sized BERT).")
    parser.add_argument("--requests", type=int, default=400, help="Texts per measurement.")
    parser.add_argument("--rounds", type=int, default=4,
                        help="The measurements take turns this many times, so that other load on the machine "
                             "falls on all of them alike.")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads on both sides (default: torch's).")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                        help="The service's backend, for the server and the in-process engine alike "
                             "(onnx needs `macedonizer export onnx MODEL`).")
    parser.add_argument("--server-args", default="", help="Extra `macedonizer serve` options, e.g. '--max-batch 16'.")
    parser.add_argument("--json", dest="json_out", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()

    import torch
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from macedonizer.serve.engine import Query
    from macedonizer.serve.models import ModelSpec, load

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = sentences(args.requests)
    print(f"{args.model} ({args.backend} backend): {len(texts)} sample sentences, top_k {args.top_k}, "
          f"{args.rounds} rounds; "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    reference = pipeline("fill-mask", model=args.model)
    engine = load(ModelSpec("bench", args.model), backend=args.backend).engine
    server, port = start_server(args.model, ["--backend", args.backend, *args.server_args.split()], args.threads)
    runs = {
        "pipeline in-process, one by one": lambda chunk: one_by_one(lambda t: reference(t, top_k=args.top_k), chunk),
        "engine in-process, one by one": lambda chunk: one_by_one(
            lambda t: engine.predict([Query(engine.encode(t), args.top_k)]), chunk),
        "server, 1 client": lambda chunk: http_clients(port, chunk, 1, args.top_k),
    }
    at_8 = {"batches": 0, "items": 0}
    runs["server, 8 clients"] = counted(port, lambda chunk: http_clients(port, chunk, 8, args.top_k), at_8)
    measured = {name: ([], 0.0) for name in runs}
    try:
        for run in runs.values():  # warm-up
            run(texts[:16])
        at_8.update(batches=0, items=0)
        for i in range(args.rounds):
            chunk = texts[i::args.rounds]
            for name, run in runs.items():
                latencies, wall = run(chunk)
                measured[name] = (measured[name][0] + latencies, measured[name][1] + wall)
        batching = batching_now(port)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    results = {name: summary(latencies, wall) for name, (latencies, wall) in measured.items()}

    print(f"\n{'':34} {'p50 ms':>8} {'p95 ms':>8} {'texts/s':>9}")
    for name, r in results.items():
        print(f"{name:34} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['per_s']:9.1f}")
    base = results["pipeline in-process, one by one"]
    overhead = results["server, 1 client"]["p50_ms"] / base["p50_ms"]
    speedup = results["server, 8 clients"]["per_s"] / base["per_s"]
    http_ms = results["server, 1 client"]["p50_ms"] - results["engine in-process, one by one"]["p50_ms"]
    print(f"\nserver p50 at 1 client / pipeline p50: {overhead:.2f} (target <= 1.10)")
    print(f"server throughput at 8 clients / pipeline one by one: {speedup:.2f}x (target >= 2)")
    print(f"HTTP and queueing at 1 client (server p50 - engine p50): {http_ms:.2f} ms")
    print(f"batches at 8 clients: {at_8['batches']} for {at_8['items']} texts "
          f"({at_8['items'] / max(1, at_8['batches']):.1f} texts a batch on average); over the "
          f"whole run {batching['batches']} for {batching['items']} texts, largest {batching['largest_batch']}; "
          f"load average now {os.getloadavg()[0]:.1f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"results": results, "p50_ratio": overhead,
                                                   "throughput_ratio_8": speedup, "batching": batching,
                                                   "batching_8_clients": at_8}, indent=2))


if __name__ == "__main__":
    main()
