"""A local stand-in for the official checkpoint bucket: serves bytes under bucket paths on 127.0.0.1.

Supports HTTP Range (206), counts the bytes it sends per path, and can misbehave on request: answer 404 or
500, send an HTML page, drop the connection after N bytes, or hold a download after its first chunk until the
test opens a gate (the concurrent-download test).
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTML = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"


@dataclass
class Bucket:
    """What the server holds and what it did: ``files`` by path, ``mode`` by path, bytes ``served`` by path."""

    files: dict[str, bytes] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)  # ok | 404 | 500 | html | html-as-binary | drop:N | gated
    gate: threading.Event = field(default_factory=threading.Event)  # "gated": hold after the first chunk until set
    served: dict[str, int] = field(default_factory=dict)
    ranges: list[tuple[str, str | None]] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # per request: path, range, bytes sent
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    hf_commit: str = "0123456789abcdef0123456789abcdef01234567"

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return path

    def add_hf(self, repo: str, filename: str, data: bytes) -> str:
        """A file of a Hugging Face repo, served as the hub does (``REPO/resolve/main/FILE``, commit + etag; also
        under the commit instead of ``main``), and listed by the hub's API (``snapshot_download`` lists first)."""
        return self.add(f"{repo}/resolve/main/{filename}", data)

    def hf_files(self, repo: str) -> dict[str, bytes]:
        prefix = f"{repo}/resolve/main/"
        return {k.removeprefix(prefix): v for k, v in self.files.items() if k.startswith(prefix)}

    def key(self, path: str) -> str:
        """A request path as ``files`` holds it: ``REPO/resolve/COMMIT/FILE`` is ``REPO/resolve/main/FILE``."""
        return path.replace(f"/resolve/{self.hf_commit}/", "/resolve/main/", 1)

    def hf_api(self, path: str) -> bytes | None:
        """``api/models/ORG/NAME/revision/REV`` (repo info) and ``.../tree/REV`` (the file list), as JSON."""
        parts = path.split("/")
        if len(parts) < 6 or parts[:2] != ["api", "models"] or parts[4] not in ("revision", "tree"):
            return None
        repo = "/".join(parts[2:4])
        files = self.hf_files(repo)
        if not files:
            return None
        if parts[4] == "revision":
            info = {"id": repo, "sha": self.hf_commit, "siblings": [{"rfilename": f} for f in files]}
            return json.dumps(info).encode()
        tree = [
            {"type": "file", "path": f, "size": len(d), "oid": hashlib.sha1(d).hexdigest()} for f, d in files.items()
        ]
        return json.dumps(tree).encode()


def _handler(bucket: Bucket) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

        def do_HEAD(self) -> None:  # huggingface_hub asks for a file's metadata first
            path = bucket.key(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/"))
            if path not in bucket.files or bucket.mode.get(path) in ("404", "500"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self._hf_headers(path)
            self.send_header("Content-Length", str(len(bucket.files[path])))
            self.end_headers()

        def _hf_headers(self, path: str) -> None:
            if "/resolve/" in path:
                self.send_header("X-Repo-Commit", bucket.hf_commit)
                self.send_header("ETag", '"' + hashlib.sha256(bucket.files[path]).hexdigest() + '"')

        def do_GET(self) -> None:
            path = bucket.key(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/"))
            rng = self.headers.get("Range")
            self.record = {"path": path, "range": rng, "sent": 0}
            with bucket.lock:
                bucket.ranges.append((path, rng))
                bucket.requests.append(self.record)
            if path.startswith("api/"):
                listing = bucket.hf_api(path)
                if listing is None:
                    self.send_error(404)
                else:
                    self._send(200, listing, "application/json", path)
                return
            mode = bucket.mode.get(path, "ok")
            if path not in bucket.files or mode in ("404", "500"):
                code = 500 if mode == "500" else 404
                self.send_error(code)
                return
            if mode == "html":
                self._send(200, HTML, "text/html; charset=utf-8", path)
                return
            data = bucket.files[path] if mode != "html-as-binary" else HTML
            start = int(rng.split("=")[1].split("-")[0]) if rng else 0
            if start >= len(data):
                self.send_error(416)
                return
            self._send(
                206 if rng else 200,
                data[start:],
                "application/octet-stream",
                path,
                mode,
                content_range=f"bytes {start}-{len(data) - 1}/{len(data)}" if rng else None,
            )

        def _send(
            self, code: int, body: bytes, ctype: str, path: str, mode: str = "ok", content_range: str | None = None
        ) -> None:
            self.send_response(code)
            self._hf_headers(path)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if content_range:
                self.send_header("Content-Range", content_range)
            self.end_headers()
            limit = int(mode.split(":")[1]) if mode.startswith("drop:") else len(body)
            step = 8192
            for i in range(0, min(limit, len(body)), step):
                chunk = body[i : min(i + step, limit)]
                self.wfile.write(chunk)
                with bucket.lock:
                    bucket.served[path] = bucket.served.get(path, 0) + len(chunk)
                    self.record["sent"] += len(chunk)
                if mode == "gated" and i == 0:
                    bucket.gate.wait(timeout=120)
            if limit < len(body):
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # drop: the client sees fewer bytes than Content-Length

    return Handler


class BucketServer:
    """``with BucketServer() as bucket:`` a server in a thread; ``bucket.url`` is its base URL."""

    def __enter__(self) -> Bucket:
        self.bucket = Bucket()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.bucket))
        self.server.daemon_threads = True
        self.bucket.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self.bucket

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
