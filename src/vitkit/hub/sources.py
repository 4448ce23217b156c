"""Where a named checkpoint comes from: the official bucket, else timm's copy on the Hugging Face hub, else the
transformers (google/...) copy; the first source that delivers wins, and if none does the error names them all.

Hugging Face downloads go through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT``,
``HF_HUB_CACHE``), read when each call is made so a process can change them.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import cache
from .download import fetch_url
from .errors import HubError
from .names import Ref
from .registry import Entry

HF_WEIGHTS = ["config.json", "preprocessor_config.json", "model.safetensors"]
HF_PICKLE = "pytorch_model.bin"  # fetched only where a repository has no model.safetensors


@dataclass(frozen=True)
class Source:
    """One place a checkpoint can be fetched from: ``kind`` official | timm | hf, and its address."""

    kind: str
    address: str  # URL, or Hugging Face repo id
    entry: Entry | None = None

    def __str__(self) -> str:
        return self.address if self.kind == "official" else f"{self.kind}:{self.address}"


@dataclass(frozen=True)
class Fetched:
    path: Path
    source: Source


def sources(ref: Ref) -> list[Source]:
    """The sources of a name, most official first."""
    if ref.kind == "timm":
        return [Source("timm", f"timm/{ref.id}")]
    if ref.kind == "hf":
        return [Source("hf", ref.id)]
    e = ref.entry
    out = [Source("official", e.official_url(), e)] if e.official else []
    out += [Source("timm", f"timm/{e.timm}", e)] if e.timm else []
    out += [Source("hf", e.hf, e)] if e.hf else []
    return out


def fetch(ref: Ref) -> Fetched:
    """The first source of ``ref`` that delivers, cached locally; else one line naming every source tried."""
    failures = []
    for source in sources(ref):
        try:
            return Fetched(_fetch_one(source), source)
        except HubError as e:
            failures.append(f"{source}: {e}" if str(source) not in str(e) else str(e))
    if not failures:
        raise HubError(f"{ref.id}: the registry gives no source for it")
    if len(failures) == 1:
        raise HubError(failures[0])
    raise HubError(f"{ref.id}: every source failed — " + " | ".join(failures))


def cached(ref: Ref) -> Source | None:
    """The first source of ``ref`` already in a cache, without any network access."""
    for source in sources(ref):
        if source.kind == "official":
            if cache.problem(cache.official_path(source.entry.official["path"]), source.entry.official) is None:
                return source
        elif _hf_cached(source):
            return source
    return None


def _fetch_one(source: Source) -> Path:
    if source.kind == "official":
        return _official(source)
    if source.kind == "timm":
        return _hf_file(source.address, "model.safetensors")
    return _hf_snapshot(source.address)


def _official(source: Source) -> Path:
    info = source.entry.official
    dest = cache.official_path(info["path"])
    if cache.offline():
        why = cache.problem(dest, info)
        if why is None:
            return dest
        if dest.exists():
            raise HubError(f"offline (VITKIT_OFFLINE / HF_HUB_OFFLINE): refused the cached {dest}: {why}; not used")
        raise HubError(
            f"offline (VITKIT_OFFLINE / HF_HUB_OFFLINE): {dest} is not cached; "
            f"fetch {source.address} there or run once online"
        )
    return fetch_url(source.address, dest, info)


def _hf_unreachable() -> str | None:
    """Why the Hub cannot be reached when its host name does not resolve (no network, no DNS), else None.

    huggingface_hub retries a failed request 5 times with back-off (about 23 s per file); a name that does not
    resolve will not resolve a second later, so vitkit then reads the Hugging Face cache only, at once.
    """
    if cache.offline():
        return None
    host = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname
    if not host:
        return None
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as e:
        return f"{host} cannot be reached ({e.args[-1] if e.args else type(e).__name__})"
    return None


def _hf_kwargs(unreachable: str | None) -> dict:
    return {
        "endpoint": os.environ.get("HF_ENDPOINT") or None,
        "cache_dir": os.environ.get("HF_HUB_CACHE") or None,
        "local_files_only": cache.offline() or unreachable is not None,
    }


def _hf_file(repo: str, filename: str) -> Path:
    from huggingface_hub import hf_hub_download

    unreachable = _hf_unreachable()
    kwargs = _hf_kwargs(unreachable)
    with _hf_quiet():
        try:
            path = Path(hf_hub_download(repo, filename, **kwargs))
        except Exception as e:  # noqa: BLE001 -- huggingface_hub raises many types (HTTP, offline, not found): all "not here"
            raise HubError(_hf_reason(e, filename, unreachable)) from None
        return _hf_checked(path, repo, filename, kwargs)


def _hf_checked(path: Path, repo: str, filename: str, kwargs: dict, revision: str | None = None) -> Path:
    """``path`` if its bytes are the Hub's (``cache.hub_blob_problem``); a damaged copy is refused in one line and
    not used: offline that is the error, online it is said on stderr and downloaded again."""
    from huggingface_hub import hf_hub_download

    why = cache.hub_blob_problem(path)
    if why is None:
        return path
    if kwargs["local_files_only"]:
        raise HubError(f"refused the cached {path}: {why}; not used (offline: run once online to fetch it again)")
    print(f"vitkit: refused the cached {path}: {why}; downloading it again", file=sys.stderr, flush=True)
    try:
        path = Path(hf_hub_download(repo, filename, revision=revision, force_download=True, **kwargs))
    except Exception as e:  # noqa: BLE001 -- as above
        raise HubError(_hf_reason(e, filename)) from None
    if why := cache.hub_blob_problem(path):
        raise HubError(f"{repo}/{filename}: refused: {why}")
    return path


def _hf_snapshot(repo: str) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download

    unreachable = _hf_unreachable()
    kwargs = _hf_kwargs(unreachable)
    with _hf_quiet():
        try:
            folder = Path(snapshot_download(repo, allow_patterns=HF_WEIGHTS, **kwargs))
        except Exception as e:  # noqa: BLE001 -- as above
            raise HubError(_hf_reason(e, "the repository", unreachable)) from None
        if (folder / "model.safetensors").is_file():
            _hf_checked(folder / "model.safetensors", repo, "model.safetensors", kwargs, folder.name)
            return folder
        try:  # older repositories ship only the pickle (read with weights_only=True: no code runs)
            pickle = Path(hf_hub_download(repo, HF_PICKLE, revision=folder.name, **kwargs))  # into the snapshot
        except Exception as e:  # noqa: BLE001 -- as above
            raise HubError(_hf_reason(e, f"model.safetensors (absent) or {HF_PICKLE}", unreachable)) from None
        _hf_checked(pickle, repo, HF_PICKLE, kwargs, folder.name)
    return folder


@contextmanager
def _hf_quiet() -> Iterator[None]:
    """huggingface_hub logs each retry as a warning; vitkit reports the outcome in one line instead."""
    from huggingface_hub.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _hf_reason(e: Exception, what: str, unreachable: str | None = None) -> str:
    if cache.offline():
        return f"{what} is not in the Hugging Face cache (offline)"
    if unreachable:
        return f"{what} is not in the Hugging Face cache, and {unreachable}"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{what}: {type(e).__name__}" + (f" ({text.split('. ')[0][:160]})" if text else "")


def _hf_cached(source: Source) -> bool:
    from huggingface_hub import try_to_load_from_cache

    filename = "model.safetensors"
    hit = try_to_load_from_cache(source.address, filename, cache_dir=os.environ.get("HF_HUB_CACHE") or None)
    return isinstance(hit, str)
