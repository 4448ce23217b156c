"""Checked argparse types: a bad number is refused by argparse, before any work, in one line naming the option.

Every numeric option of the command line has one of these types, which says its range: a wrong type, a value
out of range, or one too large to mean anything (an integer past 2**63 - 1, a float that is not finite) is
``argparse.ArgumentTypeError`` -- argparse prints it as ``argument --x: expected ..., got '...'``.
"""

from __future__ import annotations

import argparse
import math

LARGEST_INT = 2**63 - 1  # what torch, numpy and the file formats can hold


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if abs(value) > LARGEST_INT:
        raise argparse.ArgumentTypeError(f"expected a whole number of at most {LARGEST_INT}, got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    value = _float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def port(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port in 0..65535 (0: any free port), got {text!r}")
    return value


def positive_ints(text: str) -> list[int]:
    """Comma-separated whole numbers > 0: ``1,16``."""
    values = [positive_int(v) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers > 0, got {text!r}")
    return values


# the types a numeric option may have, and whether 0 is in its range (tests/test_cli_errors.py checks them all)
NUMERIC = {
    positive_int: False,
    nonnegative_int: True,
    positive_float: False,
    nonnegative_float: True,
    fraction: False,
    port: True,
    positive_ints: False,
}
