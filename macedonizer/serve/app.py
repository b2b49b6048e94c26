"""The HTTP API (FastAPI): fill-mask in the Hugging Face Inference API's shape, and the web demo.

``POST /fill-mask`` and ``POST /models/{name}/fill-mask`` take
``{"inputs": str | [str], "parameters": {"top_k": int, "targets": [str]}}``
and answer with the pipeline's fields and nesting: one text gets what
``pipeline("fill-mask")(text)`` returns (a list of predictions, or one list
per mask), and a list of texts gets one such answer per text. Every error is
``{"error": "one sentence"}`` with a 4xx status (5xx for the server's own
faults); no traceback reaches a client.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from .batcher import MicroBatcher, QueueFull
from .engine import Limits, Query, RequestError
from .models import ServedModel

log = logging.getLogger(__name__)


class Parameters(BaseModel):
    """The fill-mask parameters of the Inference API."""

    model_config = ConfigDict(extra="forbid")
    top_k: StrictInt = 5
    targets: StrictStr | list[StrictStr] | None = None


class FillMaskRequest(BaseModel):
    """An Inference API request body (other top-level keys, such as ``options``, are ignored)."""

    inputs: StrictStr | list[StrictStr]
    parameters: Parameters | None = None


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_sentence(errors: list[dict]) -> str:
    """One sentence for pydantic's list of validation errors."""
    first = errors[0]
    if first["type"] == "json_invalid":
        return "The request body is not valid JSON."
    where = [str(part) for part in first["loc"] if part != "body"]
    if not where:
        return "The request body must be a JSON object such as {\"inputs\": \"Скопје е [MASK].\"}."
    if where[0] == "inputs":
        return "inputs must be a text or a list of texts." if first["type"] != "missing" else \
            "The request has no inputs (a text with [MASK], or a list of such texts)."
    if where[:2] == ["parameters", "targets"]:
        return "parameters.targets must be a word or a list of words."
    return f"{'.'.join(where[:2])}: {first['msg']}."


def _check(texts: list[str], parameters: Parameters, limits: Limits) -> None:
    """Refuse a request that breaks a limit, before any of it is queued."""
    if not texts:
        raise RequestError(422, "inputs is an empty list.")
    if len(texts) > limits.max_inputs:
        raise RequestError(413, f"{len(texts)} texts in one request; the limit is {limits.max_inputs}.")
    longest = max(len(text) for text in texts)
    if longest > limits.max_chars:
        raise RequestError(413, f"A text is {longest} characters long; the limit is {limits.max_chars}.")
    if not 1 <= parameters.top_k <= limits.max_top_k:
        raise RequestError(422, f"top_k must be between 1 and {limits.max_top_k}; it is {parameters.top_k}.")
    targets = parameters.targets
    if targets is not None and not targets:
        raise RequestError(422, "targets is an empty list; leave it out to rank the whole vocabulary.")
    if isinstance(targets, list) and len(targets) > limits.max_targets:
        raise RequestError(413, f"{len(targets)} targets; the limit is {limits.max_targets}.")


def create_app(models: dict[str, ServedModel], limits: Limits = Limits()) -> FastAPI:
    """The service for already loaded models (the first one is the default)."""
    default = next(iter(models))
    page = resources.files(__package__).joinpath("web", "index.html").read_text(encoding="utf-8")
    batchers = {name: MicroBatcher(model.engine.predict, max_batch=limits.max_batch,
                                   wait_s=limits.batch_wait_ms / 1000, max_queue=limits.max_queue,
                                   name=f"fill-mask-{name}")
                for name, model in models.items()}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for batcher in batchers.values():
            await batcher.start()
        yield
        for batcher in batchers.values():
            await batcher.stop()

    app = FastAPI(title="macedonizer fill-mask", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.batchers = batchers

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return _error(400, _validation_sentence(exc.errors()))

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError):
        return _error(exc.status, exc.message)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull):
        return _error(503, f"The server is busy ({exc}); try again shortly.", {"Retry-After": "1"})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "Internal server error; the server's log has the details.")

    async def fill(name: str, body: FillMaskRequest) -> JSONResponse:
        model = models.get(name)
        if model is None:
            raise RequestError(404, f"No model called {name!r}; GET /models lists them.")
        single = isinstance(body.inputs, str)
        texts = [body.inputs] if single else body.inputs
        parameters = body.parameters or Parameters()
        _check(texts, parameters, limits)
        engine = model.engine
        target_ids = engine.target_ids(parameters.targets) if parameters.targets is not None else None
        queries = [Query(engine.encode(text), parameters.top_k, target_ids) for text in texts]
        answers = await batchers[name].submit(queries)
        return JSONResponse(answers[0] if single else answers)

    @app.post("/fill-mask", summary="Fill the masks with the default model")
    async def fill_default(body: FillMaskRequest):
        return await fill(default, body)

    @app.post("/models/{name}/fill-mask", summary="Fill the masks with a named model")
    async def fill_named(name: str, body: FillMaskRequest):
        return await fill(name, body)

    @app.get("/health", summary="Liveness and the names of the models served")
    async def health():
        return {"status": "ok", "models": list(models)}

    @app.get("/models", summary="The models served: size, card metadata, evaluation, batching")
    async def list_models():
        return [{**model.info, "batching": {**batchers[name].stats, "waiting": batchers[name].waiting}}
                for name, model in models.items()]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo():
        return page

    return app
