"""`poly`: ridge regression on all multivariate Hermite (or monomial) features of degree ≤ D.

This is the "low-degree" learner of the hardness theory (docs/learners.md, `poly`): the
predictor is a polynomial of degree ≤ D in x, fitted by ridge regression. Features, over all
multi-indices `α ∈ N^d` with `|α| ≤ D`:

    hermite:   φ_α(x) = Π_i He_{α_i}(x_i) / √(α_i!)     (orthonormal under x ~ N(0, I_d))
    monomial:  φ_α(x) = Π_i x_i^{α_i}

with `He_0 = 1, He_1 = t, He_{p+1}(t) = t He_p(t) − p He_{p−1}(t)` (probabilists' Hermite).
There are `C(d + D, D)` features; α = 0 is the constant (the intercept, left unpenalized).

Fit on rows `0 .. N` of a stream (`fit_online(key, source, N)`; `fit(key, x, y)` is the same on
the rows of x in a random order from `key`). Fixed shapes, no data-dependent loops, so both vmap
over seeds; memory `chunk × count` for the features and `count²` for the normal equations,
whatever N:
1. Split by row index (`source.is_validation`: row r is a validation row iff
   `⌊(r+1)·f⌋ > ⌊r·f⌋`, f = val_fraction), `n_v = ⌊f·N⌋` rows spread evenly; on an i.i.d.
   stream this is a random split.
2. Pass 1 over chunks of rows: `G = ΦᵀΦ`, `b = Φᵀy` over all rows and `G_v, b_v` over the
   validation rows; `G_t = (G − G_v)/n_t`, `b_t = (b − b_v)/n_t`.
3. For each ridge λ of the grid: `w_λ = (G_t + s (λ P + ε I))^{-1} b_t` by Cholesky, with
   `s = tr(G_t)/count` (λ is relative to the mean eigenvalue; s ≈ 1 for Hermite features under
   Gaussian x), `P = I` without the constant, `ε = 1e-5` a jitter for float32. Pass 2 (the
   stream read again) gives the validation MSE `Σ_v (φ_vᵀw_λ − y_v)² / n_v` of every λ at once.
4. The best λ refits on all rows: `(G/N, b/N)`, same solve.

The multi-index table is built in NumPy at trace time from `x.shape[-1]` (static), where the
feature count is checked against `hardnet.core.validation.max_bytes()`; `make(d=...)` checks it up
front. `budget` (optional) caps the number of training rows used: the first `budget` rows.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import linalg, validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Source, jit_fit, log_final
from hardnet.core.source import (
    array_source,
    check_source,
    fold_rows,
    is_validation,
    validation_count,
)

NAME = "poly"
BASES = ("hermite", "monomial")
DEFAULT_RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
JITTER = 1e-5  # relative diagonal added to every normal-equation matrix (float32 Cholesky)
FEATURE_BLOCK = 2**22  # default chunk: rows such that a chunk of features has ~4M entries


def feature_count(d: int, degree: int) -> int:
    """Number of multi-indices `α ∈ N^d` with `|α| ≤ degree`: `C(d + degree, degree)`."""
    return math.comb(d + degree, degree)


def check_feature_count(d: int, degree: int) -> int:
    """Refuse (ValueError naming the count) when the normal equations would not fit in memory.

    Memory: `count²` floats for `G` (twice: the matrix and its Cholesky factor), and the
    multi-index table; the feature chunks are sized separately (`chunk × count`).
    """
    count = feature_count(d, degree)
    validation.check_fits(
        f"{NAME}: degree={degree} on d={d} inputs has C(d+D, D) = {count} features; the normal "
        f"equations ({count} x {count}, float32, with their Cholesky factor)",
        2.0 * count * count + 2.0 * count * max(degree, 1),
        hint="or lower the degree",
    )
    return count


@functools.lru_cache(maxsize=16)
def multi_indices(d: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The multi-index table as `(var, power)`, both `int32[count, max(degree, 1)]`.

    Row c encodes `α` as pairs `(var[c, j], power[c, j])`: `φ_α = Π_j h_{power}(x_{var})`
    (pairs with power 0 contribute `h_0 = 1`). Rows are ordered by degree, row 0 is α = 0.
    """
    width = max(degree, 1)
    rows = []
    for total in range(degree + 1):
        combos = itertools.combinations_with_replacement(range(d), total)
        flat = np.fromiter(
            itertools.chain.from_iterable(combos),
            dtype=np.int32,
            count=math.comb(d + total - 1, total) * total,
        )
        combos = flat.reshape(-1, total) if total else np.zeros((1, 0), np.int32)
        rows.append(np.pad(combos, ((0, 0), (0, width - total)), constant_values=-1))
    t = np.concatenate(rows)  # sorted variable lists, padded with -1
    # power at the first occurrence of each variable = its multiplicity; 0 elsewhere.
    first = np.ones_like(t, dtype=bool)
    first[:, 1:] = t[:, 1:] != t[:, :-1]
    mult = (t[:, :, None] == t[:, None, :]).sum(-1)
    power = np.where(first & (t >= 0), mult, 0).astype(np.int32)
    var = np.where(t >= 0, t, 0).astype(np.int32)
    return var, power


def univariate(x: Array, degree: int, basis: str) -> Array:
    """`h[..., i, p]` for p ≤ degree: `He_p(x_i)/√(p!)` (hermite) or `x_i^p` (monomial)."""
    h = [jnp.ones_like(x)]
    if degree >= 1:
        h.append(x)
    for p in range(1, degree):
        h.append(x * h[p] - p * h[p - 1] if basis == "hermite" else x * h[p])
    if basis == "hermite":
        h = [hp / math.sqrt(math.factorial(p)) for p, hp in enumerate(h)]
    return jnp.stack(h, axis=-1)


def features(x: Array, degree: int, basis: str) -> Array:
    """All features of degree ≤ `degree` of rows `x[num, d]`: `[num, C(d+D, D)]`."""
    var, power = multi_indices(x.shape[-1], degree)
    h = univariate(x, degree, basis)  # (num, d, D+1)
    out = h[:, var[:, 0], power[:, 0]]
    for j in range(1, var.shape[1]):
        out = out * h[:, var[:, j], power[:, j]]
    return out


def _chunks(x: Array, chunk: int) -> tuple[Array, Array]:
    """Rows padded to a multiple of `chunk` and reshaped `[steps, chunk, ...]`, with a mask."""
    num = x.shape[0]
    steps = -(-num // chunk)
    pad = steps * chunk - num
    xp = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
    mask = jnp.arange(steps * chunk) < num
    return xp.reshape((steps, chunk) + x.shape[1:]), mask.reshape(steps, chunk)


def make(
    degree: int = 2,
    basis: str = "hermite",
    ridges: Sequence[float] = DEFAULT_RIDGES,
    val_fraction: float = 0.2,
    chunk: int | None = None,
    d: int | None = None,
) -> Learner:
    """Ridge regression on the degree-≤`degree` features; ridge chosen on held-out rows.

    Args:
      degree: D ≥ 0, the largest total degree.
      basis: "hermite" (orthonormal under N(0, I)) or "monomial".
      ridges: the grid of ridge strengths λ > 0, relative to the mean eigenvalue `tr(G)/count`
        of the Gram matrix `G = ΦᵀΦ/n`.
      val_fraction: fraction of rows held out to choose λ, in (0, 1).
      chunk: rows per chunk of the feature matrix; None picks about 4M entries per chunk.
      d: the input dimension, optional: if given, the feature count is checked now.
    """
    # Long: by design (docs/learners.md, The learner contract): a factory whose fit, fit_online
    # and estimate are closures over the validated hyperparameters and the helpers below.
    degree = validation.check_int("degree", degree, low=0)
    basis = validation.check_choice("basis", basis, BASES)
    if isinstance(ridges, (str, bytes)) or not isinstance(ridges, Sequence) or not ridges:
        raise ValueError(f"ridges must be a non-empty sequence of numbers > 0, got {ridges!r}")
    ridges = tuple(validation.check_float("ridges", r, low=0.0, low_open=True) for r in ridges)
    val_fraction = validation.check_float("val_fraction", val_fraction, low=0.0, low_open=True)
    if val_fraction >= 1:
        raise ValueError(f"val_fraction must be < 1, got {val_fraction}")
    if chunk is not None:
        chunk = validation.check_int("chunk", chunk, low=1)
    if d is not None:
        d = validation.check_int("d", d, low=1)
        check_feature_count(d, degree)
    ridge_grid = np.asarray(ridges, np.float32)

    def check_x(x: Array, where: str) -> int:
        if x.ndim < 1 or x.shape[-1] < 1:
            raise ValueError(f"{NAME}.{where}: x must have shape [..., d], got {x.shape}")
        if d is not None and x.shape[-1] != d:
            raise ValueError(f"{NAME}.{where}: x has d={x.shape[-1]}, but make(d={d})")
        return check_feature_count(x.shape[-1], degree)

    def rows_per_chunk(num: int, count: int) -> int:
        size = chunk if chunk is not None else max(1, FEATURE_BLOCK // count)
        return max(1, min(size, num))

    def as_float(x: Array) -> Array:
        x = jnp.asarray(x)
        return x if x.dtype in (jnp.float32, jnp.float64) else x.astype(jnp.float32)

    def solve(g: Array, b: Array, lam: Array) -> Array:
        """`(G + λ s P + ε s I)^{-1} b`, s = tr(G)/count (ridges are relative to the mean
        eigenvalue, so they mean the same in both bases), ε = JITTER keeps float32 Cholesky
        defined when G is singular (e.g. one-hot inputs, where features are linearly dependent).
        """
        scale = jnp.trace(g) / g.shape[0]
        penalty = jnp.ones(g.shape[0], g.dtype).at[0].set(0.0)  # intercept unpenalized
        a = g + jnp.diag(scale * (lam * penalty + JITTER))
        return linalg.cho_solve_spd(a, b)

    def predict_rows(w: Array, x: Array) -> Array:
        xs, _ = _chunks(x, rows_per_chunk(x.shape[0], w.shape[0]))
        out = jax.lax.map(lambda xb: features(xb, degree, basis) @ w, xs)
        return out.reshape(-1)[: x.shape[0]]

    def apply(state: dict[str, Array], x: Array) -> Array:
        x = as_float(x)
        count = check_x(x, "apply")
        w = state["w"]
        if w.shape != (count,):
            raise ValueError(f"{NAME}.apply: weights have shape {w.shape}, expected ({count},)")
        batch = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        return predict_rows(w.astype(flat.dtype), flat).reshape(batch)

    def fit_source(source: Source, num: int) -> Predictor:
        """Steps 1–4 of the module docstring on rows `0 .. num` of `source`: two passes."""
        d, dtype = check_source(NAME, source, min(num, 1))
        dtype = dtype if dtype in (jnp.float32, jnp.float64) else jnp.float32
        count = check_x(jax.ShapeDtypeStruct((1, d), dtype), "fit")
        n_val = validation_count(num, val_fraction)
        if not 1 <= n_val <= num - 1:
            raise ValueError(
                f"{NAME}.fit: val_fraction={val_fraction} of N={num} rows leaves {n_val} "
                "validation rows; need at least 1 validation and 1 training row"
            )
        chunk_rows = rows_per_chunk(num, count)

        def rows(x: Array, y: Array, row0: Array) -> tuple[Array, Array, Array]:
            """Features, labels and the validation mask of a chunk (split by row index)."""
            r = row0 + jnp.arange(x.shape[0], dtype=jnp.int32)
            val = is_validation(r, val_fraction)
            return features(x.astype(dtype), degree, basis), y.astype(dtype), val

        def normal_equations(carry, x, y, row0):
            g_all, b_all, g_val, b_val = carry
            phi, y, val = rows(x, y, row0)
            phi_val = phi * val[:, None].astype(dtype)
            return (g_all + phi.T @ phi, b_all + phi.T @ y,
                    g_val + phi_val.T @ phi, b_val + phi_val.T @ y)  # fmt: skip

        zeros = (jnp.zeros((count, count), dtype), jnp.zeros((count,), dtype))
        g_all, b_all, g_val, b_val = fold_rows(
            source, 0, num, chunk_rows, normal_equations, zeros + zeros
        )
        n_tr = num - n_val
        lams = jnp.asarray(ridge_grid, dtype)
        g_tr, b_tr = (g_all - g_val) / n_tr, (b_all - b_val) / n_tr
        weights = jax.lax.map(lambda lam: solve(g_tr, b_tr, lam), lams)  # [R, count]

        def validation_error(sse, x, y, row0):
            phi, y, val = rows(x, y, row0)
            err = (phi @ weights.T - y[:, None]) ** 2
            return sse + jnp.sum(err * val[:, None].astype(dtype), axis=0)

        sse = fold_rows(source, 0, num, chunk_rows, validation_error, jnp.zeros_like(lams))
        val_mse = sse / n_val
        val_mse = jnp.where(jnp.isfinite(val_mse), val_mse, jnp.inf)
        best = jnp.argmin(val_mse)
        w = solve(g_all / num, b_all / num, lams[best])
        # Safety net: should the refit on all rows fail numerically, keep the train-split fit.
        w = jnp.where(jnp.all(jnp.isfinite(w)), w, weights[best])
        info = {"val_mse": val_mse, "ridge": lams[best]}
        return Predictor(state={"w": w}, info=info, apply=apply)

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        """The rows in a random order (from `key`), then the streamed fit on them."""
        x, y = as_float(x), jnp.asarray(y)
        validation.check_xy(f"{NAME}.fit", x, y)
        if budget is not None:
            budget = validation.check_int("budget", budget, low=2)
            x, y = x[:budget], y[:budget]
        check_x(x, "fit")
        perm = jax.random.permutation(key, x.shape[0])
        source = array_source(x[perm], y[perm].astype(x.dtype))
        return log_final(fit_source(source, x.shape[0]), monitor)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Rows `0 .. budget` of an i.i.d. stream, read twice (normal equations, then the
        validation error); memory O(chunk × count + count²) whatever the budget. `key` is
        unused: the split is by row index, which is random on an i.i.d. stream."""
        del key
        budget = validation.check_int("budget", budget, low=2)
        return log_final(fit_source(source, budget), monitor)

    config = {
        "degree": degree,
        "basis": basis,
        "ridges": list(ridges),
        "val_fraction": val_fraction,
        "chunk": chunk,
        "d": d,
    }

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """Features in chunks (`rows_per_chunk × count`, with the chunk's rows), the normal
        equations (all rows and validation rows) and Cholesky factors (count², ~6 copies) and the
        R ridge solutions; flops: 2·N·count² for the two Gram matrices, N·count·R for the
        validation pass, R·count³ for the solves."""
        count = feature_count(d, degree)
        chunk_rows = rows_per_chunk(rows, count)
        ridges = len(ridge_grid)
        work = 4.0 * (chunk_rows * (2 * count + d + ridges) + 6 * count * count + ridges * count)
        return work, 2.0 * rows * count * count + rows * count * ridges + ridges * count**3

    return Learner(
        matmul_precision="highest",  # Gram/moment sums in float32 (core/base.py)
        name=NAME,
        config=config,
        fit=jit_fit(fit),
        fit_online=fit_online,
        vmappable=True,
        estimate=estimate,
    )
