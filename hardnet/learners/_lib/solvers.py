"""Kernel ridge solvers: exact (Cholesky) and Nyström, solved directly from whitened one-pass
statistics (`nystrom_direct`, SGPR's solve: Titsias 2009) or by a preconditioned conjugate
gradient (`falkon`: Rudi, Carratino & Rosasco, "FALKON: An optimal large scale kernel method",
NeurIPS 2017, Alg. 1), with kernel blocks computed in row chunks read from a `Rows` description.

Ridge convention (all solvers), for training rows `(x_i, y_i)` with weights `w_i ∈ {0, 1}`,
`N = Σ w_i`, labels centred by an offset `c`, and ridge λ (absolute):

    exact:    (K + λ N I) α = y − c,                          g(x) = K(x, X) α
    Nyström:  (K_nMᵀ W K_nM + λ N K_MM) α = K_nMᵀ W (y − c),    g(x) = K(x, C) α  (C: M landmarks)

and `f = g + c`, with `W = diag(w)`: the minimizers of `(1/N) Σ w_i (g(x_i) − (y_i − c))² +
λ ‖g‖²_H` over the RKHS, resp. over the span of the landmarks. FALKON preconditioner:
`T = chol(K_MM + εMI)` (upper, `TᵀT = K_MM + εMI`), `A = chol(T Tᵀ/M + λ I)`, `B = T⁻¹A⁻¹`; CG
runs a fixed number of iterations on `Bᵀ(K_nMᵀWK_nM/N + λ K_MM)B β = Bᵀ K_nMᵀ W (y − c) / N`,
and `α = B β`. As in FALKON, `Bᵀ λ K_MM B` is applied as `λ A⁻ᵀA⁻¹`, i.e. K_MM is replaced by
`K_MM + εM I`: the jitter also adds `λεM‖α‖²` to the penalty (it truncates the landmark basis at
eigenvalue ~εM). Applying the jitter-free K_MM instead was tried once and was unstable in
float32 on an RBF problem.

The rows are never held at once: every product `K_nMᵀ W (K_nM v)` reads them again, chunk by
chunk, through `Rows.fold` (`hardnet.core.source.fold_rows`), so memory is O(chunk·M + M²),
never O(N²), O(N·M) or O(N·d). A sample in memory is `Rows(array_source(x, y), ...)`; a data
stream is read again at every pass (its rows are redrawn from their keys), a split of it is a
weight (a mask from the row index). Several ridges are solved at once as columns (one kernel
evaluation per chunk and iteration).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from hardnet.core import linalg
from hardnet.core.base import Array, Source
from hardnet.core.source import fold_rows

KernelFn = Callable[[Array, Array], Array]  # (x1[N1, d], x2[N2, d]) -> [N1, N2]
RowStep = Callable[[Any, Array, Array, Array], Any]  # (carry, x, y, w) -> carry


@dataclasses.dataclass(frozen=True)
class Rows:
    """Rows `start .. stop` of a `Source`, read in chunks of `chunk` rows cast to `dtype`, row r
    weighted by `weight(r) ∈ {0, 1}` (bool or float of the traced int32 row indices; None: all
    rows weigh 1). A split of a sample is either a range of rows (`start`, `stop`) or a weight."""

    source: Source
    start: int
    stop: int
    chunk: int
    dtype: Any
    weight: Callable[[Array], Array] | None = None

    def fold(self, step: RowStep, init: Any) -> Any:
        """`carry = step(carry, x, y, w)` over the chunks (`x[c, d]`, `y[c]`, weights `w[c]`)."""

        def body(carry: Any, x: Array, y: Array, row0: Array) -> Any:
            x, y = x.astype(self.dtype), y.astype(self.dtype)
            if self.weight is None:
                w = jnp.ones(y.shape, self.dtype)
            else:
                w = self.weight(row0 + jnp.arange(y.shape[0], dtype=jnp.int32)).astype(self.dtype)
            return step(carry, x, y, w)

        return fold_rows(self.source, self.start, self.stop, self.chunk, body, init)


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


def label_sums(rows: Rows) -> tuple[Array, Array]:
    """`(Σ w_i, Σ w_i y_i)`: the weighted row count and label sum, one pass (no kernel)."""
    zero = jnp.zeros((), rows.dtype)
    return rows.fold(lambda acc, x, y, w: (acc[0] + jnp.sum(w), acc[1] + w @ y), (zero, zero))


def knm_normal(kfn: KernelFn, rows: Rows, centers: Array, v: Array) -> Array:
    """`K_nMᵀ W K_nM v`, `[M, R]` for `v[M, R]`, one pass (FALKON's `KnM_times_vector`)."""

    def step(acc: Array, x: Array, y: Array, w: Array) -> Array:
        kt = kfn(x, centers)
        return acc + kt.T @ (w[:, None] * (kt @ v))

    return rows.fold(step, jnp.zeros(v.shape, v.dtype))


def knm_rhs(kfn: KernelFn, rows: Rows, centers: Array, offset: Array) -> Array:
    """`K_nMᵀ W (y − c)`, `[M]`, one pass."""
    step = lambda acc, x, y, w: acc + kfn(x, centers).T @ (w * (y - offset))
    return rows.fold(step, jnp.zeros(centers.shape[:1], rows.dtype))


def knm_gram(kfn: KernelFn, rows: Rows, centers: Array, offset: Array) -> tuple[Array, Array]:
    """`(K_nMᵀ W K_nM [M, M], K_nMᵀ W (y − c) [M])` accumulated in one pass."""

    def step(acc: tuple[Array, Array], x: Array, y: Array, w: Array) -> tuple[Array, Array]:
        kt = kfn(x, centers)
        kw = w[:, None] * kt
        return acc[0] + kw.T @ kt, acc[1] + kw.T @ (y - offset)

    m = centers.shape[0]
    return rows.fold(step, (jnp.zeros((m, m), rows.dtype), jnp.zeros((m,), rows.dtype)))


def residual_sums(
    kfn: KernelFn, rows: Rows, centers: Array, coef: Array, offset: Array
) -> tuple[Array, Array, Array]:
    """`(Σ w_i (K(x_i, C) α_r + c − y_i)² [R], Σ w_i, Σ w_i y_i)` for the columns `coef[M, R]`
    (squared errors of R predictors, and the label sums of `label_sums`), one pass."""

    def step(acc: tuple[Array, Array, Array], x: Array, y: Array, w: Array):
        err = kfn(x, centers) @ coef + offset - y[:, None]
        return acc[0] + w @ (err * err), acc[1] + jnp.sum(w), acc[2] + w @ y

    zero = jnp.zeros((), rows.dtype)
    return rows.fold(step, (jnp.zeros(coef.shape[1:], rows.dtype), zero, zero))


def whitened_pass(
    kfn: KernelFn, rows: Rows, centers: Array, low: Array, offset: Array, coef: Array | None = None
) -> dict[str, Array]:
    """The sufficient statistics of the whitened Nyström problem on `rows`, one pass.

    With `L` the lower Cholesky factor of `K_MM + εM I` and `a_i = L⁻¹ K(C, x_i)` (the row of
    `A = K_nM L⁻ᵀ`, computed chunk by chunk, so that the sums are formed in the well-conditioned
    basis rather than from `K_nMᵀ K_nM`):

        count = Σ w_i,  label_sum = Σ w_i y_i,  gram = Σ w_i a_i a_iᵀ  [M, M],
        rhs = Σ w_i a_i (y_i − c)  [M],  basis_sum = Σ w_i a_i  [M],

    and, for coefficient columns `coef[M, R]`, `sse = Σ w_i (K(x_i, C) α_r + c − y_i)²` [R].
    """
    m, dtype = centers.shape[0], rows.dtype

    def step(acc: dict[str, Array], x: Array, y: Array, w: Array) -> dict[str, Array]:
        kt = kfn(x, centers)  # [c, M]
        a_t = linalg.solve_lower(low, kt.T)  # [M, c] = (K_cM L⁻ᵀ)ᵀ
        aw = a_t * w[None, :]
        out = {
            "count": acc["count"] + jnp.sum(w),
            "label_sum": acc["label_sum"] + w @ y,
            "gram": acc["gram"] + aw @ a_t.T,
            "rhs": acc["rhs"] + aw @ (y - offset),
            "basis_sum": acc["basis_sum"] + jnp.sum(aw, axis=1),
        }
        if coef is not None:
            err = kt @ coef + offset - y[:, None]
            out["sse"] = acc["sse"] + w @ (err * err)
        return out

    zero = jnp.zeros((), dtype)
    init = {"count": zero, "label_sum": zero, "gram": jnp.zeros((m, m), dtype),
            "rhs": jnp.zeros((m,), dtype), "basis_sum": jnp.zeros((m,), dtype)}  # fmt: skip
    if coef is not None:
        init["sse"] = jnp.zeros(coef.shape[1:], dtype)
    return rows.fold(step, init)


def ridge_path(low: Array, gram: Array, rhs: Array, count: Array, ridges: Array) -> Array:
    """`α_r = L⁻ᵀ β_r`, `[M, R]`, with `β_r = (H/N + λ_r I)⁻¹ z/N` for every ridge from one
    eigendecomposition `H/N = Q diag(e) Qᵀ` shared by all ridges: `β_r = Q diag(1/(e + λ_r)) Qᵀ
    z/N` (`gram` = H, `rhs` = z of `whitened_pass`, `low` = L). Eigenvalues that rounding leaves
    below zero (H is a Gram matrix) count as zero, so any λ > 0 is stable."""
    n = jnp.maximum(count, 1.0)
    evals, evecs = linalg.eigh(gram / n)
    proj = evecs.T @ (rhs / n)  # [M]
    beta = evecs @ (proj[:, None] / (jnp.maximum(evals, 0.0)[:, None] + ridges[None, :]))
    return linalg.solve_lower_t(low, beta)


def whitening(kfn: KernelFn, centers: Array, jitter: Array) -> Array:
    """`L`, the lower Cholesky factor of `K_MM + εM I` (`jitter` = εM, absolute)."""
    eye = jnp.eye(centers.shape[0], dtype=centers.dtype)
    return linalg.cholesky(kfn(centers, centers) + jitter * eye)


def nystrom_direct(
    kfn: KernelFn, rows: Rows, offset: Array, centers: Array, ridges: Array, jitter: Array
) -> Array:
    """Nyström ridge coefficients `α[M, R]` (the system of the module docstring, with `K_MM`
    replaced by `K_MM + εM I` as in `falkon`), solved directly: one pass for the whitened
    statistics (`whitened_pass`), then `α_r = L⁻ᵀ β_r` for every ridge (`ridge_path`). This is the
    point PCG converges to (SGPR's solve): substituting `α = L⁻ᵀβ` turns
    `(K_nMᵀWK_nM + λN(K_MM + εMI)) α = K_nMᵀW(y − c)` into `(H + λN I) β = z`."""
    low = whitening(kfn, centers, jitter)
    stats = whitened_pass(kfn, rows, centers, low, offset)
    return ridge_path(low, stats["gram"], stats["rhs"], stats["count"], ridges)


def exact_solve(kmat: Array, y: Array, shift: Array) -> Array:
    """`(K + shift · I)⁻¹ y` by Cholesky (`shift` = λN plus jitter, a traced scalar)."""
    a = kmat + shift * jnp.eye(kmat.shape[0], dtype=kmat.dtype)
    return linalg.cho_solve_spd(a, y)


def falkon(
    kfn: KernelFn,
    rows: Rows,
    count: Array,
    offset: Array,
    centers: Array,
    ridges: Array,
    iters: int,
    jitter: Array,
    gram: bool = False,
) -> Array:
    """Nyström ridge coefficients `α[M, R]` on `rows` (`count` = N = Σ w_i, labels centred by
    `offset` = c), one column per ridge in `ridges[R]` (absolute λ; `jitter` is the absolute εM
    added to K_MM), by `iters` steps of preconditioned CG.

    `gram=True` accumulates `K_nMᵀWK_nM` (M×M) once, in one pass over the rows, and runs CG on
    it; `gram=False` reads the rows again and recomputes the K_nM chunks at every CG step, as
    FALKON's Alg. 1. Both use O(chunk·M + M²) memory; the first costs one kernel pass and N·M²
    flops, the second `iters + 1` kernel passes and 2·iters·N·M·R flops (kernel evaluations
    dominate on CPU for the ReLU kernels, ~10² ns an entry, so `gram=True` is much faster
    there). But forming K_nMᵀK_nM in float32 squares the conditioning: measured on an RBF
    problem (N=4000, M=1000, λ=1e-3, εM=1e-3) its CG iterates drift (test MSE 0.080 → 0.082
    from 10 to 20 steps) where the streamed products give 0.0689 at any step count, so
    `gram=False` is the default; `nystrom_direct` accumulates its Gram in the whitened basis
    instead and matches converged PCG (`tests/test_kernel.py`)."""
    m, dtype = centers.shape[0], rows.dtype
    n = jnp.maximum(count, 1.0)
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

    if gram:
        g, z = knm_gram(kfn, rows, centers, offset)
        normal = lambda v: g @ v
    else:
        z = knm_rhs(kfn, rows, centers, offset)
        normal = lambda v: knm_normal(kfn, rows, centers, v)
    rhs = jnp.broadcast_to(z[:, None], (m, ridges.shape[0])) / n

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
