"""One URL into one cache file: streamed with a progress bar, resumable, atomic, verified, locked.

Bytes go to ``FILE.part`` (kept if the connection drops: the next call asks the server for the rest with an
HTTP Range request); the finished file is checked (size, a checkpoint's leading bytes, sha256 against the
registry or what was recorded the first time) and only then renamed to ``FILE``. A file lock makes
concurrent processes fetching the same file wait for one download instead of racing.
"""

from __future__ import annotations

import errno
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from filelock import FileLock, Timeout

from . import cache
from .errors import HubError

TIMEOUT_S = 60
# leading bytes of what a checkpoint file can be: a zip (.npz) or safetensors (8-byte header length, then '{')
MAGIC = {".npz": (b"PK\x03\x04",), ".pth": (b"PK\x03\x04", b"\x80"), ".safetensors": ()}


def fetch_url(url: str, dest: Path, expected: dict | None = None) -> Path:
    """``url`` cached at ``dest`` (downloaded, or resumed, unless already there and intact).

    ``expected``: what the registry knows of the file (``size`` in bytes, ``listed_size`` from the official
    listing, ``sha256``), enforced on the download and on the cached copy. A cached copy that fails them is
    refused (one line on stderr naming it and what was expected) and downloaded again over it.
    """
    expected = expected or {}
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        lock = _acquire(dest)
        try:
            why = cache.problem(dest, expected)  # another process may just have finished it
            if why is None:
                return dest
            if dest.exists():
                print(f"vitkit: refused the cached {dest}: {why}; downloading it again", file=sys.stderr, flush=True)
            return _download(url, dest, expected)
        finally:
            lock.release()
    except OSError as e:
        raise HubError(_disk_problem(e, dest)) from None


def _acquire(dest: Path) -> FileLock:
    """The file's lock, acquired; says so on stderr when another process holds it (and we wait)."""
    lock = FileLock(str(dest) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"vitkit: waiting for another process downloading {dest.name}", file=sys.stderr, flush=True)
        lock.acquire()
    return lock


def _download(url: str, dest: Path, expected: dict) -> Path:
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset)
    except _RangeRefused:  # the part is whole or stale (the file changed on the server): start over
        part.unlink()
        offset, response = 0, _open(url, 0)
    if offset and response.status != 206:  # the server ignored the Range: start over
        offset = 0
    total = _total(response, offset)
    if total is not None and (why := cache.size_problem(total, expected)):
        response.close()
        raise HubError(f"{url}: the server offers {why}; nothing cached")
    _stream(response, part, offset, total, url)
    digest = _check(url, part, dest, expected)
    os.replace(part, dest)
    cache.record(dest, digest)
    return dest


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    headers = {"User-Agent": "vitkit", **({"Range": f"bytes={offset}-"} if offset else {})}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            raise _RangeRefused from None
        raise HubError(f"{url}: the server answered {e.code} {e.reason}; nothing cached") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise HubError(f"{url}: cannot connect ({reason}); nothing cached") from None
    ctype = response.headers.get("Content-Type", "")
    if ctype.startswith("text/html"):
        response.close()
        raise HubError(
            f"{url}: the server sent an HTML page, not a checkpoint (a login or error page?); nothing cached"
        )
    return response


class _RangeRefused(Exception):
    """The server answered 416 to a resume request."""


def _total(response: http.client.HTTPResponse, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def _stream(response: http.client.HTTPResponse, part: Path, offset: int, total: int | None, url: str) -> None:
    from tqdm.auto import tqdm

    done = offset
    with (
        response,
        open(part, "ab" if offset else "wb") as f,
        tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name[: -len(".part")],
            disable=os.environ.get("VITKIT_NO_PROGRESS") == "1",
        ) as bar,
    ):
        try:
            while chunk := response.read1(cache.CHUNK):  # what has arrived, so the bar moves
                f.write(chunk)
                f.flush()  # what arrived is on disk even if this process is killed: the next call resumes there
                done += len(chunk)
                bar.update(len(chunk))
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as e:
            f.flush()
            raise HubError(
                f"{url}: download interrupted after {done} bytes ({type(e).__name__}); "
                "run the same command again to resume"
            ) from None
    if total is not None and done < total:
        raise HubError(
            f"{url}: download interrupted after {done} of {total} bytes; run the same command again to resume"
        )


def _check(url: str, part: Path, dest: Path, expected: dict) -> str:
    """The finished download's sha256; refuse (and delete) it if it is not the expected checkpoint."""
    with open(part, "rb") as f:
        head = f.read(16)
    magic = MAGIC.get(dest.suffix.lower(), ())
    got = ""
    problem = cache.size_problem(part.stat().st_size, expected)
    if problem is None and head.lstrip().lower().startswith((b"<!doctype", b"<html")):
        problem = "an HTML page, not a checkpoint"
    elif problem is None and magic and not head.startswith(magic):
        problem = f"not a {dest.suffix} file (starts with {head[:8]!r})"
    elif problem is None and (tail := cache.tail_problem(part, dest.suffix)):
        problem = tail
    elif problem is None:
        want = expected.get("sha256") or (cache.recorded(dest) or {}).get("sha256")
        got = cache.sha256_of(part)
        if want and got != want:
            known = "the registry's" if expected.get("sha256") else "the one recorded at the first download"
            problem = f"sha256 {got} differs from {known}, {want}"
    if problem:
        part.unlink(missing_ok=True)
        raise HubError(f"{url}: refused: {problem}; nothing cached")
    return got


def _disk_problem(e: OSError, dest: Path) -> str:
    why = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EDQUOT: "disk quota exceeded",
    }
    reason = why.get(e.errno, e.strerror or str(e))
    return (
        f"cannot write the checkpoint cache at {dest.parent} ({reason}); set VITKIT_HOME to a writable folder with room"
    )
