"""A small Hugging Face Hub-compatible HTTP server for the tests.

It speaks the part of the protocol that huggingface_hub's ``create_repo``,
``upload_folder``, ``repo_info``, ``list_repo_tree``, ``hf_hub_download`` and
``snapshot_download`` use: whoami, repo creation, YAML validation, preupload
(every file "regular", with the oid of the stored copy so unchanged files are
skipped), NDJSON commits, revision info, tree listing and ``resolve`` with
``X-Repo-Commit`` and ``ETag``. Faults can be injected per endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

TOKEN = "hf_test_token_do_not_leak_0123456789"


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubState:
    def __init__(self):
        self.repos: dict[str, dict] = {}  # repo_id -> {"files": {path: bytes}, "commits": [sha]}
        self.faults: dict[str, list[int]] = {}  # endpoint name -> statuses to answer next
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def fault(self, name: str) -> int | None:
        with self.lock:
            queue = self.faults.get(name)
            return queue.pop(0) if queue else None


class Handler(BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # -- helpers
    def _send(self, status: int, body=b"", headers: dict | None = None, head: bool = False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def _error(self, status: int, message: str, code: str | None = None):
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, {"error": message}, headers)

    def _repo(self, repo_id: str):
        return self.state.repos.get(repo_id)

    # -- routing
    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    def do_POST(self):
        self._route("POST")

    def _route(self, method: str):
        path = unquote(urlparse(self.path).path)
        self.state.requests.append(f"{method} {path}")
        parts = path.strip("/").split("/")
        if path == "/api/whoami-v2":
            return self._whoami()
        if path == "/api/repos/create" and method == "POST":
            return self._create()
        if path == "/api/validate-yaml" and method == "POST":
            self._body()
            return self._send(200, {"errors": [], "warnings": []})
        if parts[:2] == ["api", "models"] and len(parts) >= 5:
            repo_id, action = "/".join(parts[2:4]), parts[4]
            if action == "preupload" and method == "POST":
                return self._preupload(repo_id)
            if action == "commit" and method == "POST":
                return self._commit(repo_id)
            if action == "revision":
                return self._info(repo_id)
            if action == "tree":
                return self._tree(repo_id)
        if parts[:2] == ["api", "models"] and len(parts) == 4:
            return self._info(repo_id="/".join(parts[2:4]))
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), "/".join(parts[4:]), head=method == "HEAD")
        self._error(404, f"Not found: {path}")

    # -- endpoints
    def _whoami(self):
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        self._send(200, {"type": "user", "name": "tester", "orgs": [], "auth": {"type": "access_token"}})

    def _create(self):
        body = json.loads(self._body() or b"{}")
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        status = self.state.fault("create")
        if status:
            return self._error(status, "injected fault")
        repo_id = f"{body.get('organization') or 'tester'}/{body['name']}"
        url = f"http://{self.headers['Host']}/{repo_id}"
        if repo_id in self.state.repos:
            return self._send(409, {"error": "You already created this model repo", "url": url})
        self.state.repos[repo_id] = {"files": {}, "commits": ["0" * 40], "private": bool(body.get("private"))}
        self._send(200, {"url": url, "name": repo_id})

    def _preupload(self, repo_id):
        body = json.loads(self._body())
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "Repository not found", "RepoNotFound")
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": git_sha1(repo["files"][f["path"]]) if f["path"] in repo["files"] else None}
                 for f in body["files"]]
        self._send(200, {"files": files, "commitOid": repo["commits"][-1]})

    def _commit(self, repo_id):
        body = self._body()
        if not self._authorized():
            return self._error(401, "Invalid credentials in Authorization header")
        status = self.state.fault("commit")
        if status:
            return self._error(status, "injected fault")
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "Repository not found", "RepoNotFound")
        for line in body.decode().splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                repo["files"][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] == "deletedFile":
                repo["files"].pop(item["value"]["path"], None)
        sha = hashlib.sha1(f"{repo_id}:{len(repo['commits'])}".encode()).hexdigest()
        repo["commits"].append(sha)
        host = self.headers["Host"]
        self._send(200, {"commitUrl": f"http://{host}/{repo_id}/commit/{sha}", "commitOid": sha,
                         "pullRequestUrl": None})

    def _info(self, repo_id):
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "Repository not found", "RepoNotFound")
        siblings = [{"rfilename": path, "size": len(data)} for path, data in sorted(repo["files"].items())]
        self._send(200, {"id": repo_id, "modelId": repo_id, "sha": repo["commits"][-1], "private": repo["private"],
                         "siblings": siblings, "tags": [], "downloads": 0, "likes": 0})

    def _tree(self, repo_id):
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "Repository not found", "RepoNotFound")
        self._send(200, [{"type": "file", "path": path, "size": len(data), "oid": git_sha1(data)}
                         for path, data in sorted(repo["files"].items())])

    def _resolve(self, repo_id, filename, head):
        repo = self._repo(repo_id)
        if repo is None:
            return self._error(404, "Repository not found", "RepoNotFound")
        if filename not in repo["files"]:
            return self._error(404, "Entry not found", "EntryNotFound")
        data = repo["files"][filename]
        headers = {"X-Repo-Commit": repo["commits"][-1], "ETag": f'"{git_sha1(data)}"',
                   "Content-Type": "application/octet-stream"}
        self._send(200, data, headers, head=head)


def start() -> tuple[ThreadingHTTPServer, HubState, str]:
    """Start on a free port of 127.0.0.1; return (server, state, endpoint)."""
    state = HubState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"
