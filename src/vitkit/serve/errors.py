"""The server's one error type: a request the client got wrong, answered with a 4xx and a one-line JSON body."""

from __future__ import annotations

from ..errors import VitkitError


class RequestError(VitkitError):
    """A bad request: ``status`` is the HTTP status (400, 404, 413, 415, 422, 501, 503, 504), the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
