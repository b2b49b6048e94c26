"""Publishing to and downloading from the Hugging Face Hub.

``push`` creates the repo when needed and uploads a model folder in one
commit (huggingface_hub skips files whose content the Hub already has, so an
unchanged folder makes no new commit, and an interrupted push run again
uploads only what is missing). ``pull`` is ``snapshot_download``, which works
offline from the cache with ``HF_HUB_OFFLINE=1``. ``HF_TOKEN``,
``HF_ENDPOINT`` and ``HF_HOME`` are honoured, and a token never appears in a message.

Retries. huggingface_hub retries some of its own requests (``http_backoff``:
408, 429, 5xx and dropped connections, up to 5 retries): preupload, the LFS batch
call, LFS uploads, tree listing, a download's HEAD, and the commit only on its
Xet upload path. It does not retry ``create_repo``, ``repo_info``
(``snapshot_download``'s first call), the README check, the commit of an upload
without Xet, or a download's GET on a 5xx; and an LFS upload that keeps failing
arrives as a ``RuntimeError``, a failed ``repo_info`` under ``snapshot_download``
as a ``LocalEntryNotFoundError``. So every Hub call here goes through
``_with_retries``: it finds the HTTP error under those wrappers, waits
(``Retry-After`` when the Hub sends one) and runs the whole call again on a
retryable status, then ends in one sentence (``HubError``). Running a whole
``upload_folder`` again is safe: committed files are skipped, uploaded LFS objects
are not sent twice, and a commit is atomic, so no partial commit is ever left.
"""

from __future__ import annotations

import fnmatch
import os
import time
from pathlib import Path

from huggingface_hub import HfApi, errors, snapshot_download
from huggingface_hub.errors import (HfHubHTTPError, HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                    RevisionNotFoundError)

from .configs import check_repo_id
from .errors import ConfigError, HubError, InputError, MacedonizerError

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md")
IGNORE_PATTERNS = ["checkpoints/*", "tensorboard/*", ".*"]
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}  # huggingface_hub's own list
RETRIES = 5  # tries of a whole call: waits of 1, 2, 4 and 8 s between them
BACKOFF = 1.0
MAX_WAIT = 60.0  # the longest Retry-After obeyed
_sleep = time.sleep


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _token(token: str | None) -> str | None:
    return token or os.environ.get("HF_TOKEN") or None


def _clean(message: str, token: str | None) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return first.replace(token, "***") if token else first


def network_errors() -> tuple[type[Exception], ...]:
    """What huggingface_hub (and datasets, through it) raise when the Hub refuses or cannot be reached.

    ``OSError`` holds its HTTP errors (``HfHubHTTPError``), ``ConnectionError``,
    timeouts, the offline mode, a missing cache entry and, before huggingface_hub
    1.0, every ``requests`` error; ``huggingface_hub.errors.HTTPError`` is the base
    error of the HTTP library it was built on (``requests``, ``httpx`` or ``httpx2``);
    ``XetDownloadError``, a failed download from Xet storage (newer versions only).
    """
    return OSError, *(getattr(errors, name) for name in ("HTTPError", "XetDownloadError") if hasattr(errors, name))


def _explain(exc: BaseException, repo_id: str, token: str | None, tries: int = 1) -> MacedonizerError:
    """One sentence for whatever huggingface_hub raised."""
    if isinstance(exc, RepositoryNotFoundError):
        return HubError(f"Repository {repo_id} was not found on {_endpoint()} (or your token cannot see it).")
    if isinstance(exc, RevisionNotFoundError):
        return HubError(f"Repository {repo_id} has no such revision.")
    if isinstance(exc, LocalEntryNotFoundError):
        return HubError(f"{repo_id} is not in the local cache, and the Hub cannot be reached (offline?).")
    if isinstance(exc, HFValidationError):
        return ConfigError(f"Invalid repo id {repo_id!r}: {_clean(str(exc), token)}")
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in (401, 403):
            return HubError(
                f"The Hub refused the request ({status}): set HF_TOKEN to a token with write access to {repo_id}."
                if token else f"The Hub needs a token ({status}): set HF_TOKEN or run `hf auth login`."
            )
        after = f" (after {tries} tries)" if tries > 1 else ""
        return HubError(f"The Hub answered {status} for {repo_id}{after}: {_clean(str(exc), token)}")
    if isinstance(exc, OSError) and exc.filename:  # a local file, not the network: a full disk, a read-only folder
        return MacedonizerError(f"Cannot access {exc.filename}: {exc.strerror or exc}.")
    return HubError(f"Cannot reach the Hub at {_endpoint()}: {_clean(str(exc), token)}")


def _hub_error(exc: BaseException) -> BaseException:
    """The HTTP error huggingface_hub wrapped: an LFS upload raises ``RuntimeError`` from it, and
    ``snapshot_download``/``hf_hub_download`` raise ``LocalEntryNotFoundError`` from it when the file is not cached."""
    cause = exc.__cause__
    if isinstance(exc, LocalEntryNotFoundError) and isinstance(cause, HfHubHTTPError):
        return cause
    if type(exc) is RuntimeError and isinstance(cause, network_errors()):
        return cause
    return exc


def _wait(exc: BaseException, attempt: int) -> float:
    response = getattr(exc, "response", None)
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    if retry_after.strip().isdigit():
        return min(float(retry_after), MAX_WAIT)
    return BACKOFF * 2**attempt


def _with_retries(call, token: str | None, repo_id: str):
    """``call()``, run again on a retryable HTTP status; whatever the Hub refuses becomes one sentence."""
    for attempt in range(RETRIES):
        try:
            return call()
        except Exception as exc:
            error = _hub_error(exc)
            if not isinstance(error, (*network_errors(), HFValidationError)):
                raise  # a bug keeps its traceback
            response = getattr(error, "response", None)
            status = response.status_code if response is not None else None
            if status in RETRY_STATUSES and attempt + 1 < RETRIES:
                _sleep(_wait(error, attempt))
                continue
            raise _explain(error, repo_id, token, tries=attempt + 1) from None


def files_to_push(model_dir: Path) -> list[tuple[str, int]]:
    """(path in repo, size) of every file ``push`` uploads."""
    files = []
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(model_dir).as_posix()
        if any(fnmatch.fnmatch(relative, pattern) for pattern in IGNORE_PATTERNS):
            continue
        files.append((relative, path.stat().st_size))
    return files


def push(model_dir: str | os.PathLike, repo_id: str, private: bool = False, revision: str | None = None,
         commit_message: str | None = None, dry_run: bool = False, token: str | None = None) -> dict:
    """Upload a complete model folder; return what happened (url, commit, files)."""
    model_dir = Path(model_dir)
    check_repo_id(repo_id)
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        hint = " (run `macedonizer card` first)" if missing == ["README.md"] else ""
        raise InputError(f"{model_dir} is not a complete model: {', '.join(missing)} missing{hint}.")
    files = files_to_push(model_dir)
    url = f"{_endpoint()}/{repo_id}"
    if dry_run:
        return {"url": url, "revision": revision or "main", "files": files, "commit": None, "dry_run": True}
    token = _token(token)
    if token is None:
        raise HubError("No Hub token: set HF_TOKEN (or run `hf auth login`) to push.")
    api = HfApi(endpoint=_endpoint(), token=token)
    _with_retries(lambda: api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"), token, repo_id)
    if revision:
        _with_retries(lambda: api.create_branch(repo_id, branch=revision, exist_ok=True), token, repo_id)
    before = _with_retries(lambda: api.repo_info(repo_id, revision=revision), token, repo_id).sha
    info = _with_retries(lambda: api.upload_folder(
        repo_id=repo_id, folder_path=str(model_dir), revision=revision, ignore_patterns=IGNORE_PATTERNS,
        commit_message=commit_message or f"Upload {model_dir.name} with macedonizer",
    ), token, repo_id)
    commit = getattr(info, "oid", None)
    return {"url": url, "revision": revision or "main", "files": files, "commit": commit,
            "changed": commit is not None and commit != before, "dry_run": False}


def pull(repo_id: str, out: str | os.PathLike | None = None, revision: str | None = None,
         cache_dir: str | os.PathLike | None = None, token: str | None = None) -> Path:
    """Download a published model (or find it in the cache when offline); return its folder."""
    check_repo_id(repo_id)
    token = _token(token)
    path = _with_retries(lambda: snapshot_download(
        repo_id, revision=revision, local_dir=str(out) if out else None, endpoint=_endpoint(), token=token,
        cache_dir=str(cache_dir) if cache_dir else None,
    ), token, repo_id)
    return Path(path)
