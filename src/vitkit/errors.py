"""vitkit's one error family: every error a user's input can cause is a ``VitkitError``.

The CLI catches this one type and prints its message on one line. Each category names what was at
fault; the message itself names the file, option or name and what was expected.
"""

from __future__ import annotations


class VitkitError(Exception):
    """Base of every error vitkit raises for bad input: a one-line message naming what was at fault."""


class ConfigError(VitkitError, ValueError):
    """An option, or a combination of options, that cannot work: a model's, a recipe's, a command's."""
