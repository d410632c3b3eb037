"""What the benchmark measures (docs/metrics.md): errors on all, informative and fresh inputs,
the advantage over the trivial seed-agnostic predictor, and teacher alignment.

All functions are pure and jit-able except `fresh_mask` (a set lookup on the host).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hardnet.base import Array


def masked_mse(y_hat: Array, y: Array, mask: Array | None = None) -> Array:
    """Mean of `(y_hat − y)²` over rows where `mask` holds (NaN when the mask is empty)."""
    err = (y_hat - y) ** 2
    if mask is None:
        return jnp.mean(err)
    mask = mask.astype(err.dtype)
    return jnp.sum(err * mask) / jnp.sum(mask)


def nmse(y_hat: Array, y: Array) -> Array:
    """`mse_all / Var(y_test)`: 0 is perfect, 1 is the constant predictor `E[y]`."""
    return masked_mse(y_hat, y) / jnp.var(y)


def advantage(y_hat: Array, trivial_hat: Array, y: Array, mask: Array) -> Array:
    """`adv = 1 − mse(h) / mse(trivial)` on the rows of `mask` (fresh informative inputs)."""
    return 1 - masked_mse(y_hat, y, mask) / masked_mse(trivial_hat, y, mask)


def accuracy01(y_hat: Array, bits: Array, mask: Array) -> Array:
    """0-1 accuracy of `1[h > 1/2]` against planted bits on the rows of `mask`."""
    right = ((y_hat > 0.5) == (bits > 0.5)).astype(jnp.float32)
    mask = mask.astype(jnp.float32)
    return jnp.sum(right * mask) / jnp.sum(mask)


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
