"""Shard lists and tar streams: brace expansion, local files and ``pipe:`` commands."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator

from vitkit.data.errors import DataError, one_line

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_BRACE = re.compile(r"\{([^{}]*)\}")


def expand_braces(pattern: str) -> list[str]:
    """Expand ``{000..099}`` (zero padding kept) and ``{a,b,c}`` groups, left to right, every combination.

    >>> expand_braces("s-{0..2}.tar")
    ['s-0.tar', 's-1.tar', 's-2.tar']
    """
    parts = _BRACE.split(pattern)  # literal, group, literal, group, ..., literal
    choices = [[p] if k % 2 == 0 else _expand_group(p, pattern) for k, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def _expand_group(group: str, pattern: str) -> list[str]:
    m = re.fullmatch(r"(\d+)\.\.(\d+)", group)
    if m:
        lo, hi = m.group(1), m.group(2)
        if int(hi) < int(lo):
            raise DataError(f"{pattern}: empty range {{{group}}}")
        width = len(lo) if lo.startswith("0") and len(lo) > 1 else 0
        return [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    if "," in group:
        return group.split(",")
    raise DataError(f"{pattern}: cannot expand {{{group}}} (expected {{first..last}} or {{a,b,...}})")


def is_shard_spec(spec: str) -> bool:
    """Whether ``spec`` names tar shards: ``pipe:...`` or a path ending in .tar/.tar.gz/.tgz."""
    return spec.startswith("pipe:") or spec.lower().endswith(TAR_SUFFIXES)


def iter_tar(url: str) -> Iterator[tuple[str, bytes]]:
    """``(member name, bytes)`` for every regular file of the tar at ``url``, read as a stream.

    ``url`` is a path or ``pipe:<shell command>`` whose stdout is the tar. A command that fails
    (non-zero exit while we read it to the end) or a damaged tar is a DataError naming ``url``.
    """
    if url.startswith("pipe:"):
        yield from _iter_pipe(url)
        return
    try:
        with open(url, "rb") as f:
            yield from _iter_stream(f, url)
    except OSError as exc:
        raise DataError(f"{url}: cannot read shard ({one_line(exc)})") from None


def _iter_pipe(url: str) -> Iterator[tuple[str, bytes]]:
    # stderr goes to a file, not a pipe: a chatty command could fill an unread pipe and block forever.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(url[len("pipe:") :], shell=True, stdout=subprocess.PIPE, stderr=err)
        try:
            yield from _iter_stream(proc.stdout, url)
        except DataError as exc:  # a command that failed explains a broken stream better than tarfile
            status = _close(proc, drain=False)
            raise (_exit_error(url, status, err) if status > 0 else exc) from None
        except BaseException:  # the reader stopped early (or failed): do not leave the command running
            proc.kill()
            _close(proc, drain=False)
            raise
        status = _close(proc, drain=True)
        if status != 0:
            raise _exit_error(url, status, err)


def _close(proc: subprocess.Popen, drain: bool) -> int:
    if drain:  # tarfile stops at the end-of-archive marker; unread padding would SIGPIPE the writer
        while proc.stdout.read(1 << 16):
            pass
    proc.stdout.close()
    return proc.wait()


def _exit_error(url: str, status: int, err) -> DataError:
    err.seek(0)
    detail = " ".join(err.read().decode(errors="replace").split())[-200:]
    return DataError(f"{url}: command exited with status {status}" + (f" ({detail})" if detail else ""))


def _iter_stream(fileobj, url: str) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for member in tar:
                if member.isfile():
                    yield member.name, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise DataError(f"{url}: cannot read tar stream ({one_line(exc)})") from None


def local_path(url: str) -> str | None:
    """The file path of a local shard, None for a ``pipe:`` one."""
    return None if url.startswith("pipe:") else os.fspath(url)
