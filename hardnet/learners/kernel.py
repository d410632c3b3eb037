"""`kernel`: kernel ridge regression with NNGP, NTK, RBF or Laplace kernels (spec learners.md).

Kernels (`hardnet.learners.kernels`): the closed-form NNGP `Σ_L` and NTK `Θ_L` of a ReLU network
with L = `depth` hidden layers in NTK parameterization (arc-cosine recursion; input layer
`Σ_0 = σ_w²⟨x,x'⟩/d + σ_b²`, scalar linear readout included), RBF and Laplace with a given
bandwidth or the median heuristic on a random subsample of `bandwidth_subsample` rows.

Fit, for ridges given *relative to the kernel scale* `s = mean_i k(x_i, x_i)` (λ = ridge · s):

1. Split the rows with the key: `n_val = max(1, round(val_fraction · N))` validation rows, the rest
   for training; labels are centred by the training mean.
2. For every ridge of the grid solve `(1/N) Σ (f(x_i) − y_i)² + λ‖f‖²_H` on the training split
   (`hardnet.learners.solvers`): exactly, `(K + λN I)α = y` by Cholesky (+ `jitter · s` on the
   diagonal), or by Nyström with M = `landmarks` centres drawn from the training split and
   `cg_iters` steps of FALKON's preconditioned CG (all ridges at once; `nystrom_gram` chooses
   between accumulating K_nMᵀK_nM once and re-streaming K_nM at every step, see `solvers.falkon`).
   Kernel blocks of the Nyström path and all predictions are computed in row tiles of `tile`
   rows: memory O(tile · M + M²), never N².
3. Keep the ridge with the smallest validation MSE, then **refit on all N rows** with it (same
   landmarks for Nyström).

`solver="auto"` is exact for N ≤ `exact_max`, Nyström above; `solver="exact"` refuses N above
`exact_max`. All shapes are static, so `fit` vmaps over (key, x, y). `budget` (optional) is the
number of training rows used (the first `budget` rows of x). The predictor state holds the
centres (training rows, or landmarks), coefficients, bandwidth and label offset; `info` holds the
chosen ridge (relative and absolute), the validation MSE of every grid point, the kernel scale,
bandwidth, training MSE of the refit and whether Nyström was used; a `monitor` is evaluated once,
on the final predictor (one log point).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from hardnet import validation
from hardnet.base import Array, Learner, Monitor, Predictor
from hardnet.learners import kernels, solvers

NAME = "kernel"
DEFAULT_RIDGES = (1e-6, 3e-5, 1e-3, 3e-2, 1.0)


def _check_ridges(ridges: Sequence[float]) -> tuple[float, ...]:
    if isinstance(ridges, (str, bytes)) or not isinstance(ridges, Sequence) or not ridges:
        raise ValueError(f"ridges must be a non-empty sequence of positive numbers, got {ridges!r}")
    if len(ridges) > 64:
        raise ValueError(f"ridges must hold at most 64 values, got {len(ridges)}")
    return tuple(
        validation.check_float(f"ridges[{i}]", r, low=0.0, low_open=True)
        for i, r in enumerate(ridges)
    )


def _check_x64(dtype: str) -> None:
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("dtype='float64' needs jax_enable_x64 (jax.config.update or enable_x64)")


def make(
    kernel: str = "ntk",
    depth: int = 2,
    sigma_w: float = math.sqrt(2.0),
    sigma_b: float = 0.0,
    bandwidth: float | None = None,
    solver: str = "auto",
    landmarks: int = 1024,
    cg_iters: int = 30,
    nystrom_gram: bool = False,
    ridges: Sequence[float] = DEFAULT_RIDGES,
    val_fraction: float = 0.2,
    tile: int = 1024,
    exact_max: int = 20000,
    jitter: float = 1e-6,
    dtype: str = "float32",
    bandwidth_subsample: int = 512,
) -> Learner:
    """Kernel ridge regression at validated hyperparameters (see the module docstring)."""
    kernel = validation.check_choice("kernel", kernel, kernels.KERNELS)
    depth = validation.check_int("depth", depth, low=1, high=1000)
    sigma_w = validation.check_float("sigma_w", sigma_w, low=0.0, low_open=True)
    sigma_b = validation.check_float("sigma_b", sigma_b, low=0.0)
    if bandwidth is not None:
        bandwidth = validation.check_float("bandwidth", bandwidth, low=0.0, low_open=True)
    solver = validation.check_choice("solver", solver, ("auto", "exact", "nystrom"))
    landmarks = validation.check_int("landmarks", landmarks, low=1)
    cg_iters = validation.check_int("cg_iters", cg_iters, low=1)
    nystrom_gram = validation.check_bool("nystrom_gram", nystrom_gram)
    ridges = _check_ridges(ridges)
    val_fraction = validation.check_float("val_fraction", val_fraction, low=0.0, low_open=True)
    if val_fraction >= 1:
        raise ValueError(f"val_fraction must be < 1, got {val_fraction}")
    tile = validation.check_int("tile", tile, low=1)
    exact_max = validation.check_int("exact_max", exact_max, low=1)
    jitter = validation.check_float("jitter", jitter, low=0.0)
    dtype = validation.check_choice("dtype", dtype, ("float32", "float64"))
    _check_x64(dtype)
    bandwidth_subsample = validation.check_int("bandwidth_subsample", bandwidth_subsample, low=2)
    validation.check_fits(f"{NAME}: Nyström landmark blocks ({landmarks}²)", 4 * landmarks**2)
    config = dict(
        kernel=kernel, depth=depth, sigma_w=sigma_w, sigma_b=sigma_b, bandwidth=bandwidth,
        solver=solver, landmarks=landmarks, cg_iters=cg_iters, nystrom_gram=nystrom_gram,
        ridges=list(ridges), val_fraction=val_fraction, tile=tile, exact_max=exact_max,
        jitter=jitter, dtype=dtype, bandwidth_subsample=bandwidth_subsample,
    )  # fmt: skip
    kfn_h, diag_h = kernels.make_kernel(kernel, depth, sigma_w, sigma_b)
    itemsize = 4 if dtype == "float32" else 8

    def apply(state: dict[str, Array], x: Array) -> Array:
        centers = state["centers"]
        if x.shape[-1] != centers.shape[-1]:
            raise ValueError(f"{NAME}: x must have last dim {centers.shape[-1]}, got {x.shape}")
        batch = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1]).astype(centers.dtype)
        kfn = lambda a, b: kfn_h(a, b, state["bandwidth"])
        out = solvers.kernel_apply(kfn, x, centers, state["coef"], tile) + state["offset"]
        return out.reshape(batch)

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        _check_x64(dtype)
        validation.check_xy(NAME, x, y)
        if budget is not None:
            budget = validation.check_int("budget", budget, low=2)
            x, y = x[:budget], y[:budget]
        x, y = x.astype(dtype), y.astype(dtype)
        num = x.shape[0]
        n_val = max(1, round(val_fraction * num))
        n_tr = num - n_val
        if n_tr < 1:
            raise ValueError(f"{NAME}: N={num} rows leave no training rows at {val_fraction=}")
        nystrom = solver == "nystrom" or (solver == "auto" and num > exact_max)
        if solver == "exact" and num > exact_max:
            raise ValueError(
                f"{NAME}: solver='exact' refuses N={num} > exact_max={exact_max} "
                "(use solver='auto' or 'nystrom', or raise exact_max)"
            )
        if not nystrom:
            validation.check_fits(f"{NAME}: exact kernel matrices ({num}²)", 3 * num**2, itemsize)

        k_perm, k_bw = jax.random.split(key)
        perm = jax.random.permutation(k_perm, num)
        x, y = x[perm], y[perm]  # rows [:n_val] validate, rows [n_val:] train
        x_val, y_val, x_tr, y_tr = x[:n_val], y[:n_val], x[n_val:], y[n_val:]
        if bandwidth is not None:
            h = jnp.asarray(bandwidth, dtype)
        elif kernel in kernels.DISTANCE_KERNELS:
            h = kernels.median_bandwidth(k_bw, x, bandwidth_subsample).astype(dtype)
        else:
            h = jnp.asarray(0.0, dtype)  # unused by the ReLU kernels
        kfn = lambda a, b: kfn_h(a, b, h)
        scale = jnp.mean(diag_h(x, h))
        grid = jnp.asarray(ridges, dtype)
        lams = grid * scale
        mean_tr, mean_all = jnp.mean(y_tr), jnp.mean(y)

        if nystrom:
            m = min(landmarks, n_tr)
            centers = x_tr[:m]  # a uniform random subset of the training split
            eps = jitter * scale * m

            def solve(xs, ys, lam):
                return solvers.falkon(kfn, xs, ys, centers, lam, cg_iters, tile, eps, nystrom_gram)

            alphas = solve(x_tr, y_tr - mean_tr, lams)  # [M, R]
            val_pred = solvers.kernel_apply(kfn, x_val, centers, alphas, tile).T  # [R, n_val]
        else:
            kmat = kfn(x, x)
            k_tr, k_vt = kmat[n_val:, n_val:], kmat[:n_val, n_val:]
            shift = lambda lam, n: lam * n + jitter * scale
            alphas = jax.lax.map(
                lambda lam: solvers.exact_solve(k_tr, y_tr - mean_tr, shift(lam, n_tr)), lams
            )  # [R, n_tr]
            val_pred = alphas @ k_vt.T  # [R, n_val]
        val_mse = jnp.mean((val_pred + mean_tr - y_val[None, :]) ** 2, axis=1)
        best = jnp.argmin(jnp.where(jnp.isnan(val_mse), jnp.inf, val_mse))
        lam = lams[best]
        if nystrom:
            coef = solve(x, y - mean_all, lam[None])[:, 0]
            train_pred = solvers.kernel_apply(kfn, x, centers, coef, tile)
        else:
            centers = x
            coef = solvers.exact_solve(kmat, y - mean_all, shift(lam, num))
            train_pred = kmat @ coef
        state = {"centers": centers, "coef": coef, "bandwidth": h, "offset": mean_all}
        info = {
            "ridge": grid[best],
            "ridge_abs": lam,
            "ridges": grid,
            "val_mse": val_mse,
            "train_mse": jnp.mean((train_pred + mean_all - y) ** 2),
            "kernel_scale": scale,
            "bandwidth": h,
            "nystrom": jnp.asarray(nystrom),
        }
        predictor = Predictor(state=state, info=info, apply=apply)
        if monitor is not None:
            logged = monitor(predictor, None)
            info.update({name: jnp.asarray(v)[None] for name, v in logged.items()})
        return predictor

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """Exact: the kernel matrix of the training rows and its Cholesky factor (and a copy
        per ridge on the validation split), N³/3 flops per ridge. Nyström: M² matrices and
        row tiles of K_nM, `cg_iters` passes of N·M kernel entries."""
        n_tr = rows - max(1, round(val_fraction * rows))
        if solver == "exact" or (solver == "auto" and rows <= exact_max):
            return 4.0 * (3 * n_tr * n_tr + rows * d), len(ridges) * n_tr**3 / 3 + n_tr**2 * d
        m = min(landmarks, rows)
        work = 4.0 * (6 * m * m + 3 * tile * m + rows * d)
        return work, (cg_iters + 2) * rows * m * (d + 2 * len(ridges)) + m**3

    return Learner(
        name=NAME, config=config, fit=fit, fit_online=None, vmappable=True, estimate=estimate
    )
