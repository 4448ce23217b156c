"""Manifests: a ``.csv`` (header ``path,label``) or ``.jsonl`` (``{"path": ..., "label": ...}``) list."""

from __future__ import annotations

import csv
import json
import os

from torch.utils.data import Dataset

from vitkit.data.base import FileSamples, sorted_class_names
from vitkit.data.errors import DataError, one_line

MANIFEST_EXTENSIONS = (".csv", ".jsonl")


class ManifestDataset(FileSamples, Dataset):
    """Images listed in a manifest file, paths relative to the manifest's folder (or absolute).

    Labels are class names; ``classes`` are the sorted unique labels (numerically sorted when all are
    integers). A malformed manifest is a DataError naming its line at construction; missing image
    files are found by ``validate()``.
    """

    def __init__(self, path: str | os.PathLike[str], *, skip_bad: bool = False) -> None:
        self.path = os.fspath(path)
        rows = _read_rows(self.path)
        base = os.path.dirname(os.path.abspath(self.path))
        self.classes = sorted_class_names(label for _, _, label in rows)
        index = {name: i for i, name in enumerate(self.classes)}
        self.samples = [(os.path.join(base, p), index[label]) for _, p, label in rows]
        self._lines = [line for line, _, _ in rows]
        self.skip_bad = skip_bad
        self.skipped = 0

    def validate(self) -> None:
        """DataError on an empty manifest or the first entry whose file does not exist."""
        if not self.samples:
            raise DataError(f"{self.path}: the manifest lists no images")
        for (path, _), line in zip(self.samples, self._lines, strict=True):
            if not os.path.isfile(path):
                raise DataError(f"{self.path}:{line}: no such image file {path}")


def _read_rows(path: str) -> list[tuple[int, str, str]]:
    """``(line number, path, label)`` per entry."""
    if not path.lower().endswith(MANIFEST_EXTENSIONS):
        raise DataError(f"{path}: a manifest must be a .csv or .jsonl file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return _read_csv(f, path) if path.lower().endswith(".csv") else _read_jsonl(f, path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read manifest ({one_line(exc)})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: the manifest is not UTF-8 text") from None


def _read_csv(f, path: str) -> list[tuple[int, str, str]]:
    reader = csv.DictReader(f)
    if reader.fieldnames is None or not {"path", "label"} <= set(reader.fieldnames):
        raise DataError(f"{path}: the first line must be a header with columns path,label, got {reader.fieldnames}")
    rows = []
    for record in reader:
        rows.append(_entry(record.get("path"), record.get("label"), path, reader.line_num))
    return rows


def _read_jsonl(f, path: str) -> list[tuple[int, str, str]]:
    rows = []
    for line_num, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_num}: invalid JSON ({one_line(exc)})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line_num}: expected an object with keys path and label")
        rows.append(_entry(record.get("path"), record.get("label"), path, line_num))
    return rows


def _entry(image: object, label: object, path: str, line: int) -> tuple[int, str, str]:
    # Surrounding spaces are never meant ("a.png, cat"): strip them rather than invent a class " cat".
    image = image.strip() if isinstance(image, str) else None
    label = None if label is None or isinstance(label, (dict, list, bool)) else str(label).strip()
    if not image:
        raise DataError(f"{path}:{line}: missing or empty path")
    if not label:
        raise DataError(f"{path}:{line}: missing or empty label")
    return line, image, label
