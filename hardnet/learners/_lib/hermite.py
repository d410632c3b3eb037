"""Hermite moments of a depth-2 ReLU network under `x ~ N(0, I_d)` (docs/learners.md, `tensor`).

Probabilists' Hermite polynomials `He_0 = 1, He_1 = t, He_{p+1} = t He_p − p He_{p−1}`. For
`g ~ N(0, 1)`, `σ = relu` and a bias b [ATV21, Awasthi, Tang & Vijayaraghavan, NeurIPS 2021]:

    c_0(b) = bΦ(b) + φ(b),  c_1(b) = Φ(b),  c_p(b) = E[σ(g + b) He_p(g)] = (−1)^p He_{p−2}(b) φ(b)
    T_p := E[f(x) He_p(x)] = Σ_j a_j c_p(b_j) w_j^{⊗p}     for f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j).

Estimators linear in y, streamed over chunks of rows (`lax.scan`), never forming a `d^3` array
(α, β ∈ R^d):

    M2          = E[y (x xᵀ − I)]
    T3[·,·,α]   = E[y ((α·x) x xᵀ − (α·x) I − x αᵀ − α xᵀ)]
    T4[·,·,α,β] = E[y ((α·x)(β·x) x xᵀ − (α·β) x xᵀ − (α·x)(x βᵀ + β xᵀ) − (β·x)(x αᵀ + α xᵀ)
                       − (α·x)(β·x) I + (α·β) I + α βᵀ + β αᵀ)]

In a projected space `z = Uᵀx ∈ R^m` (m ≤ 32) the full tensors are formed from the raw moments
`S_k = E[y z^{⊗k}]` (cost O(N m^4), as an `[m², chunk] @ [chunk, m²]` product):

    T2 = S2 − S0 I,   T3 = S3 − Sym3(S1 ⊗ I),   T4 = S4 − Sym6(S2 ⊗ I) + S0 Sym3(I ⊗ I).

Every estimator is a sum over rows divided by the row count, so it is computed the same way from a
stream read chunk by chunk (`source_mean`, memory O(chunk · d + d²)) or from arrays in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from hardnet.core.base import Array, Source
from hardnet.core.source import array_source, fold_rows


def hermite(t: Array, p: int) -> Array:
    """`He_p(t)` by the three-term recurrence (elementwise)."""
    prev, cur = jnp.ones_like(t), t
    if p == 0:
        return prev
    for q in range(1, p):
        prev, cur = cur, t * cur - q * prev
    return cur


def coefficients(b: Array, p_max: int = 4) -> Array:
    """`c_p(b) = E[σ(g + b) He_p(g)]` for p = 0..p_max, stacked on a new last axis."""
    b = jnp.asarray(b, jnp.float32)
    phi = norm.pdf(b)
    out = [b * norm.cdf(b) + phi, norm.cdf(b)]
    out += [(-1.0) ** p * hermite(b, p - 2) * phi for p in range(2, p_max + 1)]
    return jnp.stack(out[: p_max + 1], axis=-1)


def source_mean(
    stat: Callable[[Array, Array], Any], source: Source, start: int, stop: int, chunk: int
) -> Any:
    """`Σ_chunks stat(x_c, y_c) / (stop − start)` over rows `start .. stop` of a stream, read
    `chunk` rows at a time (`hardnet.core.source.fold_rows`; `stat` sums over its rows)."""
    x0, y0 = jax.eval_shape(lambda: source(jnp.zeros((), jnp.int32), 1))
    shapes = jax.eval_shape(stat, x0, y0)
    init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def step(acc: Any, xc: Array, yc: Array, row0: Array) -> Any:
        return jax.tree.map(jnp.add, acc, stat(xc, yc))

    total = fold_rows(source, start, stop, chunk, step, init)
    return jax.tree.map(lambda t: t / (stop - start), total)


def stream_mean(stat: Callable[[Array, Array], Any], x: Array, y: Array, chunk: int) -> Any:
    """`source_mean` over the rows of arrays `x [N, d]`, `y [N]`."""
    return source_mean(stat, array_source(x, y), 0, x.shape[0], chunk)


def first_moment_sums(xc: Array, yc: Array) -> tuple[Array, Array]:
    """`(Σ y, Σ y x)` over a chunk."""
    return jnp.sum(yc), yc @ xc


def m2_sums(xc: Array, yc: Array) -> Array:
    """`Σ y (x xᵀ − I)` over a chunk."""
    return (xc * yc[:, None]).T @ xc - jnp.sum(yc) * jnp.eye(xc.shape[1], dtype=xc.dtype)


def raw_moment_sums(zc: Array, yc: Array) -> tuple[Array, ...]:
    """`(Σ y, Σ y z, Σ y z^{⊗2}, Σ y z^{⊗3}, Σ y z^{⊗4})` over a chunk, the last three flattened
    (`[m²]`, `[m², m]`, `[m², m²]`)."""
    m = zc.shape[1]
    zz = (zc[:, :, None] * zc[:, None, :]).reshape(zc.shape[0], m * m)
    yzz = zz * yc[:, None]
    return jnp.sum(yc), yc @ zc, yc @ zz, yzz.T @ zc, yzz.T @ zz


def first_moments(x: Array, y: Array, chunk: int) -> tuple[Array, Array]:
    """`(E[y], T1 = E[y x])`."""
    return stream_mean(first_moment_sums, x, y, chunk)


def m2(x: Array, y: Array, chunk: int) -> Array:
    """`M2 = E[y (x xᵀ − I)]`, `[d, d]`."""
    return stream_mean(m2_sums, x, y, chunk)


def t3_contract(x: Array, y: Array, alpha: Array, chunk: int) -> Array:
    """`T3[·,·,α] = E[y ((α·x) x xᵀ − (α·x) I − x αᵀ − α xᵀ)]`, `[d, d]`."""

    def stat(xc, yc):
        yu = yc * (xc @ alpha)
        t1 = yc @ xc
        eye = jnp.eye(xc.shape[1], dtype=xc.dtype)
        return (
            (xc * yu[:, None]).T @ xc
            - jnp.sum(yu) * eye
            - jnp.outer(t1, alpha)
            - jnp.outer(alpha, t1)
        )

    return stream_mean(stat, x, y, chunk)


def t4_contract(x: Array, y: Array, alpha: Array, beta: Array, chunk: int) -> Array:
    """`T4[·,·,α,β]` of the module docstring, `[d, d]`."""
    ab = alpha @ beta

    def stat(xc, yc):
        u, v = xc @ alpha, xc @ beta
        yuv = yc * u * v
        sxx = (xc * yc[:, None]).T @ xc
        pu, pv = (yc * u) @ xc, (yc * v) @ xc
        eye = jnp.eye(xc.shape[1], dtype=xc.dtype)
        s0 = jnp.sum(yc)
        return (
            (xc * yuv[:, None]).T @ xc
            - ab * sxx
            - jnp.outer(pu, beta)
            - jnp.outer(beta, pu)
            - jnp.outer(pv, alpha)
            - jnp.outer(alpha, pv)
            - jnp.sum(yuv) * eye
            + s0 * (ab * eye + jnp.outer(alpha, beta) + jnp.outer(beta, alpha))
        )

    return stream_mean(stat, x, y, chunk)


def projected_tensors(z: Array, y: Array, chunk: int) -> tuple[Array, Array, Array, Array]:
    """`(T1, T2, T3, T4)` of the projected inputs `z [N, m]`: `E[y He_p(z)]`, shapes `m^p`."""
    return hermite_tensors(*stream_mean(raw_moment_sums, z, y, chunk))


def hermite_tensors(s0: Array, s1: Array, s2: Array, s3: Array, s4: Array) -> tuple[Array, ...]:
    """`(T1, T2, T3, T4)` from the raw moments `S_k = E[y z^{⊗k}]` (module docstring)."""
    m = s1.shape[0]
    s2 = s2.reshape(m, m)
    s3 = s3.reshape(m, m, m)
    s4 = s4.reshape(m, m, m, m)
    eye = jnp.eye(m, dtype=s1.dtype)
    t2 = s2 - s0 * eye
    t3 = (
        s3
        - jnp.einsum("i,jk->ijk", s1, eye)
        - jnp.einsum("j,ik->ijk", s1, eye)
        - jnp.einsum("k,ij->ijk", s1, eye)
    )
    ii = jnp.einsum("ij,kl->ijkl", eye, eye)
    sym_s2 = sum(
        jnp.einsum(f"{p},{q}->ijkl", s2, eye)
        for p, q in (
            ("ij", "kl"),
            ("ik", "jl"),
            ("il", "jk"),
            ("jk", "il"),
            ("jl", "ik"),
            ("kl", "ij"),
        )
    )
    sym_ii = ii + ii.transpose(0, 2, 1, 3) + ii.transpose(0, 2, 3, 1)
    t4 = s4 - sym_s2 + s0 * sym_ii
    return s1, t2, t3, t4


def closed_form(w: Array, a: Array, b: Array, p: int) -> Array:
    """`T_p = Σ_j a_j c_p(b_j) w_j^{⊗p}` for unit columns `w [d, m]` (small d only: `d^p`)."""
    lam = a * coefficients(b, p)[..., p]
    letters = "ijkl"[:p]
    operands = [w] * p
    spec = ",".join(f"{c}z" for c in letters) + ",z->" + letters
    return jnp.einsum(spec, *operands, lam)
