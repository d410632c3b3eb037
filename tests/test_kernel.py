"""The `kernel` learner: closed-form ReLU kernels against wide random networks, exact ridge against
NumPy, Nyström-PCG against exact, ridge selection, memory (jaxpr), vmap, and validation."""

from __future__ import annotations

import json
import math

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import learners
from hardnet.learners._lib import kernels

SQRT2 = math.sqrt(2.0)


# ----------------------------------------------------------------------------------------------
# Monte Carlo NNGP / NTK of wide networks, in the convention of hardnet.learners._lib.kernels:
# z_1 = σ_w/√d W_1 x + σ_b b_1, z_{l+1} = σ_w/√n W_{l+1} φ(z_l) + σ_b b_{l+1}, f = z_{L+1}.


def _points(d: int = 6) -> jax.Array:
    """Five inputs with correlations 1, 0.8, −0.6, −1 and a short generic one."""
    g = np.random.default_rng(0).standard_normal((3, d))
    x0 = g[0] / np.linalg.norm(g[0]) * math.sqrt(d)
    u = g[1] - (g[1] @ x0) * x0 / d
    u = u / np.linalg.norm(u) * math.sqrt(d)
    rows = [x0, 0.8 * x0 + 0.6 * u, -0.6 * x0 + 0.8 * u, -1.3 * x0, 0.5 * g[2]]
    return jnp.asarray(np.stack(rows), jnp.float32)


def _init(key, dims):
    out = []
    for i, k in enumerate(jax.random.split(key, len(dims) - 1)):
        kw, kb = jax.random.split(k)
        w = jax.random.normal(kw, (dims[i], dims[i + 1]))
        out.append((w, jax.random.normal(kb, (dims[i + 1],))))
    return out


def _forward(params, eps, x, sw, sb):
    """f(x) and the inputs h_{l−1} of every layer; `eps[l]` is added to z_l (for ∂f/∂z_l)."""
    hs, h = [], x
    for i, (w, b) in enumerate(params):
        hs.append(h)
        z = sw / math.sqrt(w.shape[0]) * h @ w + sb * b + eps[i]
        h = jax.nn.relu(z)
    return z[:, 0], hs


def _mc_one(key, x, dims, sw, sb):
    """Empirical (NNGP, NTK) of one network. NNGP: σ_w² ⟨φ(z_L), φ(z_L')⟩/n + σ_b² (the covariance
    of f given the last hidden layer); NTK: ⟨∂f/∂θ(x), ∂f/∂θ(x')⟩ = Σ_l (σ_w²⟨h,h'⟩/n_l + σ_b²)
    ⟨δ_l, δ_l'⟩ with δ_l = ∂f/∂z_l (checked against jacrev in a test)."""
    params = _init(key, dims)
    eps = [jnp.zeros((x.shape[0], n)) for n in dims[1:]]

    def total(e):
        f, hs = _forward(params, e, x, sw, sb)
        return jnp.sum(f), hs

    hs, deltas = jax.grad(total, has_aux=True)(eps)[::-1]
    nngp = sw**2 * hs[-1] @ hs[-1].T / dims[-2] + sb**2
    ntk = sum(
        (sw**2 * h @ h.T / h.shape[1] + sb**2) * (dl @ dl.T)
        for h, dl in zip(hs, deltas, strict=True)
    )
    return nngp, ntk


def test_factorized_ntk_equals_jacobian_gram():
    x, dims, sw, sb = _points(), [6, 32, 24, 1], 1.4, 0.3
    params = _init(jax.random.key(0), dims)
    jac = jax.jacrev(lambda p: _forward(p, [0.0] * 3, x, sw, sb)[0])(params)
    gram = sum(j.reshape(5, -1) @ j.reshape(5, -1).T for j in jax.tree.leaves(jac))
    np.testing.assert_allclose(_mc_one(jax.random.key(0), x, dims, sw, sb)[1], gram, rtol=1e-5)


@pytest.mark.parametrize(
    ("depth", "sigma_b", "width", "nets"), [(1, 0.0, 4096, 32), (3, 0.2, 1024, 64)]
)
def test_closed_form_matches_monte_carlo(depth, sigma_b, width, nets):
    x = _points()
    dims = [x.shape[1]] + [width] * depth + [1]
    run = jax.jit(lambda keys: jax.lax.map(lambda k: _mc_one(k, x, dims, SQRT2, sigma_b), keys))
    mc = [np.mean(a, 0) for a in run(jax.random.split(jax.random.key(depth), nets))]
    closed = kernels.relu_kernels(x, x, depth, SQRT2, sigma_b)
    for name, emp, ref in zip(("nngp", "ntk"), mc, closed, strict=True):
        ref = np.asarray(ref)
        scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
        err = np.max(np.abs(emp - ref) / scale)
        assert err < 0.05, (name, depth, err)
    # the two kernels differ, and NTK ≥ NNGP on the diagonal
    assert np.all(np.diag(np.asarray(closed[1])) > np.diag(np.asarray(closed[0])) * 1.5)


def test_median_bandwidth_and_distance_kernels():
    x = jax.random.normal(jax.random.key(0), (40, 5))
    h = kernels.median_bandwidth(jax.random.key(1), x, subsample=64)
    xn = np.asarray(x, np.float64)
    dist = np.sqrt(((xn[:, None] - xn[None]) ** 2).sum(-1))
    np.testing.assert_allclose(h, np.median(dist[np.triu_indices(40, 1)]), rtol=1e-5)
    np.testing.assert_allclose(kernels.rbf(x, x, 2.0), np.exp(-(dist**2) / 8), atol=1e-5)
    np.testing.assert_allclose(kernels.laplace(x, x, 2.0), np.exp(-dist / 2), atol=1e-5)


# ----------------------------------------------------------------------------------------------
# Solvers


def _numpy_ntk(x1, x2, depth, sw, sb):
    """An independent float64 NumPy implementation of the recursion (arccos, not arctan2)."""
    d = x1.shape[1]
    cross = sw**2 * x1 @ x2.T / d + sb**2
    d1, d2 = sw**2 * (x1**2).sum(1) / d + sb**2, sw**2 * (x2**2).sum(1) / d + sb**2
    theta = cross
    for _ in range(depth):
        norm = np.sqrt(np.outer(d1, d2))
        rho = np.clip(cross / norm, -1, 1)
        ang = np.arccos(rho)
        cross = sw**2 * norm * (np.sqrt(1 - rho**2) + (np.pi - ang) * rho) / (2 * np.pi) + sb**2
        theta = cross + theta * sw**2 * (np.pi - ang) / (2 * np.pi)
        d1, d2 = sw**2 * d1 / 2 + sb**2, sw**2 * d2 / 2 + sb**2
    return theta


def _smooth_data(key, num, d, noise=0.0):
    kx, kn = jax.random.split(key)
    x = jax.random.normal(kx, (num, d))
    y = jnp.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 3]
    return x, y + noise * jax.random.normal(kn, (num,))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exact_interpolates_and_matches_numpy(dtype):
    with jax.enable_x64(dtype == "float64"):
        x, y = _smooth_data(jax.random.key(0), 120, 5)
        xq = jax.random.normal(jax.random.key(1), (30, 5))
        ridge, jitter = 1e-7, 0.0 if dtype == "float64" else 1e-6
        learner = learners.make(
            "kernel",
            kernel="ntk",
            depth=2,
            sigma_b=0.1,
            ridges=(ridge,),
            jitter=jitter,
            dtype=dtype,
        )
        pred = jax.jit(learner.fit)(jax.random.key(2), x, y)
        xn, yn = np.asarray(x, np.float64), np.asarray(y, np.float64)
        k = _numpy_ntk(xn, xn, 2, SQRT2, 0.1)
        lam = ridge * np.mean(np.diag(k)) * len(yn) + jitter * np.mean(np.diag(k))
        alpha = np.linalg.solve(k + lam * np.eye(len(yn)), yn - yn.mean())
        ref = _numpy_ntk(np.asarray(xq, np.float64), xn, 2, SQRT2, 0.1) @ alpha + yn.mean()
        tol = 1e-6 if dtype == "float64" else 2e-3
        np.testing.assert_allclose(pred(xq), ref, atol=tol * np.std(ref))
        # a tiny ridge interpolates the training labels
        resid = np.max(np.abs(np.asarray(pred(x)) - yn)) / np.std(yn)
        assert resid < 1e-2, resid
        assert pred(x).dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("nystrom_solver", ["direct", "pcg"])
def test_nystrom_matches_exact(nystrom_solver):
    x, y = _smooth_data(jax.random.key(0), 4000, 8, noise=0.1)
    xt, yt = _smooth_data(jax.random.key(1), 2000, 8)
    common = dict(kernel="rbf", ridges=(1e-3,), landmarks=1000, cg_iters=10)
    mse = {}
    for solver in ("exact", "nystrom"):
        learner = learners.make("kernel", solver=solver, nystrom_solver=nystrom_solver, **common)
        pred = jax.jit(learner.fit)(jax.random.key(2), x, y)
        assert bool(pred.info["nystrom"]) == (solver == "nystrom")
        mse[solver] = float(jnp.mean((pred(xt) - yt) ** 2))
    assert mse["exact"] < 0.1 * float(jnp.var(yt)), mse  # the fit is meaningful
    assert mse["nystrom"] <= 1.02 * mse["exact"], mse


@pytest.mark.parametrize("ridge", [1e-3, 1e-6])
def test_direct_nystrom_is_converged_pcg_where_the_float32_gram_drifts(ridge):
    """The case of `solvers.falkon`'s docstring (RBF, N=4000, M=1000, εM≈1e-3): CG on the
    un-whitened float32 K_nMᵀK_nM drifts away (at ridge 1e-6 it diverges), while the direct
    solve on the whitened statistics is the point the streamed PCG converges to, at any ridge."""
    x, y = _smooth_data(jax.random.key(0), 4000, 8, noise=0.1)
    xt, yt = _smooth_data(jax.random.key(1), 2000, 8)
    common = dict(kernel="rbf", solver="nystrom", ridges=(ridge,), landmarks=1000)
    runs = {
        "direct": dict(nystrom_solver="direct"),
        "pcg_converged": dict(nystrom_solver="pcg", cg_iters=200),
        "gram": dict(nystrom_solver="pcg", cg_iters=20, nystrom_gram=True),
    }
    mse = {}
    for name, kw in runs.items():
        pred = jax.jit(learners.make("kernel", **common, **kw).fit)(jax.random.key(2), x, y)
        mse[name] = float(jnp.mean((pred(xt) - yt) ** 2))
    assert mse["direct"] <= 1.002 * mse["pcg_converged"], mse
    assert mse["direct"] < 0.1 * float(jnp.var(yt)), mse
    assert mse["gram"] > 1.03 * mse["direct"], mse  # the drift this solver avoids


def test_ridge_selection_prefers_larger_ridge_on_noisy_labels():
    learner = learners.make("kernel", kernel="ntk", ridges=(1e-6, 1e-4, 1e-2, 1.0))
    fit = jax.jit(learner.fit)
    chosen = {}
    for noise in (0.0, 2.0):
        x, y = _smooth_data(jax.random.key(0), 400, 4, noise=noise)
        pred = fit(jax.random.key(1), x, y)
        assert pred.info["val_mse"].shape == (4,)
        chosen[noise] = float(pred.info["ridge"])
    assert chosen[2.0] >= 100 * chosen[0.0], chosen


# ----------------------------------------------------------------------------------------------
# Memory, vmap, validation


def _avals(jaxpr):
    """All abstract values of all equations of a closed jaxpr, sub-jaxprs included."""
    for eqn in jaxpr.eqns:
        for var in (*eqn.invars, *eqn.outvars):
            if hasattr(var, "aval") and hasattr(var.aval, "shape"):
                yield var.aval
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            yield from _avals(sub)


def _largest_square(fit, num, d):
    x, y = jnp.zeros((num, d)), jnp.zeros((num,))
    jaxpr = jax.make_jaxpr(fit)(jax.random.key(0), x, y).jaxpr
    return max(sorted(a.shape)[-2] if len(a.shape) >= 2 else 0 for a in _avals(jaxpr))


def test_auto_switches_to_nystrom_without_n_by_n_arrays():
    num, d = 2000, 8
    kw = dict(kernel="ntk", exact_max=1000, landmarks=128, tile=256, cg_iters=5)
    auto = learners.make("kernel", solver="auto", **kw)
    # no array has two axes as long as the validation split (400 rows), let alone N×N
    assert _largest_square(auto.fit, num, d) <= 256  # tile × landmarks at most
    x, y = _smooth_data(jax.random.key(0), num, d)
    shapes = jax.eval_shape(auto.fit, jax.random.key(1), x, y)
    assert shapes.state["centers"].shape == (128, d)  # the landmarks: Nyström was used
    # the checker is not vacuous: the exact solver does build N×N
    exact = learners.make("kernel", solver="exact", **{**kw, "exact_max": num})
    assert _largest_square(exact.fit, num, d) == num
    with pytest.raises(ValueError, match="exact_max"):
        learners.make("kernel", solver="exact", **kw).fit(jax.random.key(1), x, y)


@pytest.mark.parametrize("solver", ["exact", "nystrom"])
def test_vmap_over_seeds_equals_separate_runs(solver):
    learner = learners.make(
        "kernel", kernel="laplace", solver=solver, landmarks=64, tile=64, cg_iters=10,
        ridges=(1e-4, 1e-2, 1.0),
    )  # fmt: skip
    keys = jax.random.split(jax.random.key(0), 3)
    data = [_smooth_data(jax.random.key(10 + i), 150, 6, noise=0.3) for i in range(3)]
    xs, ys = jnp.stack([a for a, _ in data]), jnp.stack([b for _, b in data])
    xq = jax.random.normal(jax.random.key(5), (50, 6))
    batched = jax.jit(jax.vmap(learner.fit))(keys, xs, ys)
    out = jax.vmap(lambda p: p(xq))(batched)
    fit = jax.jit(learner.fit)
    for i in range(3):
        single = fit(keys[i], xs[i], ys[i])
        np.testing.assert_allclose(out[i], single(xq), atol=2e-4 * float(jnp.std(ys[i])))
        assert float(batched.info["ridge"][i]) == float(single.info["ridge"])
        np.testing.assert_allclose(batched.info["val_mse"][i], single.info["val_mse"], rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(kernel="gauss"), "kernel"),
        (dict(depth=0), "depth"),
        (dict(sigma_w=0.0), "sigma_w"),
        (dict(sigma_b=-1.0), "sigma_b"),
        (dict(bandwidth=0.0), "bandwidth"),
        (dict(solver="cg"), "solver"),
        (dict(landmarks=0), "landmarks"),
        (dict(cg_iters=0), "cg_iters"),
        (dict(nystrom_gram=1), "nystrom_gram"),
        (dict(nystrom_solver="cg"), "nystrom_solver"),
        (dict(ridges=()), "ridges"),
        (dict(ridges=(1e-3, -1.0)), "ridges"),
        (dict(val_fraction=1.0), "val_fraction"),
        (dict(tile=0), "tile"),
        (dict(exact_max=0), "exact_max"),
        (dict(jitter=-1e-6), "jitter"),
        (dict(dtype="float16"), "dtype"),
        (dict(bandwidth_subsample=1), "bandwidth_subsample"),
        (dict(width=3), "width"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        learners.make("kernel", **kwargs)


def test_config_shapes_and_float64_guard():
    learner = learners.make("kernel")
    json.dumps(learner.config)
    assert learner.vmappable and learner.config["solver"] == "auto"
    with pytest.raises(ValueError, match="N, d"):
        learner.fit(jax.random.key(0), jnp.zeros((10, 3)), jnp.zeros((9,)))
    if not jax.config.jax_enable_x64:
        with pytest.raises(ValueError, match="dtype"):
            learners.make("kernel", dtype="float64")
