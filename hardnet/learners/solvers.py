"""Kernel ridge solvers: exact (Cholesky) and Nyström with a preconditioned conjugate gradient
(FALKON: Rudi, Carratino & Rosasco, "FALKON: An optimal large scale kernel method", NeurIPS 2017,
Alg. 1), with kernel blocks computed in row tiles.

Ridge convention (both solvers), for training set `(x_i, y_i)_{i≤N}` and ridge λ (absolute):

    exact:    (K + λ N I) α = y,                     f(x) = K(x, X) α
    Nyström:  (K_nMᵀ K_nM + λ N K_MM) α = K_nMᵀ y,   f(x) = K(x, C) α   (C: M landmarks)

i.e. the minimizers of `(1/N) Σ (f(x_i) − y_i)² + λ ‖f‖²_H` over the RKHS, resp. over the span of
the landmarks. FALKON preconditioner: `T = chol(K_MM + εMI)` (upper, `TᵀT = K_MM + εMI`),
`A = chol(T Tᵀ/M + λ I)`, `B = T⁻¹A⁻¹`; CG runs a fixed number of iterations on
`Bᵀ(K_nMᵀK_nM/N + λ K_MM)B β = Bᵀ K_nMᵀ y / N`, and `α = B β`. As in FALKON, `Bᵀ λ K_MM B` is
applied as `λ A⁻ᵀA⁻¹`, i.e. K_MM is replaced by `K_MM + εM I`: the jitter also adds `λεM‖α‖²`
to the penalty (it truncates the landmark basis at eigenvalue ~εM). Applying the jitter-free
K_MM instead was tried once and was unstable in float32 on an RBF problem. The products
`K_nMᵀ(K_nM v)` are accumulated over row tiles in `lax.scan`, so memory is O(tile·M + M²), never
O(N²) or O(N·M). Several ridges are solved at once as columns (one kernel evaluation per tile
and iteration).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from hardnet import linalg
from hardnet.base import Array

KernelFn = Callable[[Array, Array], Array]  # (x1[N1, d], x2[N2, d]) -> [N1, N2]


def to_tiles(x: Array, tile: int) -> tuple[Array, Array]:
    """Rows of `x[N, ...]` zero-padded to a multiple of `tile`:
    `(tiles[T, tile, ...], mask[T, tile])`."""
    n = x.shape[0]
    tile = max(1, min(tile, n))
    num = -(-n // tile)
    pad = num * tile - n
    xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    mask = jnp.arange(num * tile) < n
    return xp.reshape(num, tile, *x.shape[1:]), mask.reshape(num, tile)


def kernel_apply(kfn: KernelFn, x: Array, centers: Array, coef: Array, tile: int) -> Array:
    """`K(x, centers) @ coef` computed over row tiles of x (memory O(tile · len(centers)))."""
    n = x.shape[0]
    tiles, _ = to_tiles(x, tile)
    out = lax.map(lambda xt: kfn(xt, centers) @ coef, tiles)
    return out.reshape(-1, *coef.shape[1:])[:n]


def knm_normal(
    kfn: KernelFn, tiles: Array, mask: Array, centers: Array, v: Array, extra: Array | None = None
) -> Array:
    """`Σ_t K_tᵀ (mask_t · K_t v + extra_t)` over row tiles, `[M, R]` (FALKON's `KnM_times_vector`):
    `K_nMᵀ K_nM v` with `extra=None`, `K_nMᵀ y` with `v = 0`, `extra = y` in tiles."""

    def body(acc, inputs):
        xt, mt, et = inputs
        kt = kfn(xt, centers)
        inner = jnp.where(mt[:, None], kt @ v, 0.0)
        if et is not None:
            inner = inner + et
        return acc + kt.T @ inner, None

    acc0 = jnp.zeros((centers.shape[0], v.shape[1]), v.dtype)
    acc, _ = lax.scan(body, acc0, (tiles, mask, extra))
    return acc


def knm_gram(kfn: KernelFn, tiles: Array, mask: Array, y_tiles: Array, centers: Array):
    """`(K_nMᵀ K_nM [M, M], K_nMᵀ y [M])` accumulated in one pass over row tiles."""

    def body(acc, inputs):
        xt, mt, yt = inputs
        kt = jnp.where(mt[:, None], kfn(xt, centers), 0.0)
        return (acc[0] + kt.T @ kt, acc[1] + kt.T @ yt), None

    m = centers.shape[0]
    acc0 = (jnp.zeros((m, m), centers.dtype), jnp.zeros((m,), centers.dtype))
    return lax.scan(body, acc0, (tiles, mask, y_tiles))[0]


def exact_solve(kmat: Array, y: Array, shift: Array) -> Array:
    """`(K + shift · I)⁻¹ y` by Cholesky (`shift` = λN plus jitter, a traced scalar)."""
    a = kmat + shift * jnp.eye(kmat.shape[0], dtype=kmat.dtype)
    return linalg.cho_solve_spd(a, y)


def falkon(
    kfn: KernelFn,
    x: Array,
    y: Array,
    centers: Array,
    ridges: Array,
    iters: int,
    tile: int,
    jitter: Array,
    gram: bool = False,
) -> Array:
    """Nyström ridge coefficients `α[M, R]`, one column per ridge in `ridges[R]` (absolute λ;
    `jitter` is the absolute εM added to K_MM), by `iters` steps of preconditioned CG.

    `gram=True` accumulates `K_nMᵀK_nM` (M×M) once over the row tiles and runs CG on it;
    `gram=False` recomputes the K_nM tiles at every CG step, as FALKON's Alg. 1. Both use
    O(tile·M + M²) memory; the first costs one kernel pass and N·M² flops, the second `iters`
    kernel passes and 2·iters·N·M flops (kernel evaluations dominate on CPU for the ReLU
    kernels, ~10² ns an entry, so `gram=True` is much faster there). But forming K_nMᵀK_nM in
    float32 squares the conditioning: measured on an RBF problem (N=4000, M=1000, λ=1e-3,
    εM=1e-3) its CG iterates drift (test MSE 0.080 → 0.082 from 10 to 20 steps) where the
    streamed products give 0.0689 at any step count, so `gram=False` is the default."""
    n, m = x.shape[0], centers.shape[0]
    dtype = x.dtype
    tiles, mask = to_tiles(x, tile)
    y_tiles, _ = to_tiles(y.astype(dtype), tile)
    eye = jnp.eye(m, dtype=dtype)
    low_t = linalg.cholesky(kfn(centers, centers) + jitter * eye)  # T = low_tᵀ
    ttt = low_t.T @ low_t  # T Tᵀ
    low_a = jax.vmap(lambda lam: linalg.cholesky(ttt / m + lam * eye))(ridges)  # A_r = ·ᵀ

    def col_solve(fn):  # apply a per-ridge triangular solve to the columns of u[M, R]
        return lambda u: jax.vmap(fn, in_axes=(0, 1), out_axes=1)(low_a, u)

    a_inv = col_solve(linalg.solve_lower_t)
    a_inv_t = col_solve(linalg.solve_lower)
    t_inv = lambda u: linalg.solve_lower_t(low_t, u)
    t_inv_t = lambda u: linalg.solve_lower(low_t, u)

    num_r = ridges.shape[0]
    if gram:
        g, z = knm_gram(kfn, tiles, mask, y_tiles, centers)
        normal = lambda v: g @ v
        rhs = jnp.broadcast_to(z[:, None], (m, num_r)) / n
    else:
        normal = lambda v: knm_normal(kfn, tiles, mask, centers, v)
        rhs = knm_normal(
            kfn, tiles, mask, centers, jnp.zeros((m, num_r), dtype),
            jnp.broadcast_to(y_tiles[..., None], (*y_tiles.shape, num_r)),
        ) / n  # fmt: skip

    def bhb(u: Array) -> Array:
        au = a_inv(u)
        return a_inv_t(t_inv_t(normal(t_inv(au)) / n) + ridges[None, :] * au)

    b = a_inv_t(t_inv_t(rhs))

    def cg_step(_, carry):
        beta, r, p, rs = carry
        ap = bhb(p)
        pap = jnp.sum(p * ap, axis=0)
        step = jnp.where(pap > 0, rs / jnp.where(pap > 0, pap, 1.0), 0.0)
        beta = beta + step * p
        r = r - step * ap
        rs_new = jnp.sum(r * r, axis=0)
        mom = jnp.where(rs > 0, rs_new / jnp.where(rs > 0, rs, 1.0), 0.0)
        return beta, r, r + mom * p, rs_new

    init = (jnp.zeros_like(b), b, b, jnp.sum(b * b, axis=0))
    beta, *_ = lax.fori_loop(0, iters, cg_step, init)
    return t_inv(a_inv(beta))
