"""Small statistics helpers shared by tests, benchmarks and (later) the report."""

from __future__ import annotations

import math

from jax.scipy.stats import norm


def wilson_interval(successes: int, trials: int, confidence: float = 0.999) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if trials <= 0:
        raise ValueError(f"trials must be >= 1, got {trials}")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
