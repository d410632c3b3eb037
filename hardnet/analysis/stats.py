"""Small statistics helpers shared by tests, benchmarks and the report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
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


def bootstrap_mean_ci(
    values: Any, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of the mean (NumPy, deterministic given `seed`).

    Resample the finite values with replacement `resamples` times; the interval is the
    `(1 - confidence)/2` and `(1 + confidence)/2` quantiles of the resampled means (Efron &
    Tibshirani 1993, ch. 13). Non-finite values are dropped; no finite value gives (nan, nan, nan)
    and a single one gives (v, v, v).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return mean, float(min(low, mean)), float(max(high, mean))


def permutation_pvalue(a: Any, b: Any, resamples: int = 5000, seed: int = 0) -> float:
    """Two-sided permutation p-value of the difference of means of `a` and `b`.

    Statistic |mean(a) - mean(b)|; the labels are shuffled `resamples` times and
    p = (1 + #{|T_perm| >= |T_obs|}) / (1 + resamples) (Phipson & Smyth 2010: never 0).
    Non-finite values are dropped; an empty side gives nan.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return math.nan
    pooled = np.concatenate([x, y])
    observed = abs(x.mean() - y.mean())
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.broadcast_to(pooled, (resamples, pooled.size)), axis=1)
    diffs = np.abs(perms[:, : x.size].mean(axis=1) - perms[:, x.size :].mean(axis=1))
    tol = 1e-12 * max(1.0, abs(observed))
    return float((1 + np.sum(diffs >= observed - tol)) / (1 + resamples))
