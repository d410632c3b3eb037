"""Item 3: kernel ridge regression, exact against scikit-learn, Nyström scaling and its peer.

Data: F6 (`easy_depth2`, d=16, m=8) rows, labels standardized; a held-out test set of
`kernel_test` rows. RBF kernel `exp(−‖x−x'‖²/(2h²))` with a fixed bandwidth (median heuristic on
500 rows) and a fixed ridge `λN`, so both sides solve the same system `(K + λN I) α = y`:

- exact, ours: `kernels.rbf` + `solvers.exact_solve` (Cholesky), float32, jitted, with the test
  predictions; peer: `sklearn.kernel_ridge.KernelRidge(kernel="rbf", gamma=1/(2h²),
  alpha=λN)` fit + predict on the same float32 arrays. Target: ours faster.
- Nyström: the `kernel` learner with `solver="nystrom"` (M landmarks, the direct solver of
  `solvers.nystrom_direct`, ridge fixed to the same λ, validation split and refit included),
  compiled ahead of time so the timed call excludes compilation. Targets: near-linear growth
  (exponent b of `t ∝ N^b` between the smallest and largest N at most 1.2) and ≤ 60 s at
  N = 2·10⁵; its test MSE is set against the exact solve at the exact N.
- Nyström at N = `kernel_peer_n` (10⁵, where scikit-learn's exact solver no longer fits in
  memory), against GPyTorch's SGPR: an `ExactGP` whose covariance is an `InducingPointKernel`
  over the same RBF kernel (lengthscale h, no output scale) with M inducing points (the first M
  training rows), Gaussian likelihood noise fixed to λN, no hyperparameter training, posterior
  mean under `fast_pred_var`: the subset-of-regressors (Nyström) predictor, solved by GPyTorch's
  low-rank-plus-diagonal algebra. The same work on both sides: one fit on all N rows at the
  fixed λ (no validation, no refit) and the test predictions; ours is `solvers.nystrom_direct`
  on the same landmarks, labels centred by their mean (GPyTorch's are standardized), with
  `K_MM + 10⁻⁶ I` (the jitter GPyTorch's `psd_safe_cholesky` starts from in float32; the
  learner's default is 10⁻⁶·M, which costs 1.6% test MSE here). Time (one call, float32)
  and test MSE side by side; the learner's FALKON PCG (`nystrom_solver="pcg"`,
  `kernel_cg_iters` steps, validation and refit included) is timed beside it. The GPU anchor
  for later: FALKON's published MSD figure (n = 4.6·10⁵, 62 s on a GPU).
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from perf_common import Row, best_time, check_ratio

import hardnet.instances as hi
import hardnet.learners as hl
from hardnet.core.source import array_source
from hardnet.learners._lib import kernels, solvers

RIDGE = 1e-4  # λ, relative to N: the system is (K + λN I) α = y
JITTER = 1e-6  # added to K_MM in the one-fit Nyström comparison, as GPyTorch's


def _data(num: int, test: int) -> tuple[np.ndarray, ...]:
    inst = hi.make("easy_depth2", d=16, m=8)
    params = inst.init(jax.random.key(0))
    x, y, _ = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(1), num + test)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    y = (y - y[:num].mean()) / y[:num].std()
    return x[:num], y[:num], x[num:], y[num:]


def _bandwidth(x: np.ndarray) -> float:
    sub = x[:500]
    dist = np.sqrt(((sub[:, None] - sub[None]) ** 2).sum(-1))
    return float(np.median(dist[np.triu_indices(len(sub), 1)]))


def gpytorch_sgpr(
    x: np.ndarray, y: np.ndarray, x_test: np.ndarray, h: float, noise: float, m: int
) -> tuple[float, np.ndarray] | None:
    """(seconds, test predictions) of GPyTorch's SGPR posterior mean (module docstring); None
    when gpytorch is not installed."""
    try:
        import gpytorch
        import torch
    except ImportError:
        return None

    class SGPR(gpytorch.models.ExactGP):
        def __init__(self, xs, ys, likelihood):
            super().__init__(xs, ys, likelihood)
            self.mean_module = gpytorch.means.ZeroMean()
            base = gpytorch.kernels.RBFKernel()
            base.lengthscale = h
            self.covar_module = gpytorch.kernels.InducingPointKernel(
                base, inducing_points=xs[:m].clone(), likelihood=likelihood
            )

        def forward(self, xs):
            return gpytorch.distributions.MultivariateNormal(
                self.mean_module(xs), self.covar_module(xs)
            )

    xs, ys, xt = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, y, x_test))
    start = time.perf_counter()
    likelihood = gpytorch.likelihoods.GaussianLikelihood()
    likelihood.noise = noise
    model = SGPR(xs, ys, likelihood)
    model.eval()
    likelihood.eval()
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        pred = model(xt).mean.numpy()
    return time.perf_counter() - start, pred


def run(sizes: dict[str, Any]) -> list[Row]:
    n_exact, test = sizes["kernel_exact"], sizes["kernel_test"]
    nys_sizes = sizes["kernel_nystrom"]
    x_all, y_all, x_test, y_test = _data(max(n_exact, *nys_sizes), test)
    h = _bandwidth(x_all)
    rows = []

    x, y = x_all[:n_exact], y_all[:n_exact]
    lam = RIDGE * n_exact

    @jax.jit
    def exact(x, y, xt):
        coef = solvers.exact_solve(kernels.rbf(x, x, h), y, lam)
        return kernels.rbf(xt, x, h) @ coef

    t_ours = best_time(lambda: exact(x, y, x_test), sizes["repeats"])
    mse_exact = float(np.mean((np.asarray(exact(x, y, x_test)) - y_test) ** 2))
    peer, note = None, "scikit-learn not installed"
    try:
        from sklearn.kernel_ridge import KernelRidge

        model = KernelRidge(alpha=lam, kernel="rbf", gamma=1 / (2 * h**2))
        peer = best_time(lambda: model.fit(x, y).predict(x_test), 1, 0)
        mse_sk = float(np.mean((model.predict(x_test) - y_test) ** 2))
        note = f"float32 both; test MSE ours {mse_exact:.4g}, sklearn {mse_sk:.4g}"
    except ImportError:
        pass
    ratio = None if peer is None else peer / t_ours
    rows.append(
        Row(
            item="3 kernel",
            what=f"exact RBF ridge fit+predict, N={n_exact}, d=16, {test} test rows",
            ratio=ratio,
            target="> 1 (faster)",
            met=None if ratio is None else bool(ratio > 1),
            ours=t_ours,
            unit="s",
            peer="sklearn KernelRidge",
            peer_value=peer,
            note=note,
        )
    )

    times = {}
    m = sizes["kernel_landmarks"]
    for num in nys_sizes:
        t_fit, mse = _learner_fit(x_all[:num], y_all[:num], x_test, y_test, h, sizes, "direct")
        times[num] = t_fit
        same_n = num == n_exact
        rows.append(
            Row(
                item="3 kernel",
                what=f"Nyström N={num}, M={m}, direct solve, validation and refit",
                ratio=60 / times[num] if num == max(nys_sizes) else None,
                target="<= 60 s at N=2e5" if num == max(nys_sizes) else "",
                met=bool(times[num] <= 60) if num == max(nys_sizes) == 200_000 else None,
                ours=times[num],
                unit="s",
                peer="exact solve (ours), test MSE" if same_n else "",
                peer_value=mse_exact if same_n else None,
                note=f"test MSE {mse:.4g}" + (f" vs exact {mse_exact:.4g}" if same_n else ""),
            )
        )
        if num == sizes["kernel_peer_n"]:
            rows += _peer_rows(x_all[:num], y_all[:num], x_test, y_test, h, sizes)
    lo, hi_ = min(times), max(times)
    if hi_ > lo:
        b = math.log(times[hi_] / times[lo]) / math.log(hi_ / lo)
        rows.append(
            Row(
                item="3 kernel",
                what=f"Nyström growth N={lo} → {hi_}",
                ratio=None,
                target="b <= 1.2",
                met=check_ratio(1.2 - b, 0.0),
                ours=b,
                unit="b in t ∝ N^b",
                note=f"{times[lo]:.3g} s → {times[hi_]:.3g} s",
            )
        )
    return rows


def _learner_fit(x, y, x_test, y_test, h, sizes, nystrom_solver: str) -> tuple[float, float]:
    """(seconds, test MSE) of the `kernel` learner's Nyström fit and test predictions, compiled
    ahead of time: validation split, ridge choice over one λ and refit on all rows included."""
    learner = hl.make(
        "kernel", kernel="rbf", bandwidth=h, solver="nystrom", ridges=(RIDGE,),
        landmarks=sizes["kernel_landmarks"], cg_iters=sizes["kernel_cg_iters"],
        nystrom_solver=nystrom_solver,
    )  # fmt: skip
    xs, ys, xt = jnp.asarray(x), jnp.asarray(y), jnp.asarray(x_test)
    fit = lambda k, xs, ys: learner.fit(k, xs, ys)(xt)
    compiled = jax.jit(fit).lower(jax.random.key(2), xs, ys).compile()
    start = time.perf_counter()
    pred = np.asarray(jax.block_until_ready(compiled(jax.random.key(2), xs, ys)))
    return time.perf_counter() - start, float(np.mean((pred - y_test) ** 2))


def direct_solve(h: float, lam: float, m: int, tile: int = 1024):
    """The core SGPR computes, ours, as a jitted function of (x, y, x_test):
    `solvers.nystrom_direct` on all rows of x at the absolute ridge λ with landmarks `x[:m]`,
    then the test predictions."""
    kfn = lambda a, b: kernels.rbf(a, b, h)

    @jax.jit
    def solve(x, y, xt):
        offset = jnp.mean(y)
        rows = solvers.Rows(array_source(x, y), 0, x.shape[0], tile, jnp.float32)
        ridges = jnp.asarray([lam], jnp.float32)
        coef = solvers.nystrom_direct(kfn, rows, offset, x[:m], ridges, JITTER)
        return solvers.kernel_apply(kfn, xt, x[:m], coef, tile)[:, 0] + offset

    return solve


def _peer_rows(x, y, x_test, y_test, h, sizes) -> list[Row]:
    num, m = len(x), sizes["kernel_landmarks"]
    args = [jnp.asarray(a) for a in (x, y, x_test)]
    compiled = direct_solve(h, RIDGE, m).lower(*args).compile()
    start = time.perf_counter()
    pred = np.asarray(jax.block_until_ready(compiled(*args)))
    t_ours = time.perf_counter() - start
    mse_ours = float(np.mean((pred - y_test) ** 2))
    got = gpytorch_sgpr(x, y, x_test, h, RIDGE * num, m)
    t_peer, mse_peer = (
        (None, None) if got is None else (got[0], float(np.mean((got[1] - y_test) ** 2)))
    )
    t_pcg, mse_pcg = _learner_fit(x, y, x_test, y_test, h, sizes, "pcg")
    peer = Row(
        item="3 kernel",
        what=f"Nyström N={num}, M={m}: one fit + test predictions, ours (direct) vs SGPR",
        ratio=None if t_peer is None else t_peer / t_ours,
        target=">= 1.5 at equal or lower test MSE",
        met=None if t_peer is None else bool(t_peer / t_ours >= 1.5 and mse_ours <= mse_peer),
        ours=t_ours,
        unit="s",
        peer="GPyTorch SGPR (InducingPointKernel)",
        peer_value=t_peer,
        note="gpytorch not installed"
        if got is None
        else f"test MSE ours {mse_ours:.5g}, GPyTorch {mse_peer:.5g}; float32 both",
    )
    pcg = Row(
        item="3 kernel",
        what=f"Nyström N={num}, M={m}: the learner's PCG ({sizes['kernel_cg_iters']} steps, "
        "validation and refit) vs its direct solve",
        ratio=None,
        target="",
        met=None,
        ours=t_pcg,
        unit="s",
        note=f"test MSE {mse_pcg:.5g}",
    )
    return [peer, pcg]
