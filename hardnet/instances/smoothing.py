"""Parameter smoothing for the lazily evaluated families F3 and F4 [DSV23 setting].

Every weight and bias, zeros included, gets i.i.d. `N(0, τ²)` noise. Layer-2 units are indexed by
hyperedges, `(n)_k` of them, so the noise of unit S is regenerated on demand from
`key_S = fold_in(…fold_in(noise_key, i_1)…, i_k)`: lazy evaluation and the materialized
reference draw identical numbers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from hardnet import prg
from hardnet.base import Array
from hardnet.instances import common

# The noise on a hidden unit's pre-activation must stay below this fraction of the margin 1.
MARGIN_FRACTION = 1.0 / 12.0


def unit_noise(noise_key: Array, hyperedges: Array, size: int) -> Array:
    """`N(0, 1)` noise of the units of `hyperedges[num, k]`: float32[num, size] (scale by τ)."""
    keys = prg.hyperedge_keys(common.wrap(noise_key), hyperedges)
    return jax.vmap(lambda key: jax.random.normal(key, (size,)))(keys)


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
