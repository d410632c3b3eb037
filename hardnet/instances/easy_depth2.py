"""F6 `easy_depth2` [ATV21 regime]: a non-degenerate depth-2 ReLU network under Gaussian inputs.

Input `x ~ N(0, I_d)`; teacher with `m ≤ d` hidden units

    f(x) = Σ_{j≤m} a_j σ(⟨w_j, x⟩ + b_j),   σ(t) = max(t, 0),

`w_j` the unit-normalized columns of a Gaussian `d×m` matrix `W`, `a_j = ±U[0.5, 1.5]` (uniform
sign), `b_j ~ U[−1, 1]`. `sample` adds optional label noise `N(0, label_noise²)` to y; `apply` is
noise-free and `meta["clean_label"]` is f(x). Every row is informative.

Why it is easy [ATV21, Awasthi, Tang & Vijayaraghavan, NeurIPS 2021]: when `W` has full column
rank with `σ_min(W)` bounded away from 0, the Hermite tensors `E[f(x) He_l(x)]` decompose into
the `w_j` and tensor methods learn f in time polynomial in d, m and `1/σ_min`. For generic W,
`σ_min(W) ≈ 1 − √(m/d)` (Marchenko–Pastur edge, asymptotic; `describe` records it). At small
sizes it is larger: mean ≈ 0.42 at d=16, m=8 (formula 0.29), 0.72 at d=64, m=8 (0.65).

`degenerate=True` (needs m ≥ 2) replaces the second column by
`w_2 = cos θ · w_1 + sin θ · u`, with u a unit vector orthogonal to `w_1` and to `w_3..w_m`
(a Gaussian vector orthogonalized by QR), and `θ = √2 · 1e-3`. Then `W v` for the unit
`v ∝ (−cos θ, 1, 0, …)` has norm `sin θ / √(1 + cos² θ) ≈ θ/√2`, and since u is orthogonal to
every other column no other direction is shorter to first order: `σ_min(W) = 1e-3` (measured
within 1e-7 for d=16, m ∈ {2, 8, 16} and d=256, m=64), the regime where the ATV21 guarantee
degrades. All columns stay unit vectors.

Params: `{"W": float32[d, m], "a": float32[m], "b": float32[m]}`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from hardnet.core import linalg, validation
from hardnet.core.base import Array, Instance, row_keys
from hardnet.instances import common

FAMILY = "easy_depth2"

# σ_min(W) targeted by the degenerate variant, and the angle between w_1 and w_2 that gives it.
DEGENERATE_SIGMA_MIN = 1e-3
_THETA = math.sqrt(2.0) * DEGENERATE_SIGMA_MIN


def _unit_columns(g: Array) -> Array:
    return g / jnp.linalg.norm(g, axis=0, keepdims=True)


def _make_degenerate(w: Array, g: Array) -> Array:
    """Replace column 1 of `w` by `cos θ w_1 + sin θ u`, u ⊥ {w_1, w_3..w_m}, from vector `g`."""
    basis = jnp.concatenate([w[:, :1], w[:, 2:], g[:, None]], axis=1)  # (d, m), full rank a.s.
    q, _ = linalg.qr(basis)
    u = q[:, -1]  # g orthogonalized against w_1, w_3..w_m
    w2 = math.cos(_THETA) * w[:, 0] + math.sin(_THETA) * u
    return w.at[:, 1].set(w2)


def make(d: int = 16, m: int = 8, label_noise: float = 0.0, degenerate: bool = False) -> Instance:
    d = validation.check_int("d", d, low=1)
    m = validation.check_int("m", m, low=1)
    if m > d:
        raise ValueError(f"{FAMILY}: m must be <= d (W needs full column rank), got m={m}, d={d}")
    label_noise = validation.check_float("label_noise", label_noise, low=0.0)
    degenerate = validation.check_bool("degenerate", degenerate)
    if degenerate and m < 2:
        raise ValueError(f"{FAMILY}: m must be >= 2 with degenerate=True (two columns), got m={m}")

    def init(key: Array) -> dict[str, Array]:
        k_normal, k_uniform = jax.random.split(key)
        # flat draws, reshaped: XLA:CPU compiles 2-D random draws far more slowly
        g = jax.random.normal(k_normal, ((m + 1) * d,), jnp.float32).reshape(m + 1, d).T
        w = _unit_columns(g[:, :m])  # columns 0..m-1 are W, column m seeds u (degenerate)
        if degenerate:
            w = _make_degenerate(w, g[:, m])
        u = jax.random.uniform(k_uniform, (3 * m,), jnp.float32).reshape(3, m)
        sign = jnp.where(u[0] < 0.5, 1.0, -1.0)
        return {"W": w, "a": sign * (0.5 + u[1]), "b": 2.0 * u[2] - 1.0}

    def apply(params: dict[str, Array], x: Array) -> Array:
        return jax.nn.relu(x @ params["W"] + params["b"]) @ params["a"]

    def sample(
        params: dict[str, Array], key: Array, num: int, start: int | Array = 0
    ) -> tuple[Array, Array, dict[str, Array]]:
        common.check_sample_size(FAMILY, num, d + 1)
        # one N(0, I_{d+1}) draw per row key: x is the first d coordinates, the last one is the
        # label noise (so x does not depend on label_noise)
        z = jax.vmap(lambda kk: jax.random.normal(kk, (d + 1,), jnp.float32))(
            row_keys(key, num, start)
        )
        x = z[:, :d]
        clean = apply(params, x)
        y = clean + label_noise * z[:, d] if label_noise > 0 else clean
        meta = {"informative": jnp.ones((num,), bool), "clean_label": clean}
        return x, y, meta

    def describe(params: dict[str, Array]) -> dict[str, Array]:
        return {"sigma_min_W": linalg.singular_values(params["W"])[-1]}

    return Instance(
        family=FAMILY,
        config={"d": d, "m": m, "label_noise": label_noise, "degenerate": degenerate},
        input_dim=d,
        init=init,
        sample=sample,
        apply=apply,
        informative_fraction=1.0,
        describe=describe,
        teacher_directions=lambda params: params["W"],
    )
