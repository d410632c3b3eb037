"""The fresh-hyperedge pass of a PRG cell (docs/metrics.md, "Fresh hyperedges"): which
informative test rows have a hyperedge that never occurs among the informative training rows of
their instance seed, and the mean label of the first training rows (the constant of `adv_mean`).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

from hardnet.analysis import metrics
from hardnet.core import streaming
from hardnet.core.base import Array, Instance, Params
from hardnet.run.caches import Caches

MEAN_ROWS = 8192  # training rows whose mean label is the constant of adv_mean
STATS_CHUNK = 65536  # rows per chunk of the fresh-hyperedge pass over the training stream
FRESH_BOUND = 1e-6  # below this expected count of seen test hyperedges, the pass is skipped


def _padded(rows: int) -> int:
    """Rows drawn for `rows` rows: the next power of two, at least 1024, so that the budgets of a
    block share a few compiled samplers (the rows past `rows` are drawn and dropped; row r
    depends only on its own key)."""
    return max(1024, 1 << (rows - 1).bit_length())


def _falling_factorial(n: int, k: int) -> float:
    return float(math.prod(range(n - k + 1, n + 1)))


def train_stats(
    inst: Instance,
    params: Params,
    k_train: Array,
    budget: int,
    test_meta: dict,
    caches: Caches,
    calibration_meta: dict | None = None,
) -> dict[str, Any]:
    """Per instance seed of a PRG family: the mean label of the first `min(budget, MEAN_ROWS)`
    training rows (the constant of `adv_mean`), and which informative test rows are fresh
    (`fresh`), and, given `calibration_meta`, which informative calibration rows are
    (`fresh_calibration`, from the same pass).

    `fresh_check` "exact": the informative training rows' hyperedge hashes are streamed in chunks
    of `STATS_CHUNK` rows and looked up in the test hashes (host-side set membership; memory
    O(chunk + test)). Only those meta entries are computed (`streaming.stream_meta`): the rows
    training saw, without the teacher's forward pass. "bound": when the expected number of
    informative test rows whose hyperedge occurs among the training rows, `fresh_bound =
    (informative test rows) · budget / (n)_k`, is below `FRESH_BOUND`, the pass is skipped and
    every informative test row counts as fresh (the calibration rows' bound, computed alike, must
    be below it too)."""
    metas = [test_meta] if calibration_meta is None else [test_meta, calibration_meta]
    inf_test = np.concatenate([np.asarray(m["informative"]) for m in metas])
    h_test = np.concatenate([np.asarray(m["hyperedge_hash"]) for m in metas])
    num_test = int(np.asarray(test_meta["informative"]).shape[0])
    k = int(np.asarray(test_meta["hyperedge"]).shape[-1])
    per_row = budget / _falling_factorial(int(inst.encoding.n), k)
    bound = int(inf_test[:num_test].sum()) * per_row
    skip = max(bound, int(inf_test[num_test:].sum()) * per_row) < FRESH_BOUND
    key_data = tuple(np.asarray(jax.random.key_data(k_train)).ravel().tolist())
    cache_key = ("train_stats", inst.id, key_data, budget, h_test.tobytes())

    head = min(budget, MEAN_ROWS)

    def split(fresh: np.ndarray) -> dict[str, np.ndarray]:
        out = {"fresh": fresh[:num_test]}
        if calibration_meta is not None:
            out["fresh_calibration"] = fresh[num_test:]
        return out

    def compute() -> dict[str, Any]:
        # where one chunk covers the budget, its one full sample serves both; else the labels
        # come from the head and the hashes from the meta-only pass
        single = not skip and budget <= STATS_CHUNK
        num = _padded(budget if single else head)
        _, y, meta = next(streaming.stream(inst, params, k_train, num, num))
        stats = {"y_mean": float(np.mean(np.asarray(y, np.float64)[:head]))}
        if skip:
            return {**stats, **split(inf_test), "fresh_check": "bound", "fresh_bound": bound}
        seen, test64 = np.zeros(inf_test.shape, bool), metrics.hash64(h_test)
        chunk = num if single else min(STATS_CHUNK, _padded(budget))
        fields = ("hyperedge_hash", "informative")
        padded = -(-budget // chunk) * chunk
        metas = (
            iter([meta])
            if single
            else streaming.stream_meta(inst, params, k_train, padded, chunk, fields)
        )
        for start, part in zip(range(0, padded, chunk), metas, strict=True):
            inf = np.asarray(part["informative"]) & (start + np.arange(chunk) < budget)
            seen |= np.isin(test64, metrics.hash64(np.asarray(part["hyperedge_hash"])[inf]))
        fresh = split(inf_test & ~seen)
        return {**stats, **fresh, "fresh_check": "exact", "fresh_bound": None}

    return caches.get(cache_key, compute)


def fresh_test(
    inst: Instance,
    budget: int,
    params,
    k_train,
    test: tuple,
    trivial_hat,
    caches: Caches,
    a: int,
    calibration: tuple | None = None,
) -> tuple[metrics.FreshTest, dict[str, Any]]:
    """What instance seed `a`'s PRG scores are measured against (`metrics.FreshTest`, with the
    calibration rows' bits and fresh mask when `calibration` (x, y, meta) is given), and the
    fields of its rows that describe the fresh-hyperedge pass."""
    pick = lambda t: t[a]
    _, _, meta = test
    cal_meta = None if calibration is None else jax.tree.map(pick, calibration[2])
    stats = train_stats(
        inst, jax.tree.map(pick, params), k_train[a], budget, jax.tree.map(pick, meta), caches,
        cal_meta,
    )  # fmt: skip
    fresh, inf_test = stats["fresh"], np.asarray(meta["informative"][a])
    fresh_test = metrics.FreshTest(
        bits=np.asarray(meta["planted_bit"][a]), informative=inf_test, fresh=fresh,
        trivial_hat=trivial_hat[a], mean_label=stats["y_mean"],
        calibration_bits=None if cal_meta is None else np.asarray(cal_meta["planted_bit"]),
        calibration_fresh=stats.get("fresh_calibration"),
    )  # fmt: skip
    fields = {
        "frac_test_seen": float(1.0 - fresh.sum() / max(int(inf_test.sum()), 1)),
        "fresh_check": stats["fresh_check"],
        "fresh_bound": stats["fresh_bound"],
    }
    return fresh_test, fields
