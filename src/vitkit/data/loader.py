"""Batches for training and evaluation: deterministic order per (seed, epoch), resumable mid-epoch,
split across ranks without duplicates.

Order: an epoch visits ``order = randperm(N)`` (train, seeded by ``seed`` and ``epoch``) or ``0..N-1``
(eval). Global step ``k`` takes ``order[k*B*W : (k+1)*B*W]`` (``B`` = batch size per rank, ``W`` =
world size) and rank ``r`` gets every ``W``-th of those, starting at ``r``. ``start_index`` counts
samples of the epoch already consumed by all ranks together (``steps_done * B * W``): a resumed loader
yields exactly the batches the uninterrupted one had left, augmentations included (they are drawn
per sample from ``(seed, epoch, index)``, not from a running RNG).

Train drops the tail that does not fill a global batch (every rank gets the same number of full
batches); eval keeps every sample exactly once, so ranks' last batches may be smaller or missing.

Streamed sets (WebDataset) are split by shard instead, shard order shuffled per epoch in training;
ranks are cut to the smallest rank's sample count in training (needs a scan of the shards), and
``start_index // world_size`` samples of this rank's stream are read and dropped on resume.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from vitkit.data.arrays import ArrayDataset
from vitkit.data.base import LabeledDataset
from vitkit.data.errors import DataError
from vitkit.data.seeding import derive_seed, generator, seeded_call
from vitkit.data.transforms import Transform, TransformConfig, batch_transform, build_transform, sample_crop_params
from vitkit.data.webdataset import BAD, WebDataset

Batch = tuple[torch.Tensor, torch.Tensor]


def make_loader(
    dataset: LabeledDataset,
    transform_cfg: TransformConfig,
    batch_size: int,
    train: bool,
    seed: int = 0,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    epoch: int = 0,
    start_index: int = 0,
) -> Loader:
    """An iterable of ``(images float (B, C, H, W), labels int64 (B,))`` for one rank and one epoch.

    ArrayDataset batches are gathered and transformed whole in this process (``num_workers`` unused);
    other sets decode and transform per image in ``num_workers`` DataLoader processes. Undecodable
    images of ``skip_bad`` sets are left out of their batch and counted in ``loader.skipped``.
    """
    if batch_size <= 0:
        raise DataError(f"batch_size: expected a positive int, got {batch_size}")
    if not 0 <= rank < world_size:
        raise DataError(f"rank {rank} outside world_size {world_size}")
    if start_index < 0:
        raise DataError(f"start_index: expected >= 0, got {start_index}")
    args = dict(
        dataset=dataset,
        cfg=transform_cfg,
        batch_size=batch_size,
        train=train,
        seed=seed,
        num_workers=num_workers,
        rank=rank,
        world_size=world_size,
        epoch=epoch,
        start_index=start_index,
    )
    if isinstance(dataset, WebDataset):
        return StreamLoader(**args)
    return IndexLoader(**args)


def rank_batches(
    n: int,
    batch_size: int,
    train: bool,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    start_index: int = 0,
) -> list[torch.Tensor]:
    """The dataset indices of each batch rank ``rank`` gets (the plan in the module docstring)."""
    order = torch.randperm(n, generator=generator(seed, epoch, 0)) if train else torch.arange(n)
    stream = order[start_index:]
    if train:  # whole global batches only, so that every rank takes the same number of steps
        global_batch = batch_size * world_size
        stream = stream[: len(stream) // global_batch * global_batch]
    mine = stream[rank::world_size]
    return list(torch.split(mine, batch_size)) if len(mine) else []


class Loader:
    """Batches of one epoch for one rank; ``len()`` is the number of batches, ``skipped`` the number
    of undecodable samples left out so far."""

    def __init__(
        self,
        *,
        dataset: LabeledDataset,
        cfg: TransformConfig,
        batch_size: int,
        train: bool,
        seed: int,
        num_workers: int,
        rank: int,
        world_size: int,
        epoch: int,
        start_index: int,
    ) -> None:
        self.dataset, self.cfg, self.batch_size, self.train = dataset, cfg, batch_size, train
        self.seed, self.num_workers, self.epoch, self.start_index = seed, num_workers, epoch, start_index
        self.rank, self.world_size = rank, world_size
        self.skipped = 0

    def _data_loader(self, data: Dataset, **kwargs: Any) -> DataLoader:
        # Our own generator: DataLoader would otherwise draw worker seeds from the global RNG,
        # shifting the model's dropout stream depending on how many loaders were made.
        return DataLoader(data, num_workers=self.num_workers, generator=generator(self.seed, self.epoch, 6), **kwargs)

    def __iter__(self) -> Iterator[Batch]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class IndexLoader(Loader):
    """Loader of an indexable data set: the index plan of ``rank_batches``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches = rank_batches(
            len(self.dataset),
            self.batch_size,
            self.train,
            self.seed,
            self.epoch,
            self.rank,
            self.world_size,
            self.start_index,
        )

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        if isinstance(self.dataset, ArrayDataset):
            yield from self._array_batches(self.dataset)
            return
        samples = _MapSamples(self.dataset, build_transform(self.cfg, self.train), self.seed, self.epoch)
        loader = self._data_loader(samples, batch_sampler=[b.tolist() for b in self.batches], collate_fn=_collate)
        for images, labels, skipped, failure in loader:
            _raise_failure(failure)
            self.skipped += skipped
            if images is not None:
                yield images, labels

    def _array_batches(self, data: ArrayDataset) -> Iterator[Batch]:
        params = None
        if self.train:  # drawn for every index at once: a sample's crop depends on (seed, epoch, index) only
            height, width = data.images.shape[1:3]
            params = sample_crop_params(len(data), height, width, self.cfg, generator(self.seed, self.epoch, 1))
        for index in self.batches:
            crop = params[index] if params is not None else None
            yield batch_transform(data.images[index], self.cfg, self.train, params=crop), data.labels[index]


class StreamLoader(Loader):
    """Loader of a WebDataset: shards split over ranks and workers, batched in this process."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cap: int | None = None
        _ = self.dataset.classes  # resolve (scan) once here, not once per worker process
        if self.train and self.world_size > 1:
            self._cap = min(self._rank_sizes())  # equal steps on every rank, or DDP would hang

    def _rank_sizes(self) -> list[int]:
        return self.dataset.rank_sizes(self.world_size, seed=self.seed, epoch=self.epoch, shuffle=self.train)

    def __len__(self) -> int:
        count = self._cap if self._cap is not None else self._rank_sizes()[self.rank]
        count = max(0, count - self.start_index // self.world_size)
        return count // self.batch_size if self.train else math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        samples = _StreamSamples(
            self.dataset,
            build_transform(self.cfg, self.train),
            self.seed,
            self.epoch,
            self.rank,
            self.world_size,
            self.train,
        )
        skip, seen, batch = self.start_index // self.world_size, 0, []
        for item in self._data_loader(samples, batch_size=None, collate_fn=_identity):
            if item is None:
                self.skipped += 1
                continue
            _raise_failure(item)
            seen += 1
            if seen <= skip:
                continue
            if self._cap is not None and seen > self._cap:
                break
            batch.append(item)
            if len(batch) == self.batch_size:
                yield _stack(batch)
                batch = []
        if batch and not self.train:
            yield _stack(batch)


# -- worker-side pieces (module level so that worker processes can unpickle them) ------------------


class _Failure:
    """A DataError raised in a worker, carried to the main process as data so that its one-line
    message survives (DataLoader would re-raise it wrapped in a multi-line traceback)."""

    def __init__(self, message: str) -> None:
        self.message = message


def _raise_failure(item: Any) -> None:
    if isinstance(item, _Failure):
        raise DataError(item.message)


def _augmented(transform: Transform, image: Any, sample_seed: int) -> torch.Tensor:
    return seeded_call(sample_seed, transform, image) if transform.train else transform(image)


class _MapSamples(Dataset):
    def __init__(self, dataset: LabeledDataset, transform: Transform, seed: int, epoch: int) -> None:
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | _Failure | None:
        try:
            item = self.dataset[index]
            if item is None:
                return None
            image, label = item
            return _augmented(self.transform, image, derive_seed(self.seed, self.epoch, 3, index)), label
        except DataError as err:
            return _Failure(str(err))


class _StreamSamples(IterableDataset):
    def __init__(
        self,
        dataset: WebDataset,
        transform: Transform,
        seed: int,
        epoch: int,
        rank: int,
        world_size: int,
        shuffle: bool,
    ) -> None:
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, epoch
        self.rank, self.world_size, self.shuffle = rank, world_size, shuffle

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int] | _Failure | None]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        urls = self.dataset.shards_for(
            self.rank, self.world_size, worker, workers, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle
        )
        try:
            buffer_seed = derive_seed(self.seed, self.epoch, 4, self.rank, worker)
            for sample in self.dataset.iter_samples(urls, seed=buffer_seed):
                if sample is BAD:
                    yield None
                    continue
                where, image, label = sample
                sample_seed = derive_seed(self.seed, self.epoch, 5, zlib.crc32(where.encode()))
                yield _augmented(self.transform, image, sample_seed), label
        except DataError as err:
            yield _Failure(str(err))


def _collate(items: list[Any]) -> tuple[torch.Tensor | None, torch.Tensor | None, int, _Failure | None]:
    """``(images, labels, skipped, failure)``; the failure is passed on, not raised (see ``_Failure``)."""
    failure = next((item for item in items if isinstance(item, _Failure)), None)
    good = [item for item in items if item is not None and not isinstance(item, _Failure)]
    if failure is not None or not good:
        return None, None, len(items) - len(good), failure
    images, labels = _stack(good)
    return images, labels, len(items) - len(good), None


def _stack(items: list[tuple[torch.Tensor, int]]) -> Batch:
    return torch.stack([image for image, _ in items]), torch.tensor([label for _, label in items], dtype=torch.int64)


def _identity(item: Any) -> Any:
    return item
