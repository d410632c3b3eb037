"""Metrics of docs/metrics.md."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.analysis import metrics


def test_masked_mse_and_nmse():
    y = jnp.array([0.0, 1.0, 2.0, 3.0])
    y_hat = jnp.array([0.0, 1.0, 0.0, 0.0])
    assert float(metrics.masked_mse(y_hat, y)) == (4 + 9) / 4
    assert float(metrics.masked_mse(y_hat, y, jnp.array([1, 1, 0, 1], bool))) == 9 / 3
    assert float(metrics.nmse(jnp.full(4, y.mean()), y)) == 1.0  # the constant predictor
    assert float(metrics.nmse(y, y)) == 0.0


def test_advantage_against_trivial():
    bits = jnp.array(jax.random.bernoulli(jax.random.key(0), 0.5, (1000,)), jnp.float32)
    mask = jnp.ones(1000, bool)
    half = jnp.full(1000, 0.5)
    assert float(metrics.advantage(bits, half, bits, mask)) == 1.0  # perfect
    assert float(metrics.advantage(half, half, bits, mask)) == 0.0  # trivial
    assert float(metrics.advantage(1 - bits, half, bits, mask)) == -3.0  # anti-correlated
    assert float(metrics.accuracy01(bits, bits, mask)) == 1.0
    assert float(metrics.accuracy01(1 - bits, bits, mask)) == 0.0


def test_best_cosines_up_to_sign_and_permutation():
    teacher = jnp.linalg.qr(jax.random.normal(jax.random.key(1), (8, 3)))[0]  # d=8, m=3
    learned = jnp.concatenate(
        [-2.0 * teacher.T[::-1], jax.random.normal(jax.random.key(2), (2, 8))]
    )
    np.testing.assert_allclose(metrics.best_cosines(learned, teacher), 1.0, atol=1e-6)
    assert float(metrics.best_cosines(learned[3:], teacher).max()) < 0.99


def test_fresh_mask_by_hash():
    train = np.array([[1, 2], [3, 4]], np.uint32)
    test = np.array([[1, 2], [2, 1], [3, 4], [0, 4]], np.uint32)
    np.testing.assert_array_equal(metrics.fresh_mask(train, test), [False, True, False, True])
    # the two words are combined, not summed
    assert (
        metrics.hash64(np.array([[1, 0]], np.uint32))[0]
        != metrics.hash64(np.array([[0, 1]], np.uint32))[0]
    )


def _pairwise_auc(h, bits):
    """AUC from its definition: P(h(x⁺) > h(x⁻)) + ½ P(h(x⁺) = h(x⁻)) over all pairs."""
    pos, neg = h[bits == 1], h[bits == 0]
    return np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))


def test_auc_and_calibrated_threshold_equal_brute_force():
    rng = np.random.default_rng(0)
    checked = 0
    for t in range(300):
        n = int(rng.integers(2, 60))
        h = rng.integers(0, 5, n).astype(float) if t % 2 else rng.normal(size=n)  # ties, none
        bits, mask = rng.integers(0, 2, n), rng.random(n) < 0.8
        hm, bm = h[mask], bits[mask]
        if bm.size < 2 or bm.min() == bm.max():
            assert bm.size == 0 or np.isnan(metrics.auc(h, bits, mask))
            continue
        assert metrics.auc(h, bits, mask) == pytest.approx(_pairwise_auc(hm, bm), abs=1e-12)
        t_star = metrics.best_threshold(h, bits, mask)
        cuts = np.concatenate([[-np.inf], np.unique(hm)])  # every distinct split of the rows
        best = max(np.mean((hm > c) == (bm == 1)) for c in cuts)
        assert metrics.accuracy_at(h, bits, mask, t_star) == pytest.approx(best, abs=1e-12)
        checked += 1
    assert checked > 200


def test_calibration_free_scores_ignore_the_scale():
    """A learner that found the label but shrinks its outputs toward the mean (docs/metrics.md):
    acc01 calls it wrong on every negative row; auc and acc01_cal see a perfect ranking."""
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, 2000)
    h = 0.55 + 0.01 * bits + 0.001 * rng.random(2000)  # every score above 1/2
    cal, test = np.arange(1000), np.arange(1000, 2000)
    mask = np.ones(1000, bool)
    assert metrics.accuracy01(h[test], bits[test], mask) == pytest.approx(np.mean(bits[test]))
    assert metrics.auc(h[test], bits[test], mask) == 1.0
    t_star = metrics.best_threshold(h[cal], bits[cal], mask)
    assert 0.551 < t_star < 0.56
    assert metrics.accuracy_at(h[test], bits[test], mask, t_star) == 1.0
    # an inverted learner has auc 0, and chance scores have auc near 1/2
    assert metrics.auc(-h[test], bits[test], mask) == 0.0
    assert abs(metrics.auc(rng.random(1000), bits[test], mask) - 0.5) < 0.06
    # among equally good thresholds, the one nearest 1/2: with constant scores, 1/2 itself is
    # not a candidate, so one of ±inf (all 1s or all 0s), whichever is more accurate
    assert metrics.best_threshold(np.zeros(4), np.array([1, 1, 1, 0]), np.ones(4, bool)) < 0


def test_score_run_gives_acc01_cal_only_with_calibration_rows():
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, 500).astype(np.float32)
    h = 0.6 + 0.1 * bits
    fresh = np.ones(500, bool)
    base = metrics.FreshTest(bits=bits, informative=fresh, fresh=fresh,
                             trivial_hat=np.full(500, 0.5), mean_label=0.5)  # fmt: skip
    plain = metrics.score_run(h, bits, base)
    assert "acc01_cal" not in plain and plain["auc"] == 1.0
    assert base.calibrated(h) is base  # no calibration rows: nothing to calibrate on
    with_cal = dataclasses.replace(base, calibration_bits=bits, calibration_fresh=fresh)
    scored = metrics.score_run(h, bits, with_cal.calibrated(h))
    assert scored["acc01_cal"] == 1.0 and 0.6 < scored["threshold_cal"] < 0.7
    assert scored["acc01"] == pytest.approx(np.mean(bits))
