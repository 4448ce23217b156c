"""Several grid workers on one terminal: every line a worker prints starts with its tag and the run it is on
(``w1 token-lr0.001/s2 [train] step 500/3000 ...``), so interleaved lines can be told apart."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


class TaggedStream(io.TextIOBase):
    """A text stream that writes ``tag + label`` at the start of every line to ``stream``."""

    def __init__(self, stream: TextIO, tag: str) -> None:
        self.stream, self.tag, self.label = stream, tag, ""
        self._line_start = True

    def write(self, text: str) -> int:
        parts = []
        for piece in text.splitlines(keepends=True):
            if self._line_start:
                parts.append(self.tag + self.label)
            parts.append(piece)
            self._line_start = piece.endswith(("\n", "\r"))
        self.stream.write("".join(parts))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False  # plain progress lines: several processes' progress bars on one terminal garble


@contextmanager
def tagged_output(tag: str) -> Iterator[Callable[[str], None]]:
    """Tag this process's stdout and stderr; yields a function that sets the label after the tag."""
    saved = sys.stdout, sys.stderr
    streams = TaggedStream(sys.stdout, tag), TaggedStream(sys.stderr, tag)
    sys.stdout, sys.stderr = streams

    def set_label(label: str) -> None:
        for stream in streams:
            stream.label = label

    try:
        yield set_label
    finally:
        for stream in streams:
            stream.flush()
        sys.stdout, sys.stderr = saved
