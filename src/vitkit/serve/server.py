"""``run_server``: load the checkpoint, then serve it with uvicorn until SIGINT/SIGTERM.

The checkpoint (and the ``--neighbors`` file) are loaded before the port opens, so a bad file is a
one-line error and no server; warm-up runs after, while ``/healthz`` answers 503. On SIGINT/SIGTERM
uvicorn stops accepting connections, lets requests in flight finish (up to the request timeout and a
margin), then the batchers and thread pools are stopped.
"""

from __future__ import annotations

import signal
import socket
from dataclasses import dataclass, field

from ..data.decode import get_max_image_pixels, set_max_image_pixels
from ..errors import ConfigError
from .app import ServeOptions, create_app
from .engine import Engine
from .gallery import Gallery

SHUTDOWN_MARGIN_S = 5.0


@dataclass
class ServerSpec:
    """What ``vitkit serve`` was asked for."""

    checkpoint: str
    host: str = "127.0.0.1"
    port: int = 8000
    backend: str = "auto"
    device: str | None = None
    neighbors: str | None = None
    access_log: bool = False
    options: ServeOptions = field(default_factory=ServeOptions)


def check_address(host: str, port: int) -> None:
    """A ConfigError now, before the model loads, if ``host:port`` cannot be listened on (in use, not ours)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host}: cannot resolve ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as e:
            raise ConfigError(f"--host {host} --port {port}: cannot listen there ({e.strerror})") from None


def build_app(spec: ServerSpec):
    """Load everything ``spec`` names and return the ASGI app (errors are vitkit's one-line ones)."""
    from ..use.backend import say

    engine = Engine(
        spec.checkpoint, backend=spec.backend, device=spec.device, max_batch=spec.options.max_batch, say=say
    )
    limits = spec.options.limits
    if limits.max_pixels > get_max_image_pixels():  # Pillow's own bomb limit must not refuse first
        set_max_image_pixels(limits.max_pixels)
    gallery = Gallery(spec.neighbors, int(engine.config.embed_dim), limits.max_pixels) if spec.neighbors else None
    return create_app(engine, spec.options, gallery)


def run_server(spec: ServerSpec) -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    check_address(spec.host, spec.port)
    app = build_app(spec)
    config = uvicorn.Config(
        app,
        host=spec.host,
        port=spec.port,
        access_log=spec.access_log,
        log_level="info",
        timeout_graceful_shutdown=int(spec.options.limits.request_timeout_s + SHUTDOWN_MARGIN_S),
        lifespan="on",
    )
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; for SIGTERM that
    # would kill the process with -15 after a clean shutdown, so it is ignored here and the command exits 0
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        uvicorn.Server(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
