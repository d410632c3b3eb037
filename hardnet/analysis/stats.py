"""The statistics of the report, from scipy (docs/metrics.md, "Across seeds"): a Wilson interval,
a percentile bootstrap of the mean, and a two-sided permutation test of a difference of means.
Thin wrappers that fix the conventions (non-finite values dropped, degenerate sizes handled,
deterministic given `seed`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats


def wilson_interval(successes: int, trials: int, confidence: float = 0.999) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (`scipy.stats.binomtest`)."""
    if trials <= 0:
        raise ValueError(f"trials must be >= 1, got {trials}")
    ci = scipy.stats.binomtest(int(successes), int(trials)).proportion_ci(confidence, "wilson")
    return float(ci.low), float(ci.high)


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def bootstrap_mean_ci(
    values: Any, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of the mean (`scipy.stats.bootstrap`,
    `method="percentile"`; Efron & Tibshirani 1993, ch. 13), deterministic given `seed`.

    Non-finite values are dropped; no finite value gives (nan, nan, nan), a single one (v, v, v),
    and the interval always contains the mean (a constant sample's interval is that value).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    v = _finite(values)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    if v.size == 1 or np.all(v == v[0]):
        return mean, mean, mean
    result = scipy.stats.bootstrap(
        (v,), np.mean, confidence_level=confidence, n_resamples=resamples, method="percentile",
        rng=np.random.default_rng(seed), vectorized=True,
    )  # fmt: skip
    low, high = result.confidence_interval
    return mean, float(min(low, mean)), float(max(high, mean))


def _abs_mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis))


def permutation_pvalue(a: Any, b: Any, resamples: int = 5000, seed: int = 0) -> float:
    """Two-sided permutation p-value of the difference of means of `a` and `b`: the share of
    relabellings with |mean(a) − mean(b)| at least the observed one (`scipy.stats.
    permutation_test` on that statistic, independent samples, `alternative="greater"`): exact
    over every relabelling when there are at most `resamples` of them, else from `resamples`
    random ones counting the observed labelling (Phipson & Smyth 2010: never 0). Non-finite
    values are dropped; an empty side gives nan.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    x, y = _finite(a), _finite(b)
    if x.size == 0 or y.size == 0:
        return math.nan
    result = scipy.stats.permutation_test(
        (x, y), _abs_mean_difference, permutation_type="independent", vectorized=True,
        n_resamples=resamples, alternative="greater", rng=np.random.default_rng(seed),
    )  # fmt: skip
    return float(min(1.0, result.pvalue))
