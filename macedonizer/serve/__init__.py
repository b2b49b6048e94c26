"""``macedonizer serve``: fill-mask over HTTP for apps, with a web demo.

engine.py   checks and encodes texts; one forward pass per batch, pipeline-shaped answers
batcher.py  dynamic micro-batching of concurrent requests (asyncio queue + one worker thread)
models.py   --model specs, loading, what GET /models says
app.py      the FastAPI routes and the one-sentence JSON errors
web/        the single-page demo (index.html)

FastAPI and uvicorn come with the ``serve`` extra; the rest of macedonizer
does not need them. So ``run`` imports them, and ``app`` (built on FastAPI),
only once ``require_extra`` has found them installed.
"""

from __future__ import annotations

import errno
import socket

from ..errors import MacedonizerError
from .engine import Limits
from .models import load_all, parse_specs

INSTALL_HINT = "The HTTP service needs FastAPI and uvicorn: pip install 'macedonizer[serve]'."


def require_extra() -> None:
    """Fail with one sentence when the ``serve`` extra is not installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MacedonizerError(INSTALL_HINT) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one sentence saying why there cannot be one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise MacedonizerError(f"Cannot listen on {host!r}: no such host name or address.") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise MacedonizerError(f"Port {port} on {host} is in use; choose another with --port.") from None
        raise MacedonizerError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
    sock.listen(2048)
    return sock


def _url_host(host: str) -> str:
    """An address as a URL names it (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


def run(model_values: list[str], host: str = "127.0.0.1", port: int = 8000, limits: Limits = Limits(),
        backend: str = "torch", log_level: str = "info") -> None:
    """Load the models and serve them until interrupted (``backend``: "torch" or "onnx")."""
    require_extra()
    import uvicorn

    from .app import create_app

    specs = parse_specs(model_values)
    sock = bind(host, port)  # before the models load, so a taken port fails at once
    try:
        app = create_app(load_all(specs, backend), limits)
        # uvicorn does not say where it listens on a socket it is given; with --port 0 only this says it.
        address = sock.getsockname()
        print(f"Serving on http://{_url_host(address[0])}:{address[1]} (Ctrl-C stops)", flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level=log_level)).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped; uvicorn has shut down cleanly
        pass
    finally:
        sock.close()
