"""WebDataset-style tar shards: samples are consecutive members sharing a basename.

``shards-{000..099}.tar`` expands to one shard per number; ``pipe:cmd`` reads a shard from a command's
stdout. A sample ``dir/x.jpg`` + ``dir/x.cls`` has the image from its jpg/jpeg/png/webp member and its
label from ``cls`` (an int) or ``txt``/``label`` (a class name). Shards, not samples, are split across
ranks and DataLoader workers, so no sample is read twice.
"""

from __future__ import annotations

import os
import posixpath
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from vitkit.data.base import LabeledDataset, sorted_class_names
from vitkit.data.decode import decode_image
from vitkit.data.errors import DataError
from vitkit.data.seeding import derive_seed
from vitkit.data.shards import expand_braces, iter_tar, local_path

IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")
NAME_MEMBERS = ("txt", "label")

BAD = None
"""What ``iter_samples`` yields in place of a sample it skipped under ``skip_bad``."""


@dataclass
class _Scan:
    """What one pass over every shard learns: per-shard sample keys, and the labels seen."""

    keys: list[list[str]] = field(default_factory=list)
    ints: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    int_names: dict[int, str] = field(default_factory=dict)


class WebDataset(LabeledDataset, IterableDataset):
    """Samples streamed from tar shards (see the module docstring); items are ``(PIL RGB image, label)``.

    ``classes`` come from the ``classes`` argument, else a ``classes.txt`` (one name per line) beside
    the first local shard, else one scan of all shards (cached; ``len()`` and ``describe()`` need that
    scan too). A scan of integer ``cls`` labels names the classes ``"0".."max"`` (or by the ``txt``
    members that accompany them). ``shuffle_shards`` reshuffles shard order per ``(seed, epoch)``;
    ``shuffle_buffer > 0`` also mixes samples through a buffer of that size.
    """

    def __init__(
        self,
        shards: str | Sequence[str],
        *,
        classes: Sequence[str] | None = None,
        skip_bad: bool = False,
        shuffle_shards: bool = False,
        shuffle_buffer: int = 0,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        patterns = [shards] if isinstance(shards, str) else list(shards)
        self.urls = [url for p in patterns for url in expand_braces(p)]
        if not self.urls:
            raise DataError(f"{shards}: no shards")
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} outside world_size {world_size}")
        self._classes = list(classes) if classes is not None else _sidecar_classes(self.urls[0])
        self._scan: _Scan | None = None
        self.skip_bad, self.skipped = skip_bad, 0
        self.shuffle_shards, self.shuffle_buffer = shuffle_shards, shuffle_buffer
        self.seed, self.epoch, self.rank, self.world_size = seed, epoch, rank, world_size

    # -- what LabeledDataset promises ---------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        if self._classes is None:
            self._classes = _classes_from_scan(self.scan())
        return self._classes

    def __len__(self) -> int:
        return sum(len(k) for k in self.scan().keys)

    def describe(self, index: int) -> str:
        """``<shard>:<sample key>`` of the ``index``-th sample in unsplit, unshuffled shard order."""
        for url, keys in zip(self.urls, self.scan().keys, strict=True):
            if index < len(keys):
                return f"{url}:{keys[index]}"
            index -= len(keys)
        raise IndexError(index)

    def validate(self) -> None:
        """DataError for the first local shard that does not exist (``pipe:`` shards are not run)."""
        for url in self.urls:
            path = local_path(url)
            if path is not None and not os.path.isfile(path):
                raise DataError(f"{path}: no such shard")

    # -- splitting and iteration ---------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shard order (and shuffle buffer) ``__iter__`` uses."""
        self.epoch = epoch

    def shards_for(
        self,
        rank: int,
        world_size: int,
        worker: int = 0,
        num_workers: int = 1,
        *,
        seed: int = 0,
        epoch: int = 0,
        shuffle: bool = False,
    ) -> list[str]:
        """The shards one worker of one rank reads: rank ``r`` takes every ``world_size``-th shard of
        the (optionally shuffled) order, its workers split those the same way. Disjoint, covering."""
        order = list(self.urls)
        if shuffle:
            random.Random(derive_seed(seed, epoch, 2)).shuffle(order)
        return order[rank::world_size][worker::num_workers]

    def rank_sizes(self, world_size: int, *, seed: int = 0, epoch: int = 0, shuffle: bool = False) -> list[int]:
        """Samples each rank will read (scans the shards once)."""
        counts = dict(zip(self.urls, (len(k) for k in self.scan().keys), strict=True))
        return [
            sum(counts[u] for u in self.shards_for(r, world_size, seed=seed, epoch=epoch, shuffle=shuffle))
            for r in range(world_size)
        ]

    def __iter__(self) -> Iterator[tuple[Image.Image, int]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        urls = self.shards_for(
            self.rank, self.world_size, worker, workers, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle_shards
        )
        stream = self.iter_samples(urls, seed=derive_seed(self.seed, self.epoch, self.rank, worker))
        return (s[1:] for s in stream if s is not BAD)

    def iter_samples(self, urls: Sequence[str], *, seed: int = 0) -> Iterator[tuple[str, Image.Image, int] | None]:
        """``(where, image, label)`` per sample of ``urls`` in order (through the shuffle buffer if any,
        seeded by ``seed``); ``BAD`` (None) in place of each sample skipped under ``skip_bad``."""
        stream = (s for url in urls for s in self._decoded(url))
        if self.shuffle_buffer > 0:
            stream = _buffer_shuffle(stream, self.shuffle_buffer, random.Random(seed))
        return stream

    def _decoded(self, url: str) -> Iterator[tuple[str, Image.Image, int] | None]:
        try:
            for key, members in group_samples(iter_tar(url)):
                try:
                    yield self._sample(f"{url}:{key}", members)
                except DataError as err:
                    self._bad(err)
                    yield BAD
        except DataError as err:  # the tar stream itself broke: the rest of this shard is lost
            self._bad(err)
            yield BAD

    def read_shard(self, url: str) -> Iterator[tuple[str, Image.Image | None, int | None, str | None]]:
        """``(where, image, label, None)`` per sample of one shard in tar order, or ``(where, None, None,
        reason)`` for a sample that cannot be read (whatever ``skip_bad`` says: the caller decides). A
        broken tar stream ends the shard with one such record naming the shard."""
        try:
            for key, members in group_samples(iter_tar(url)):
                where = f"{url}:{key}"
                try:
                    yield (*self._sample(where, members), None)
                except DataError as err:
                    yield where, None, None, str(err)
        except DataError as err:
            yield url, None, None, str(err)

    def _sample(self, where: str, members: dict[str, bytes]) -> tuple[str, Image.Image, int]:
        ext = next((e for e in IMAGE_MEMBERS if e in members), None)
        if ext is None:
            raise DataError(f"{where}: sample has no image member ({', '.join(IMAGE_MEMBERS)})")
        label = self._label(where, members)
        return where, decode_image(members[ext], f"{where}.{ext}"), label

    def _label(self, where: str, members: dict[str, bytes]) -> int:
        if "cls" in members:
            label = _parse_int(members["cls"], where)
            if self._classes is not None and not 0 <= label < len(self._classes):
                raise DataError(f"{where}: cls {label} outside the {len(self._classes)} classes")
            return label
        name = _label_name(members)
        if name is None:
            raise DataError(f"{where}: sample has no label member (cls, txt or label)")
        try:
            return self.classes.index(name)
        except ValueError:
            raise DataError(f"{where}: label {name!r} is not one of the classes") from None

    def scan(self) -> _Scan:
        """Read every shard once (cached): sample keys per shard and the labels seen."""
        if self._scan is None:
            scan = _Scan()
            for url in self.urls:
                scan.keys.append([])
                try:
                    for key, members in group_samples(iter_tar(url)):
                        scan.keys[-1].append(key)
                        _note_labels(scan, members)
                except DataError:
                    if not self.skip_bad:
                        raise  # under skip_bad, iteration meets (and counts) the same break
            self._scan = scan
        return self._scan


def split_member(name: str) -> tuple[str, str]:
    """``("dir/x", "seg.png")`` for ``dir/x.seg.png``: the key ends at the basename's first dot."""
    folder, base = posixpath.split(name)
    stem, _, ext = base.partition(".")
    return posixpath.join(folder, stem), ext.lower()


def group_samples(members: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Group consecutive tar members by key: ``(key, {extension: bytes})`` per sample."""
    key, sample = None, {}
    for name, data in members:
        k, ext = split_member(name)
        if k != key and sample:
            yield key, sample
            sample = {}
        key = k
        sample[ext] = data
    if sample:
        yield key, sample


def _buffer_shuffle(stream: Iterator, size: int, rng: random.Random) -> Iterator:
    buffer = []
    for item in stream:
        buffer.append(item)
        if len(buffer) >= size:
            yield buffer.pop(rng.randrange(len(buffer)))
    rng.shuffle(buffer)
    yield from buffer


def _parse_int(data: bytes, where: str) -> int:
    try:
        return int(data.decode("utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{where}: cls member is not an integer ({data[:20]!r})") from None


def _label_name(members: dict[str, bytes]) -> str | None:
    ext = next((e for e in NAME_MEMBERS if e in members), None)
    return None if ext is None else members[ext].decode("utf-8", errors="replace").strip()


def _note_labels(scan: _Scan, members: dict[str, bytes]) -> None:
    name = _label_name(members)
    if "cls" in members:
        try:
            label = _parse_int(members["cls"], "")
        except DataError:
            return  # iteration reports (or skips) the bad sample, with its name
        scan.ints.add(label)
        if name:
            scan.int_names.setdefault(label, name)
    elif name:
        scan.names.add(name)


def _classes_from_scan(scan: _Scan) -> list[str]:
    if scan.names:
        return sorted_class_names(scan.names)
    if not scan.ints:
        return []
    count = max(scan.ints) + 1
    if all(i in scan.int_names for i in range(count)):
        return [scan.int_names[i] for i in range(count)]
    return [str(i) for i in range(count)]


def _sidecar_classes(first_url: str) -> list[str] | None:
    path = local_path(first_url)
    if path is None:
        return None
    sidecar = os.path.join(os.path.dirname(os.path.abspath(path)), "classes.txt")
    if not os.path.isfile(sidecar):
        return None
    with open(sidecar, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]
