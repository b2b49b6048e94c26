"""A small Hugging Face Hub-compatible HTTP server for the tests.

It speaks the part of the protocol that huggingface_hub's ``create_repo``,
``repo_info``, ``upload_folder`` (without Xet), ``list_repo_tree``,
``hf_hub_download`` and ``snapshot_download`` use:

- whoami, repo creation (a new repo holds the Hub's default ``.gitattributes``),
  YAML validation, revision info, tree listing;
- preupload: like the real Hub, ``"lfs"`` for a path the ``.gitattributes``
  tracks (``*.safetensors``, ``*.bin``, ``*.onnx``, ...), a binary sample (a NUL
  byte) or a file over ``LFS_THRESHOLD``, ``"regular"`` otherwise; with the oid
  of the stored copy (git sha1, or the sha256 of an LFS file) so that unchanged
  files are skipped;
- the LFS batch API (``POST /{repo}.git/info/lfs/objects/batch``, basic transfer):
  an upload URL on this server for each object it lacks, none for those it has,
  and a verify action; the PUT checks the URL's signature and the body's SHA-256
  and size before it stores the object;
- NDJSON commits, atomic: ``file`` lines carry regular content, ``lfsFile`` lines a
  pointer to an uploaded object (a missing object or a binary file sent as
  regular content is refused, as the Hub refuses it);
- ``resolve`` (HEAD and GET) at a branch or a commit, with the real bytes of LFS
  files, ``X-Repo-Commit``, ``ETag`` and, for LFS files, ``X-Linked-Etag``/``-Size``.

It has no Xet storage and never advertises it (no ``X-Xet-*`` header, no
``xetHash`` in the tree, Xet token routes answer 404). Since huggingface_hub 1.x
decides on the client side to upload through Xet whenever ``hf_xet`` is installed,
``start`` sets ``HF_HUB_DISABLE_XET`` while the server runs and ``shutdown`` puts it back.

Faults are injected per call kind (``KINDS``): ``fail(kind, status)`` answers the
next such call with ``status`` (``applied=True``: after doing the work, as a lost
answer); ``down(kind, status)`` answers every such call so until ``up()``. Every
call is recorded as a ``Call(kind, method, path, status)``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlparse

TOKEN = "hf_test_token_do_not_leak_0123456789"
KINDS = ("whoami", "create", "info", "yaml", "preupload", "lfs-batch", "lfs-upload", "lfs-verify", "commit",
         "tree", "resolve-head", "resolve-get", "xet")
# What the Hub's default .gitattributes sends to LFS (a subset), and its size rule for everything else.
LFS_PATTERNS = ("*.bin", "*.ckpt", "*.gz", "*.h5", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
                "*.pkl", "*.pt", "*.pth", "*.safetensors", "*.tar", "*.tflite", "*.zip", "*tfevents*")
LFS_THRESHOLD = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in LFS_PATTERNS).encode()
INITIAL_COMMIT = "0" * 40


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


class Entry(NamedTuple):
    """A file at a commit: its bytes and, for an LFS file, the sha256 its pointer names."""

    data: bytes
    lfs: str | None = None

    @property
    def oid(self) -> str:  # what preupload reports, as the Hub does: sha256 for LFS, git sha1 otherwise
        return self.lfs or git_sha1(self.data)


class Call(NamedTuple):
    kind: str
    method: str
    path: str
    status: int


@dataclass
class Repo:
    private: bool
    commits: list[str] = field(default_factory=lambda: [INITIAL_COMMIT])  # oldest first
    snapshots: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {INITIAL_COMMIT: {".gitattributes": Entry(GITATTRIBUTES)}})
    changed: dict[str, list[str]] = field(default_factory=lambda: {INITIAL_COMMIT: [".gitattributes"]})
    lfs: dict[str, bytes] = field(default_factory=dict)  # the repo's LFS store: sha256 -> bytes

    @property
    def head(self) -> dict[str, Entry]:
        return self.snapshots[self.commits[-1]]

    @property
    def files(self) -> dict[str, bytes]:
        return {path: entry.data for path, entry in self.head.items()}

    def at(self, revision: str) -> tuple[str, dict[str, Entry]] | None:
        sha = self.commits[-1] if revision == "main" else revision
        return (sha, self.snapshots[sha]) if sha in self.snapshots else None


def should_be_lfs(path: str, size: int, sample: bytes) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (any(fnmatch.fnmatch(name, pattern) for pattern in LFS_PATTERNS) or size > LFS_THRESHOLD
            or b"\0" in sample)


class HubState:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.calls: list[Call] = []
        self.faults: dict[str, list[tuple[int, bool]]] = {}  # kind -> (status, applied) to answer next
        self.outages: dict[str, int] = {}  # kind -> status answered until up()
        self.retry_after = 1  # seconds, sent with every 429
        self.secret = os.urandom(16)
        self.lock = threading.RLock()

    # -- fault injection
    def fail(self, kind: str, *statuses: int, applied: bool = False):
        """Answer the next calls of ``kind`` with these statuses; ``applied``: do the work first (a lost answer)."""
        assert kind in KINDS, kind
        with self.lock:
            self.faults.setdefault(kind, []).extend((status, applied) for status in statuses)

    def down(self, kind: str, status: int):
        """Answer every call of ``kind`` with ``status`` until ``up``."""
        assert kind in KINDS, kind
        with self.lock:
            self.outages[kind] = status

    def up(self, kind: str | None = None):
        with self.lock:
            if kind is None:
                self.outages.clear()
            else:
                self.outages.pop(kind, None)

    def _fault(self, kind: str) -> tuple[int, bool] | None:
        with self.lock:
            if kind in self.outages:
                return self.outages[kind], False
            queue = self.faults.get(kind)
            return queue.pop(0) if queue else None

    # -- what happened
    def count(self, kind: str, status: int | None = None) -> int:
        return sum(1 for call in self.calls if call.kind == kind and (status is None or call.status == status))

    @property
    def requests(self) -> list[str]:
        return [f"{call.method} {call.path}" for call in self.calls]

    def sign(self, repo_id: str, oid: str, size: int) -> str:
        return hmac.new(self.secret, f"{repo_id}:{oid}:{size}".encode(), "sha256").hexdigest()


class Response(NamedTuple):
    status: int
    body: object = b""
    headers: dict = {}


def error(status: int, message: str, code: str | None = None, **headers) -> Response:
    headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {}), **headers}
    return Response(status, {"error": message}, headers)


NOT_FOUND = error(404, "Repository not found", "RepoNotFound")
UNAUTHORIZED = error(401, "Invalid credentials in Authorization header")


class Handler(BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    # -- plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response, head: bool):
        status, body, headers = response
        headers = dict(headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    @property
    def host(self) -> str:
        return f"http://{self.headers['Host']}"

    def _handle(self, method: str):
        url = urlparse(self.path)
        path = unquote(url.path)
        self.query = parse_qs(url.query)
        self.body = self._read_body()  # always, so that an early answer leaves the connection usable
        kind, handler = self._route(method, path)
        state = self.state
        fault = state._fault(kind) if kind else None
        with state.lock:
            if fault and not fault[1]:
                response = self._fault_response(fault[0])
            else:
                response = handler()
                if fault:
                    response = self._fault_response(fault[0])
            state.calls.append(Call(kind or "unknown", method, path, response.status))
        self._send(response, head=method == "HEAD")

    def _fault_response(self, status: int) -> Response:
        extra = {"Retry-After": self.state.retry_after} if status == 429 else {}
        return error(status, f"injected fault {status}", **extra)

    def _route(self, method: str, path: str):
        parts = path.strip("/").split("/")
        if "xet" in path and ("xet-write-token" in path or "xet-read-token" in path):
            return "xet", lambda: error(404, "This Hub has no Xet storage")
        if path == "/api/whoami-v2":
            return "whoami", self._whoami
        if path == "/api/repos/create" and method == "POST":
            return "create", self._create
        if path == "/api/validate-yaml" and method == "POST":
            return "yaml", lambda: Response(200, {"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id = "/".join(parts[2:4])
            action, rest = (parts[4], parts[5:]) if len(parts) > 4 else ("", [])
            if action == "" or action == "revision":
                return "info", lambda: self._info(repo_id, "/".join(rest) or "main")
            if action == "preupload" and method == "POST":
                return "preupload", lambda: self._preupload(repo_id)
            if action == "commit" and method == "POST":
                return "commit", lambda: self._commit(repo_id, "/".join(rest))
            if action == "tree":
                return "tree", lambda: self._tree(repo_id, rest[0] if rest else "main")
        if len(parts) == 6 and parts[1].endswith(".git") and parts[2:5] == ["info", "lfs", "objects"]:
            repo_id = f"{parts[0]}/{parts[1][:-4]}"
            if parts[5] == "batch" and method == "POST":
                return "lfs-batch", lambda: self._lfs_batch(repo_id)
            if parts[5] == "verify" and method == "POST":
                return "lfs-verify", lambda: self._lfs_verify(repo_id)
        if parts[0] == "lfs-upload" and len(parts) == 4 and method == "PUT":
            return "lfs-upload", lambda: self._lfs_upload("/".join(parts[1:3]), parts[3])
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            kind = "resolve-head" if method == "HEAD" else "resolve-get"
            return kind, lambda: self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        return None, lambda: error(404, f"Not found: {path}")

    # -- endpoints
    def _whoami(self):
        if not self._authorized():
            return UNAUTHORIZED
        return Response(200, {"type": "user", "name": "tester", "orgs": [], "auth": {"type": "access_token"}})

    def _create(self):
        body = json.loads(self.body or b"{}")
        if not self._authorized():
            return UNAUTHORIZED
        repo_id = f"{body.get('organization') or 'tester'}/{body['name']}"
        url = f"{self.host}/{repo_id}"
        if repo_id in self.state.repos:
            return Response(409, {"error": "You already created this model repo", "url": url})
        self.state.repos[repo_id] = Repo(private=bool(body.get("private")))
        return Response(200, {"url": url, "name": repo_id})

    def _revision(self, repo_id, revision):
        """(repo, (sha, files)) of a revision, or the Response the Hub gives when either is unknown."""
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        found = repo.at(revision)
        if found is None:
            return error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo, found

    def _info(self, repo_id, revision):
        looked_up = self._revision(repo_id, revision)
        if isinstance(looked_up, Response):
            return looked_up
        repo, (sha, files) = looked_up
        siblings = [{"rfilename": path} for path in sorted(files)]
        return Response(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private,
                              "siblings": siblings, "tags": [], "downloads": 0, "likes": 0})

    def _tree(self, repo_id, revision):
        repo = self.state.repos.get(repo_id)
        found = repo.at(revision) if repo else None
        if found is None:
            return NOT_FOUND
        entries = []
        for path, entry in sorted(found[1].items()):
            item = {"type": "file", "path": path, "size": len(entry.data)}
            if entry.lfs:
                pointer = lfs_pointer(entry.lfs, len(entry.data))
                item.update(oid=git_sha1(pointer), lfs={"oid": entry.lfs, "size": len(entry.data),
                                                         "pointerSize": len(pointer)})
            else:
                item["oid"] = git_sha1(entry.data)
            entries.append(item)
        return Response(200, entries)

    def _preupload(self, repo_id):
        if not self._authorized():
            return UNAUTHORIZED
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        files = []
        for item in json.loads(self.body)["files"]:
            mode = "lfs" if should_be_lfs(item["path"], item["size"], base64.b64decode(item["sample"])) else "regular"
            stored = repo.head.get(item["path"])
            files.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False,
                          "oid": stored.oid if stored else None})
        return Response(200, {"files": files, "commitOid": repo.commits[-1]})

    def _lfs_batch(self, repo_id):
        if not self._authorized():
            return UNAUTHORIZED
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        request = json.loads(self.body)
        if request.get("operation") != "upload" or "basic" not in request.get("transfers", ["basic"]):
            return error(422, "Only basic uploads are supported")
        objects = []
        for item in request["objects"]:
            oid, size = item["oid"], item["size"]
            answer = {"oid": oid, "size": size, "authenticated": True}
            if oid not in repo.lfs:  # otherwise no actions: the object is already there
                sig = self.state.sign(repo_id, oid, size)
                answer["actions"] = {
                    "upload": {"href": f"{self.host}/lfs-upload/{repo_id}/{oid}?size={size}&sig={sig}"},
                    "verify": {"href": f"{self.host}/{repo_id}.git/info/lfs/objects/verify"},
                }
            objects.append(answer)
        return Response(200, {"transfer": "basic", "objects": objects},
                        {"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_upload(self, repo_id, oid):
        size = int(self.query.get("size", ["-1"])[0])
        if not hmac.compare_digest(self.query.get("sig", [""])[0], self.state.sign(repo_id, oid, size)):
            return error(403, "Bad signature")
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        if len(self.body) != size or sha256(self.body) != oid:
            return error(400, f"Uploaded object does not match: expected sha256 {oid} and {size} bytes, got "
                              f"{sha256(self.body)} and {len(self.body)} bytes")
        repo.lfs[oid] = self.body
        return Response(200)

    def _lfs_verify(self, repo_id):
        if not self._authorized():
            return UNAUTHORIZED
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        item = json.loads(self.body)
        stored = repo.lfs.get(item["oid"])
        if stored is None or len(stored) != item["size"]:
            return error(404, f"LFS object {item['oid']} not found")
        return Response(200, {})

    def _commit(self, repo_id, revision):
        if not self._authorized():
            return UNAUTHORIZED
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return NOT_FOUND
        if revision != "main":
            return error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        files, changed = dict(repo.head), []
        for line in self.body.decode().splitlines():
            item = json.loads(line)
            key, value = item["key"], item.get("value", {})
            if key == "file":
                data = base64.b64decode(value["content"])
                if should_be_lfs(value["path"], len(data), data[:512]):
                    return error(400, f"Your push was rejected because {value['path']} must be stored with LFS")
                files[value["path"]] = Entry(data)
            elif key == "lfsFile":
                data = repo.lfs.get(value["oid"])
                if value.get("algo") != "sha256" or data is None or len(data) != value["size"]:
                    return error(400, f"Your push was rejected: LFS object {value['oid']} of {value['path']} "
                                      "was never uploaded")
                files[value["path"]] = Entry(data, value["oid"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: e for p, e in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            elif key != "header":
                return error(400, f"Unknown commit operation {key}")
            if key != "header":
                changed.append(value["path"])
        sha = hashlib.sha1(f"{repo_id}:{len(repo.commits)}".encode()).hexdigest()
        repo.snapshots[sha], repo.changed[sha] = files, changed
        repo.commits.append(sha)
        return Response(200, {"commitUrl": f"{self.host}/{repo_id}/commit/{sha}", "commitOid": sha,
                              "pullRequestUrl": None})

    def _resolve(self, repo_id, revision, filename):
        looked_up = self._revision(repo_id, revision)
        if isinstance(looked_up, Response):
            return looked_up
        repo, (sha, files) = looked_up
        if filename not in files:
            return error(404, "Entry not found", "EntryNotFound")
        entry = files[filename]
        headers = {"X-Repo-Commit": sha, "Content-Type": "application/octet-stream"}
        if entry.lfs:
            headers.update({"ETag": f'"{entry.lfs}"', "X-Linked-Etag": f'"{entry.lfs}"',
                            "X-Linked-Size": len(entry.data)})
        else:
            headers["ETag"] = f'"{git_sha1(entry.data)}"'
        return Response(200, entry.data, headers)


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: HubState):
        super().__init__(("127.0.0.1", 0), type("BoundHandler", (Handler,), {"state": state}))
        from huggingface_hub import constants

        self._saved_xet = constants.HF_HUB_DISABLE_XET, os.environ.get("HF_HUB_DISABLE_XET")
        constants.HF_HUB_DISABLE_XET = True  # read once, at import: the variable alone reaches subprocesses
        os.environ["HF_HUB_DISABLE_XET"] = "1"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no error of ours
            super().handle_error(request, client_address)

    def shutdown(self):
        from huggingface_hub import constants

        super().shutdown()
        self.server_close()
        constants.HF_HUB_DISABLE_XET, saved = self._saved_xet
        if saved is None:
            os.environ.pop("HF_HUB_DISABLE_XET", None)
        else:
            os.environ["HF_HUB_DISABLE_XET"] = saved


def start() -> tuple[FakeHub, HubState, str]:
    """Start on a free port of 127.0.0.1; return (server, state, endpoint). Call ``server.shutdown()`` after."""
    state = HubState()
    server = FakeHub(state)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"
