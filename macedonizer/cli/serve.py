"""Commands that answer with a model: ``fill`` (in the terminal) and ``serve`` (over HTTP)."""

from __future__ import annotations

import json

import click


@click.command(epilog="""\b
Examples:
  macedonizer fill "Скопје е главен [MASK] на Македонија." --model build/models/mini
  macedonizer fill "Утре ќе одам на <mask>." --model build/models/tiny --top-k 3 --json
""")
@click.argument("texts", nargs=-1, required=True)
@click.option("--model", required=True, help="A model folder or a Hub repo id.")
@click.option("--top-k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the pipeline's JSON.")
def fill(texts, model, top_k, as_json):
    """Fill the [MASK] (or <mask>) in each TEXT with the model's best guesses."""
    from ..inference import FillMask

    results = FillMask(model)(list(texts), top_k=top_k)
    if as_json:
        click.echo(json.dumps(results if len(texts) > 1 else results[0], ensure_ascii=False, indent=2))
        return
    for text, result in zip(texts, results):
        click.echo(text)
        per_mask = result if result and isinstance(result[0], list) else [result]
        for i, predictions in enumerate(per_mask, 1):
            if len(per_mask) > 1:
                click.echo(f"  mask {i}:")
            for p in predictions:
                click.echo(f"  {p['score']:6.3f}  {p['token_str']:<16} {p['sequence']}")


@click.command(epilog="""\b
Examples:
  macedonizer serve --model build/models/mini
  macedonizer serve --model build/models/mini --model tiny=build/models/tiny --port 8080
  macedonizer serve --model my-org/mk-bert-mini --host 0.0.0.0
  macedonizer serve --model build/models/mini --backend onnx   # after: macedonizer export onnx build/models/mini
  curl -s localhost:8000/fill-mask -H 'Content-Type: application/json' \\
       -d '{"inputs": "Скопје е главен [MASK] на Македонија."}'
""")
@click.option("--model", "models", multiple=True, required=True, metavar="[NAME=]PATH_OR_REPO",
              help="A model folder or Hub repo id, optionally named; repeatable (the first is the default).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-batch", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Texts in one forward pass.")
@click.option("--batch-wait-ms", type=click.FloatRange(0, 1000), default=2.0, show_default=True,
              help="How long a batch waits for more requests while requests arrive together.")
@click.option("--backend", type=click.Choice(["torch", "onnx"]), default="torch", show_default=True,
              help="Run the encoder with PyTorch, or with ONNX Runtime (needs `macedonizer export onnx MODEL`).")
def serve(models, host, port, max_batch, batch_wait_ms, backend):
    """Serve fill-mask over HTTP (the Hugging Face Inference API's shape) with a web demo at /.

    POST /fill-mask and /models/NAME/fill-mask take {"inputs": ..., "parameters":
    {"top_k": ..., "targets": [...]}}; GET /health and GET /models describe the
    service. Needs the serve extra: pip install 'macedonizer[serve]'.
    """
    from ..serve import Limits, run

    run(list(models), host=host, port=port, limits=Limits(max_batch=max_batch, batch_wait_ms=batch_wait_ms),
        backend=backend)
