"""An optional shared secret for the API: ``Authorization: Bearer <key>`` on every ``/v1/*`` request.

ASGI middleware outside everything else, so a request without the key is answered 401 before its body
is read. The comparison is ``hmac.compare_digest`` (time independent of where the strings differ).
``/healthz``, the page and its assets stay open: a load balancer probes health, and the page asks for
the key itself. The key comes from ``--api-key-file`` or ``VITKIT_API_KEY`` (``load_api_key``).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

ENV_VAR = "VITKIT_API_KEY"
PROTECTED_PREFIX = "/v1/"


def load_api_key(path: str | None) -> str | None:
    """The key in ``path`` (surrounding whitespace stripped), else ``$VITKIT_API_KEY``, else None."""
    if path is not None:
        try:
            key = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"--api-key-file {path}: cannot read ({' '.join(str(e).split())})") from None
        if not key:
            raise ConfigError(f"--api-key-file {path}: the file is empty (expected the key on one line)")
        return key
    key = os.environ.get(ENV_VAR, "").strip()
    return key or None


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ApiKey:
    """Refuse ``/v1/*`` requests without the right bearer token: 401, one line of JSON."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        why = "wrong API key" if given else "missing API key"
        body = json.dumps({"error": f"{why}: send the header 'Authorization: Bearer <key>'"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="vitkit"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
