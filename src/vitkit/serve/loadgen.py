"""A lean HTTP/1.1 load generator for ``vitkit bench-serve``: N clients on keep-alive loopback connections.

Each client sends one prebuilt request (the same multipart upload) again and again and times each answer.
It is a few lines of asyncio rather than an HTTP library so that the clients, which share the machine
with the server, take as little CPU from it as possible.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoadResult:
    """Requests per second and latency percentiles (ms) at one number of concurrent clients."""

    clients: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    mean_batch: float = 0.0  # images per forward pass on the server (filled in by bench-serve)


def multipart_body(field: str, files: list[tuple[str, bytes]], boundary: str = "vitkitboundary") -> tuple[bytes, str]:
    """A multipart/form-data body with ``files`` (name, bytes) under ``field``, and its content type."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def build_request(port: int, path: str, body: bytes, content_type: str) -> bytes:
    """The bytes of one keep-alive POST to 127.0.0.1."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _client(
    port: int, request: bytes, deadline: float, budget: list[int], out: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            start = time.perf_counter()
            status = await _exchange(reader, writer, request)
            if status == 200:
                out.append(time.perf_counter() - start)
            else:
                errors[0] += 1
    finally:
        writer.close()


async def _run(port: int, request: bytes, clients: int, duration_s: float, max_requests: int) -> LoadResult:
    latencies: list[float] = []
    errors, budget = [0], [max_requests]
    start = time.perf_counter()
    await asyncio.gather(
        *(_client(port, request, start + duration_s, budget, latencies, errors) for _ in range(clients))
    )
    seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return LoadResult(
        clients,
        len(latencies),
        errors[0],
        seconds,
        len(latencies) / seconds,
        float(np.percentile(ms, 50)),
        float(np.percentile(ms, 99)),
    )


def load_test(port: int, request: bytes, clients: int, duration_s: float, max_requests: int) -> LoadResult:
    """``clients`` concurrent clients sending ``request`` for ``duration_s`` or ``max_requests`` in all."""
    return asyncio.run(_run(port, request, clients, duration_s, max_requests))
