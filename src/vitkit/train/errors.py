"""The error of a run that cannot go on as configured."""

from __future__ import annotations

from ..errors import VitkitError


class TrainingError(VitkitError, FloatingPointError):
    """A run that diverged or cannot continue with its options (e.g. a non-finite loss: the learning rate)."""
