"""Up-front checks of keyword arguments: each raises `ValueError` naming the parameter and the rule.

These run in Python, before anything is traced, compiled or allocated.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

# Largest array a sampler or materialized evaluator may allocate (bytes). Override with the
# environment variable HARDNET_MAX_BYTES (e.g. on a large GPU).
DEFAULT_MAX_BYTES = 8 * 2**30


def max_bytes() -> int:
    return int(os.environ.get("HARDNET_MAX_BYTES", DEFAULT_MAX_BYTES))


def check_known(where: str, kwargs: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Unknown keyword arguments are an error, not silently ignored."""
    allowed = set(allowed)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """`value` is an integer with `low <= value <= high`."""
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and math.isfinite(value) and value == int(value)
    )
    if isinstance(value, bool) or not integral:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """`value` is a finite real with `low <= value <= high` (`low < value` if `low_open`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_power_of_two(name: str, value: int, why: str) -> int:
    if value < 1 or value & (value - 1):
        raise ValueError(f"{name} must be a power of two ({why}), got {value}")
    return value


def check_xy(where: str, x: Any, y: Any) -> None:
    """A training set is `x[N, d]` with labels `y[N]` (checked at trace time, shapes are static)."""
    if x.ndim != 2 or y.shape != x.shape[:1]:
        raise ValueError(f"{where}: need x [N, d] and y [N], got {x.shape} and {y.shape}")


def check_fits(
    what: str,
    num_elements: float,
    bytes_per_element: int = 4,
    hint: str = "or sample in chunks with hardnet.core.streaming",
) -> None:
    """Refuse allocations over `max_bytes()` with a message naming the size."""
    nbytes = float(num_elements) * bytes_per_element
    if nbytes > max_bytes():
        raise ValueError(
            f"{what} needs {nbytes / 2**30:.3g} GiB, over the limit of "
            f"{max_bytes() / 2**30:.3g} GiB (set HARDNET_MAX_BYTES to raise it, {hint})"
        )
