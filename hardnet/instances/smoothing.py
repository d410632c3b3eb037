"""Parameter smoothing for the lazily evaluated families F3 and F4 [DSV23 setting].

Every weight and bias, zeros included, gets i.i.d. `N(0, τ²)` noise. Layer-2 units are indexed by
hyperedges, `(n)_k` of them, so the noise of unit S is regenerated on demand from
`key_S = fold_in(…fold_in(noise_key, i_1)…, i_k)`: lazy evaluation and the materialized
reference draw identical numbers.

The unit's `N(0, 1)` vector is stretched out of the two threefry words of `key_S` by a counter
hash: word t is `h(h(k1 + t·φ) ⊕ k0)` with `h` the lowbias32 integer mixer (a bijection of
uint32, C. Wellons' hash prospector; 7 operations against threefry's ~100 per word), turned
into a normal as `jax.random.normal` does, `√2 erf⁻¹(u)` of a 23-bit uniform `u ∈ (−1, 1)`.
At F3's default sizes this vector (4L+2 = 338 numbers per row) cost 4x drawing the input with
threefry; the hash makes it ~8x cheaper (benchmarks/perf.py). Its moments, tails and
independence across t and across units are tested in tests/test_smoothed.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import prg
from hardnet.core.base import Array
from hardnet.instances import common

# The noise on a hidden unit's pre-activation must stay below this fraction of the margin 1.
MARGIN_FRACTION = 1.0 / 12.0


_GOLDEN = 0x9E3779B9  # ⌊2^32/φ⌋: the counter stride (Weyl sequence)


def mix32(x: Array) -> Array:
    """lowbias32 (uint32): `x ^= x>>16; x *= 0x21f0aaad; x ^= x>>15; x *= 0x735a2d97; x ^= x>>15`"""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x21F0AAAD)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x735A2D97)
    return x ^ (x >> 15)


def hashed_normal(words: Array, index: int | np.ndarray) -> Array:
    """`N(0, 1)` numbers t of each unit from its key words uint32[..., 2] (see module doc).

    `index` is the count `size` (numbers 0..size-1, float32[..., size]) or a static array of
    positions t (float32[..., *index.shape]), so callers can lay the numbers out as they use them.
    """
    index = np.arange(index) if np.ndim(index) == 0 else np.asarray(index)
    t = jnp.asarray(index.astype(np.uint32) * np.uint32(_GOLDEN))
    w0 = words[..., 0].reshape(words.shape[:-1] + (1,) * index.ndim)
    w1 = words[..., 1].reshape(w0.shape)
    bits = mix32(mix32(w1 + t) ^ w0)
    one_two = jax.lax.bitcast_convert_type((bits >> 9) | jnp.uint32(0x3F800000), jnp.float32)
    u = jnp.maximum(2 * one_two - 3, jnp.nextafter(jnp.float32(-1), jnp.float32(0)))  # [−1, 1)
    return jnp.sqrt(jnp.float32(2)) * jax.lax.erf_inv(u)


def unit_noise(noise_key: Array, hyperedges: Array, size: int | np.ndarray) -> Array:
    """`N(0, 1)` noise of the units of `hyperedges[num, k]`: float32[num, size] (scale by τ), or
    float32[num, *size.shape] holding the numbers at positions `size` (an index array)."""
    keys = prg.hyperedge_keys(common.wrap(noise_key), hyperedges)
    return hashed_normal(jax.random.key_data(keys), size)


def relu_diff(a_hi: Array, a_lo: Array, diff: Array) -> Array:
    """`σ(a_hi) − σ(a_lo)`, using `diff = a_hi − a_lo` computed without cancellation.

    Where both are positive the answer is `diff` exactly; this keeps the steep layer-2 weights
    (`~1/(αδ)`) from amplifying float32 rounding of the large layer-1 activations.
    """
    both = (a_hi > 0) & (a_lo > 0)
    return jnp.where(both, diff, jax.nn.relu(a_hi) - jax.nn.relu(a_lo))


def check_noise_margin(
    family: str, tau: float, std: float, why: str, allow_unsafe: bool, override: str
) -> bool:
    """Enforce `std(noise on a pre-activation) ≤ margin/12`; returns whether τ is unsafe."""
    if std <= MARGIN_FRACTION:
        return False
    if allow_unsafe:
        return True
    safe = tau * MARGIN_FRACTION / std
    raise ValueError(
        f"{family}: tau={tau:g} is unsafe: the noise on a hidden pre-activation has std "
        f"≈ {std:.3g} > 1/12 of the margin 1 ({why}), so a competitor unit can switch on and "
        f"lazy evaluation is wrong. The largest safe tau is {safe:.3g}; "
        f"pass {override}=True to run anyway (results are marked 'unsafe tau')."
    )


def check_materializable(family: str, n: int, k: int, per_unit: int) -> None:
    units = math.perm(n, k)
    if units > 200_000 or units * per_unit > 5e7:
        raise ValueError(
            f"{family}: the materialized evaluator needs (n)_k = {units} units × {per_unit} "
            "weights; it is for tiny sizes (e.g. n=8, k=3). Use apply (lazy) instead."
        )
