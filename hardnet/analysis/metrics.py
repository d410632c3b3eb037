"""What the benchmark measures (docs/metrics.md): errors on all, informative and fresh inputs,
the advantage over the trivial seed-agnostic predictor, 0-1 accuracy, the calibration-free scores
(AUC, and 0-1 accuracy at a threshold chosen on held-out rows), and teacher alignment.

The scores of a run are computed on the host in float64 from its predictions on the test set
(`score_run`, the one definition the runner and the tests use); they accept NumPy and JAX arrays
alike. `best_cosines` is jnp and jit-able: it also runs inside training programs (monitors).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.stats

from hardnet.core.base import Array


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def masked_mse(y_hat: Any, y: Any, mask: Any | None = None) -> float:
    """Mean of `(y_hat − y)²` over the rows where `mask` holds (NaN when the mask is empty)."""
    err = (_f64(y_hat) - _f64(y)) ** 2
    if mask is None:
        return float(np.mean(err))
    mask = np.asarray(mask, bool)
    return float(np.sum(err * mask) / np.sum(mask)) if np.any(mask) else math.nan


def nmse(y_hat: Any, y: Any) -> float:
    """`mse_all / Var(y_test)`: 0 is perfect, 1 is the constant predictor `E[y]`."""
    return masked_mse(y_hat, y) / float(np.var(_f64(y)))


def advantage(y_hat: Any, trivial_hat: Any, y: Any, mask: Any) -> float:
    """`adv = 1 − mse(h) / mse(trivial)` on the rows of `mask` (fresh informative inputs)."""
    return 1.0 - masked_mse(y_hat, y, mask) / masked_mse(trivial_hat, y, mask)


def accuracy01(y_hat: Any, bits: Any, mask: Any) -> float:
    """0-1 accuracy of `1[h > 1/2]` against planted bits on the rows of `mask` (NaN if empty)."""
    mask = np.asarray(mask, bool)
    right = (np.asarray(y_hat) > 0.5) == (np.asarray(bits) > 0.5)
    return float(np.mean(right[mask])) if mask.any() else math.nan


def auc(y_hat: Any, bits: Any, mask: Any) -> float:
    """Area under the ROC curve of the scores `y_hat` against the bits, on the rows of `mask`.

    `AUC = P(h(x⁺) > h(x⁻)) + ½ P(h(x⁺) = h(x⁻))` over rows with bit 1 (x⁺) and bit 0 (x⁻): the
    Mann–Whitney statistic `(R⁺ − n⁺(n⁺+1)/2) / (n⁺ n⁻)`, with `R⁺` the sum of the ranks of the
    positive rows (ties get their average rank). 1/2 is chance; it is invariant under any
    increasing map of `h`, so a miscalibrated scale costs nothing. NaN when a class is empty or
    a score is not finite.

    References: Hanley & McNeil, Radiology 143 (1982), "The meaning and use of the area under a
    receiver operating characteristic (ROC) curve".
    """
    mask = np.asarray(mask, bool)
    h, pos = _f64(y_hat)[mask], np.asarray(bits)[mask] > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0 or not np.all(np.isfinite(h)):
        return math.nan
    ranks = scipy.stats.rankdata(h)  # average ranks for ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_threshold(y_hat: Any, bits: Any, mask: Any) -> float:
    """The threshold `t*` that maximizes the 0-1 accuracy of `1[h > t]` against the bits on the
    rows of `mask` (held-out rows: docs/metrics.md, `acc01_cal`).

    Candidates are ±∞ and the midpoints between consecutive distinct scores (every distinct
    classification of the rows is reached by one); the accuracy of each is read off one sort.
    Among equally accurate thresholds the one nearest 1/2 is taken (the uncalibrated rule when it
    is as good). NaN when `mask` is empty or a score is not finite."""
    mask = np.asarray(mask, bool)
    h, pos = _f64(y_hat)[mask], np.asarray(bits)[mask] > 0.5
    if h.size == 0 or not np.all(np.isfinite(h)):
        return math.nan
    order = np.argsort(h, kind="stable")
    h, pos = h[order], pos[order]
    distinct = np.flatnonzero(np.diff(h) > 0)  # last row of each run of equal scores but the last
    cuts = np.concatenate([[-1], distinct, [h.size - 1]])  # rows 0..c are called 0, the rest 1
    # right(c) = negatives among rows 0..c + positives among rows c+1..end
    neg_below = np.concatenate([[0], np.cumsum(~pos)])[cuts + 1]
    pos_above = int(pos.sum()) - np.concatenate([[0], np.cumsum(pos)])[cuts + 1]
    right = neg_below + pos_above
    thresholds = np.concatenate([[-math.inf], (h[distinct] + h[distinct + 1]) / 2, [math.inf]])
    best = np.flatnonzero(right == right.max())
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])


def accuracy_at(y_hat: Any, bits: Any, mask: Any, threshold: float) -> float:
    """0-1 accuracy of `1[h > threshold]` against the bits on the rows of `mask` (NaN if empty or
    the threshold is NaN)."""
    mask = np.asarray(mask, bool)
    if not mask.any() or math.isnan(threshold):
        return math.nan
    right = (_f64(y_hat) > threshold) == (np.asarray(bits) > 0.5)
    return float(np.mean(right[mask]))


@dataclasses.dataclass(frozen=True)
class FreshTest:
    """What a PRG family's scores are measured against, for one instance seed (docs/metrics.md).

    Attributes:
      bits: the planted bits `P(G(s)_S)` of the test rows.
      informative: whether each test row is informative (its hyperedge is decodable).
      fresh: informative test rows whose hyperedge never occurs among the informative training
        rows.
      trivial_hat: the trivial seed-agnostic predictor on the test rows.
      mean_label: the mean label of the first training rows (the constant of `adv_mean`).
      calibration_bits, calibration_fresh: planted bits and fresh informative mask of the
        held-out calibration rows, on which `acc01_cal`'s threshold is chosen.
      calibration_hat: the run's predictions on those rows (`calibrated`); None leaves
        `acc01_cal` out.
    """

    bits: np.ndarray
    informative: np.ndarray
    fresh: np.ndarray
    trivial_hat: np.ndarray
    mean_label: float
    calibration_bits: np.ndarray | None = None
    calibration_fresh: np.ndarray | None = None
    calibration_hat: np.ndarray | None = None

    def calibrated(self, calibration_hat: Any) -> FreshTest:
        """This test with one run's predictions on the calibration rows (None if it has none)."""
        if self.calibration_bits is None:
            return self
        return dataclasses.replace(self, calibration_hat=np.asarray(calibration_hat))


def score_run(y_hat: Any, y: Any, fresh_test: FreshTest | None = None) -> dict[str, Any]:
    """The scores of one run's test predictions (docs/metrics.md, "Metrics").

    Args:
      y_hat: predictions on the test rows.
      y: test labels.
      fresh_test: for PRG families, what the fresh-input scores are measured against.

    Returns:
      `mse_all`, `nmse`; with `fresh_test` also `mse_inf`, `mse_fresh`, `num_fresh`,
      `adv = 1 − mse_fresh(h) / mse_fresh(trivial)`, `adv_mean` (the same against the constant
      `mean_label`), `acc01` (0-1 accuracy of `1[h > 1/2]` on the fresh rows), `auc` (`auc` on
      the fresh rows) and, with calibration rows, `threshold_cal` (`best_threshold` on the
      calibration rows' fresh rows) and `acc01_cal` (accuracy at it on the fresh test rows).
    """
    out: dict[str, Any] = {"mse_all": masked_mse(y_hat, y), "nmse": nmse(y_hat, y)}
    if fresh_test is None:
        return out
    t = fresh_test
    out["mse_inf"] = masked_mse(y_hat, y, t.informative)
    out["mse_fresh"] = masked_mse(y_hat, y, t.fresh)
    out["num_fresh"] = int(np.sum(t.fresh))
    out["adv"] = 1.0 - out["mse_fresh"] / masked_mse(t.trivial_hat, y, t.fresh)
    const = np.full(np.shape(y), t.mean_label, dtype=np.float64)
    out["adv_mean"] = 1.0 - out["mse_fresh"] / masked_mse(const, y, t.fresh)
    out["acc01"] = accuracy01(y_hat, t.bits, t.fresh)
    out["auc"] = auc(y_hat, t.bits, t.fresh)
    if t.calibration_hat is not None:
        threshold = best_threshold(t.calibration_hat, t.calibration_bits, t.calibration_fresh)
        out["threshold_cal"] = threshold
        out["acc01_cal"] = accuracy_at(y_hat, t.bits, t.fresh, threshold)
    return out


def best_cosines(learned: Array, teacher: Array) -> Array:
    """For each teacher direction (columns of `teacher[d, m]`), the best `|cos|` with a row of
    `learned[r, d]`: 1 means the direction is recovered (up to sign)."""
    a = learned / (jnp.linalg.norm(learned, axis=-1, keepdims=True) + 1e-12)
    b = teacher / (jnp.linalg.norm(teacher, axis=0, keepdims=True) + 1e-12)
    return jnp.max(jnp.abs(a @ b), axis=0)


def hash64(hashes: np.ndarray) -> np.ndarray:
    """`uint32[num, 2]` hyperedge hashes as one uint64 per row."""
    h = np.asarray(hashes, np.uint64)
    return (h[..., 0] << np.uint64(32)) | h[..., 1]


def fresh_mask(train_hashes: np.ndarray, test_hashes: np.ndarray) -> np.ndarray:
    """Whether each test hyperedge never occurs in training (host-side set membership)."""
    return ~np.isin(hash64(test_hashes), hash64(train_hashes))


def trial_score(rows: Sequence[Mapping[str, Any]], prg: bool) -> float:
    """Mean validation score of a tuning trial's runs (docs/metrics.md, Tuning protocol):
    acc01_cal (PRG; acc01 for rows written before it existed) or −nmse; a failed run scores
    worst (0 or −inf)."""
    worst = 0.0 if prg else -math.inf
    values = []
    for r in rows:
        v = r.get(("acc01_cal" if "acc01_cal" in r else "acc01") if prg else "nmse")
        ok = not r.get("failed") and isinstance(v, int | float) and math.isfinite(v)
        values.append(worst if not ok else (v if prg else -v))
    return float(sum(values) / len(values)) if values else worst
