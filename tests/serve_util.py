"""Raw HTTP for slow clients: a request sent in parts over a socket, and its answer."""

from __future__ import annotations

import socket


def raw_request_start(port: int, path: str, body: bytes, content_type: str, sent: int) -> socket.socket:
    """Open a connection and send the headers and the first ``sent`` bytes of the body (a slow client)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:sent])
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(status, body) of the one response on a ``Connection: close`` socket."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
