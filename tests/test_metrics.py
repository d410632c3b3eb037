"""Metrics of docs/metrics.md."""

import jax
import jax.numpy as jnp
import numpy as np

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
