"""`kernel`: kernel ridge regression with NNGP, NTK, RBF or Laplace kernels (docs/learners.md).

Kernels (`hardnet.learners._lib.kernels`): the closed-form NNGP `Σ_L` and NTK `Θ_L` of a ReLU
network with L = `depth` hidden layers in NTK parameterization (arc-cosine recursion; input layer
`Σ_0 = σ_w²⟨x,x'⟩/d + σ_b²`, scalar linear readout included), RBF and Laplace with a given
bandwidth or the median heuristic on a random subsample of `bandwidth_subsample` rows.

Fit, for ridges given *relative to the kernel scale* `s = mean_i k(x_i, x_i)` (λ = ridge · s):

1. Split the rows with the key: `n_val = max(1, round(val_fraction · N))` validation rows, the rest
   for training; labels are centred by the training mean.
2. For every ridge of the grid solve `(1/N) Σ (f(x_i) − y_i)² + λ‖f‖²_H` on the training split
   (`hardnet.learners._lib.solvers`): exactly, `(K + λN I)α = y` by Cholesky (+ `jitter · s` on the
   diagonal), or by Nyström with M = `landmarks` centres drawn from the training split, all
   ridges at once. `nystrom_solver="direct"` accumulates the whitened statistics
   `H = Σ a_i a_iᵀ`, `z = Σ a_i (y_i − c)` (`a_i = L⁻¹K(C, x_i)`, `LLᵀ = K_MM + εMI`) in one
   pass and solves `(H/N + λI)β = z/N` for every ridge from one eigendecomposition
   (`solvers.nystrom_direct`: the point PCG converges to, as in SGPR); `"pcg"` runs `cg_iters`
   steps of FALKON's preconditioned CG (`nystrom_gram` chooses between accumulating K_nMᵀK_nM
   once and re-streaming K_nM at every step, see `solvers.falkon`); `"auto"` is direct up to
   M = 4096 landmarks (its M² statistics and M³ eigendecompositions stay small) and PCG above.
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

Streamed, `fit_online(key, source, N)` on rows `0 .. N` of an i.i.d. stream
(`hardnet.core.base.Source`): up to `exact_max` rows (and `solver != "nystrom"`) it is `fit` on
those rows, read into memory (`source.read_rows`). Above, the rows are never held: every pass reads
them again from the source in chunks of `tile` rows (`solvers.Rows`), memory O(tile · M + M²)
whatever N, and

1. the split is by row index: row r validates iff `⌊(r+1)·f⌋ > ⌊r·f⌋` (f = `val_fraction`, the
   rule of `source.is_validation`; ⌊f·N⌋ rows spread evenly, a random split on an i.i.d. stream),
   applied as 0/1 row weights `w_i` inside each chunk;
2. the landmarks are the first M training rows of the stream and the bandwidth's median
   heuristic uses its first `bandwidth_subsample` rows; the kernel scale `s = (1/N) Σ k(x_i, x_i)`
   is one pass (none for RBF and Laplace, where k(x, x) = 1);
3. as steps 2–3 above, with sums over the rows weighted by `w_i`: the training mean is one pass,
   the grid solve `cg_iters + 1` kernel passes (one with `nystrom_gram`), the validation MSE of
   every ridge one, the refit on all rows `cg_iters + 1` more (one), the training MSE one. The
   direct solver reads the rows 4 times: the training mean, the training split's statistics,
   the validation split (its MSE for every ridge and its statistics, which added to the
   training split's give the refit's), the training MSE.

The Nyström path of `fit` is the same code on the sample in memory (`array_source`, the split a
range of rows): both read `solvers.Rows`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from hardnet.core import validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Source, jit_fit, log_final
from hardnet.core.source import (
    array_source,
    check_source,
    is_validation,
    read_rows,
    validation_count,
)
from hardnet.learners._lib import kernels, solvers
from hardnet.learners._lib.solvers import KernelFn, Rows

NAME = "kernel"
DIRECT_MAX_LANDMARKS = 4096  # nystrom_solver="auto": direct up to here, PCG above
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


def _head_rows(landmarks: int, val_fraction: float) -> int:
    """Leading rows of a stream that hold at least `landmarks` training rows (about a fraction
    `1 − val_fraction` of any prefix is training rows), with a margin of two rows."""
    return math.ceil((landmarks + 1) / (1 - val_fraction)) + 1


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
    nystrom_solver: str = "auto",
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
    # Long: by design (docs/learners.md, The learner contract): a factory whose fit, fit_online
    # and estimate are closures over the validated hyperparameters and the helpers below.
    kernel = validation.check_choice("kernel", kernel, kernels.KERNELS)
    depth = validation.check_int("depth", depth, low=1, high=1000)
    sigma_w = validation.check_float("sigma_w", sigma_w, low=0.0, low_open=True)
    sigma_b = validation.check_float("sigma_b", sigma_b, low=0.0)
    if bandwidth is not None:
        bandwidth = validation.check_float("bandwidth", bandwidth, low=0.0, low_open=True)
    solver = validation.check_choice("solver", solver, ("auto", "exact", "nystrom"))
    landmarks = validation.check_int("landmarks", landmarks, low=1)
    cg_iters = validation.check_int("cg_iters", cg_iters, low=1)
    nystrom_solver = validation.check_choice(
        "nystrom_solver", nystrom_solver, ("auto", "direct", "pcg")
    )
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
        solver=solver, landmarks=landmarks, cg_iters=cg_iters, nystrom_solver=nystrom_solver,
        nystrom_gram=nystrom_gram,
        ridges=list(ridges), val_fraction=val_fraction, tile=tile, exact_max=exact_max,
        jitter=jitter, dtype=dtype, bandwidth_subsample=bandwidth_subsample,
    )  # fmt: skip
    kfn_h, diag_h = kernels.make_kernel(kernel, depth, sigma_w, sigma_b)
    direct = nystrom_solver == "direct" or (
        nystrom_solver == "auto" and landmarks <= DIRECT_MAX_LANDMARKS
    )
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

    def nystrom_at(num: int) -> bool:
        """Whether a fit on `num` rows uses Nyström (refusing `solver='exact'` above
        `exact_max`)."""
        if solver == "exact" and num > exact_max:
            raise ValueError(
                f"{NAME}: solver='exact' refuses N={num} > exact_max={exact_max} "
                "(use solver='auto' or 'nystrom', or raise exact_max)"
            )
        return solver == "nystrom" or (solver == "auto" and num > exact_max)

    def bandwidth_of(key: Array, x: Array) -> Array:
        """The given bandwidth, or the median heuristic on (a subsample of) the rows x."""
        if bandwidth is not None:
            return jnp.asarray(bandwidth, dtype)
        if kernel in kernels.DISTANCE_KERNELS:
            return kernels.median_bandwidth(key, x, bandwidth_subsample).astype(dtype)
        return jnp.asarray(0.0, dtype)  # unused by the ReLU kernels

    def best_ridge(val_mse: Array) -> Array:
        return jnp.argmin(jnp.where(jnp.isnan(val_mse), jnp.inf, val_mse))

    def nystrom_fit(
        kfn: KernelFn, centers: Array, scale: Array, train: Rows, val: Rows, full: Rows
    ) -> dict[str, Array]:
        """Steps 2–3 with Nyström on three row sets of one source (the training split, the
        validation split, all rows): `2·cg_iters + 4` kernel passes over the rows with PCG, 4
        with the direct solver, none held."""
        lams = jnp.asarray(ridges, dtype) * scale
        eps = jitter * scale * centers.shape[0]
        if direct:
            return direct_fit(kfn, centers, lams, eps, train, val, full)

        def solve(rows: Rows, count: Array, offset: Array, lam: Array) -> Array:
            return solvers.falkon(
                kfn, rows, count, offset, centers, lam, cg_iters, eps, nystrom_gram
            )

        n_tr, sum_tr = solvers.label_sums(train)
        mean_tr = sum_tr / jnp.maximum(n_tr, 1.0)
        alphas = solve(train, n_tr, mean_tr, lams)  # [M, R]
        sse_val, n_val, sum_val = solvers.residual_sums(kfn, val, centers, alphas, mean_tr)
        val_mse = sse_val / jnp.maximum(n_val, 1.0)
        best = best_ridge(val_mse)
        num = n_tr + n_val
        mean_all = (sum_tr + sum_val) / num
        coef = solve(full, num, mean_all, lams[best][None])  # [M, 1]
        sse_all = solvers.residual_sums(kfn, full, centers, coef, mean_all)[0]
        return dict(centers=centers, coef=coef[:, 0], offset=mean_all, best=best,
                    val_mse=val_mse, train_mse=sse_all[0] / num)  # fmt: skip

    def direct_fit(
        kfn: KernelFn, centers: Array, lams: Array, eps: Array, train: Rows, val: Rows, full: Rows
    ) -> dict[str, Array]:
        """`nystrom_fit` by the direct solver: the refit's statistics on all rows are the sum of
        the two splits' (its labels re-centred by `(c_tr − c)·Σ a_i`), so no pass refits."""
        low = solvers.whitening(kfn, centers, eps)
        n_tr, sum_tr = solvers.label_sums(train)
        mean_tr = sum_tr / jnp.maximum(n_tr, 1.0)
        tr = solvers.whitened_pass(kfn, train, centers, low, mean_tr)
        alphas = solvers.ridge_path(low, tr["gram"], tr["rhs"], n_tr, lams)  # [M, R]
        va = solvers.whitened_pass(kfn, val, centers, low, mean_tr, coef=alphas)
        val_mse = va["sse"] / jnp.maximum(va["count"], 1.0)
        best = best_ridge(val_mse)
        num = n_tr + va["count"]
        mean_all = (sum_tr + va["label_sum"]) / num
        rhs = tr["rhs"] + va["rhs"] + (mean_tr - mean_all) * (tr["basis_sum"] + va["basis_sum"])
        coef = solvers.ridge_path(low, tr["gram"] + va["gram"], rhs, num, lams[best][None])
        sse_all = solvers.residual_sums(kfn, full, centers, coef, mean_all)[0]
        return dict(centers=centers, coef=coef[:, 0], offset=mean_all, best=best,
                    val_mse=val_mse, train_mse=sse_all[0] / num)  # fmt: skip

    def finish(
        fitted: dict[str, Array], h: Array, scale: Array, nystrom: bool, monitor: Monitor | None
    ) -> Predictor:
        """The predictor and its `info`; a `monitor` is evaluated once, on the final predictor."""
        grid = jnp.asarray(ridges, dtype)
        best = fitted["best"]
        state = {"centers": fitted["centers"], "coef": fitted["coef"], "bandwidth": h,
                 "offset": fitted["offset"]}  # fmt: skip
        info = {
            "ridge": grid[best],
            "ridge_abs": grid[best] * scale,
            "ridges": grid,
            "val_mse": fitted["val_mse"],
            "train_mse": fitted["train_mse"],
            "kernel_scale": scale,
            "bandwidth": h,
            "nystrom": jnp.asarray(nystrom),
        }
        return log_final(Predictor(state=state, info=info, apply=apply), monitor)

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
        nystrom = nystrom_at(num)
        if not nystrom:
            validation.check_fits(f"{NAME}: exact kernel matrices ({num}²)", 3 * num**2, itemsize)

        k_perm, k_bw = jax.random.split(key)
        perm = jax.random.permutation(k_perm, num)
        x, y = x[perm], y[perm]  # rows [:n_val] validate, rows [n_val:] train
        h = bandwidth_of(k_bw, x)
        kfn = lambda a, b: kfn_h(a, b, h)
        scale = jnp.mean(diag_h(x, h))

        if nystrom:
            rows = lambda start, stop: Rows(array_source(x, y), start, stop, tile, dtype)
            # the landmarks: the first M training rows, a random subset of the training split
            centers = x[n_val : n_val + min(landmarks, n_tr)]
            fitted = nystrom_fit(
                kfn, centers, scale, rows(n_val, num), rows(0, n_val), rows(0, num)
            )
            return finish(fitted, h, scale, True, monitor)

        y_val, y_tr = y[:n_val], y[n_val:]
        lams = jnp.asarray(ridges, dtype) * scale
        mean_tr, mean_all = jnp.mean(y_tr), jnp.mean(y)
        kmat = kfn(x, x)
        k_tr, k_vt = kmat[n_val:, n_val:], kmat[:n_val, n_val:]
        shift = lambda lam, n: lam * n + jitter * scale
        alphas = jax.lax.map(
            lambda lam: solvers.exact_solve(k_tr, y_tr - mean_tr, shift(lam, n_tr)), lams
        )  # [R, n_tr]
        val_pred = alphas @ k_vt.T  # [R, n_val]
        val_mse = jnp.mean((val_pred + mean_tr - y_val[None, :]) ** 2, axis=1)
        best = best_ridge(val_mse)
        coef = solvers.exact_solve(kmat, y - mean_all, shift(lams[best], num))
        fitted = dict(centers=x, coef=coef, offset=mean_all, best=best, val_mse=val_mse,
                      train_mse=jnp.mean((kmat @ coef + mean_all - y) ** 2))  # fmt: skip
        return finish(fitted, h, scale, False, monitor)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Rows `0 .. budget` of an i.i.d. stream (module docstring, "Streamed"): `fit` on the
        rows read into memory up to `exact_max` rows, else Nyström reading the stream again at
        every pass, memory O(tile·M + M²) whatever the budget."""
        _check_x64(dtype)
        budget = validation.check_int("budget", budget, low=2)
        check_source(NAME, source, 1)
        if not nystrom_at(budget):
            return fit(key, *read_rows(source, budget), monitor=monitor)
        n_val = validation_count(budget, val_fraction)
        if not 1 <= n_val <= budget - 1:
            raise ValueError(
                f"{NAME}: val_fraction={val_fraction} of N={budget} rows leaves {n_val} "
                "validation rows; need at least 1 validation and 1 training row"
            )
        m = min(landmarks, budget - n_val)
        head = min(budget, max(bandwidth_subsample, _head_rows(m, val_fraction)))
        x_head = read_rows(source, head)[0].astype(dtype)
        in_val = is_validation(jnp.arange(head, dtype=jnp.int32), val_fraction)
        centers = x_head[jnp.argsort(in_val.astype(jnp.int32), stable=True)[:m]]
        h = bandwidth_of(jax.random.split(key)[1], x_head[: min(bandwidth_subsample, budget)])
        kfn = lambda a, b: kfn_h(a, b, h)
        full = Rows(source, 0, budget, tile, dtype)
        if kernel in kernels.DISTANCE_KERNELS:
            scale = jnp.asarray(1.0, dtype)  # k(x, x) = 1
        else:
            step = lambda acc, x, y, w: acc + w @ diag_h(x, h)
            scale = full.fold(step, jnp.zeros((), dtype)) / budget
        train = dataclasses.replace(full, weight=lambda r: ~is_validation(r, val_fraction))
        val = dataclasses.replace(full, weight=lambda r: is_validation(r, val_fraction))
        fitted = nystrom_fit(kfn, centers, scale, train, val, full)
        return finish(fitted, h, scale, True, monitor)

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """Exact: the kernel matrix of the training rows and its Cholesky factor (and a copy
        per ridge on the validation split), N³/3 flops per ridge, and the rows themselves.
        Nyström (streamed): M² matrices (K_MM, its factor, T Tᵀ, a factor per ridge), chunks
        of `tile` rows and their K_nM block, the first rows for the landmarks and bandwidth; no
        term in N. Flops: `2·cg_iters + 4` passes of N·M kernel entries and products with the
        R ridge columns (4 passes and two N·M² Gram accumulations with `nystrom_gram`), the M³
        factorizations and the CG steps' M²·R triangular solves; the direct solver: 3 kernel
        passes, a triangular solve and a Gram update of N·M² each, two M×M eigendecompositions
        (~9M³ each) and the two splits' statistics (4 M² matrices) held."""
        n_tr = rows - max(1, round(val_fraction * rows))
        if solver == "exact" or (solver == "auto" and rows <= exact_max):
            return 4.0 * (3 * n_tr * n_tr + rows * d), len(ridges) * n_tr**3 / 3 + n_tr**2 * d
        num_r = len(ridges)
        m = min(landmarks, rows - max(1, math.floor(val_fraction * rows)))
        chunk = min(tile, rows)
        head = min(rows, max(bandwidth_subsample, _head_rows(m, val_fraction)))
        median = 3 * min(bandwidth_subsample, rows) ** 2 if bandwidth is None else 0
        work = itemsize * (
            (5 + 2 * num_r) * m * m + 3 * chunk * m + 2 * chunk * (d + 1 + num_r) + head * d
            + 8 * m * num_r + median
        )  # fmt: skip
        if direct:
            work += itemsize * (4 * m * m + chunk * m)
            flops = 3 * rows * m * (2 * d + 2 * num_r) + 3 * rows * m * m + 4 * rows * d
            return work, flops + 20 * m**3
        passes = 4 if nystrom_gram else 2 * cg_iters + 4
        flops = passes * rows * m * (2 * d + 4 * num_r) + 4 * rows * d
        flops += (4 * rows * m * m if nystrom_gram else 0) + (num_r + 2) * m**3
        return work, flops + 16 * cg_iters * num_r * m * m

    return Learner(
        matmul_precision="highest",  # Gram/moment sums in float32 (core/base.py)
        name=NAME,
        config=config,
        fit=jit_fit(fit),
        fit_online=fit_online,
        vmappable=True,
        estimate=estimate,
    )
