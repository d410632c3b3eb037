"""The `kernel` learner's `fit_online`: equal to `fit` up to `exact_max` rows; above, Nyström
reading the stream again at every pass, against a dense float64 solve and the in-memory fit,
depending on the rows alone, with memory flat in the budget, and under vmap over seeds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import learners
from hardnet.core.base import row_keys
from hardnet.core.source import array_source, is_validation
from hardnet.learners._lib import kernels

D = 8


def _target(x):
    return jnp.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * x[:, 3]


def _stream(key, noise=0.1, d=D):
    """A generated i.i.d. stream: row r from `fold_in(key, r)` alone (x ~ N(0, I), smooth y)."""

    def source(start, num):
        def one(k):
            kx, kn = jax.random.split(k)
            x = jax.random.normal(kx, (d,))
            return x, _target(x[None])[0] + noise * jax.random.normal(kn)

        return jax.vmap(one)(row_keys(key, num, start))

    return source


def _rows(source, num):
    return jax.jit(lambda: source(jnp.zeros((), jnp.int32), num))()


def _test_set(num=1000):
    x = jax.random.normal(jax.random.key(99), (num, D))
    return x, _target(x)


def test_below_exact_max_equals_fit():
    x, y = _rows(_stream(jax.random.key(0)), 300)
    learner = learners.make("kernel", kernel="ntk", exact_max=500, ridges=(1e-4, 1e-2))
    key, xq = jax.random.key(1), _test_set(50)[0]
    online = jax.jit(lambda k: learner.fit_online(k, array_source(x, y), 300))(key)
    offline = jax.jit(learner.fit)(key, x, y)
    assert not bool(online.info["nystrom"])
    assert online.state["centers"].shape == (300, D)  # the exact solve on all rows
    np.testing.assert_allclose(online(xq), offline(xq), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(online.info["val_mse"], offline.info["val_mse"], rtol=1e-5)
    # the key matters below exact_max (the random split), as in `fit`
    other = jax.jit(lambda k: learner.fit_online(k, array_source(x, y), 300))(jax.random.key(2))
    assert not np.allclose(other.info["val_mse"], online.info["val_mse"])


def _reference(x, y, centers, h, scale, ridges, jitter):
    """Dense float64 Nyström with FALKON's jittered penalty, split by row index as documented:
    the validation MSE of every ridge fitted on the training rows, and the refit's coefficients
    on all rows with the best ridge."""
    x, y, c = (np.asarray(a, np.float64) for a in (x, y, centers))
    knm = np.exp(-((x[:, None] - c[None]) ** 2).sum(-1) / (2 * h**2))
    kmm = np.exp(-((c[:, None] - c[None]) ** 2).sum(-1) / (2 * h**2))
    kmm = kmm + jitter * scale * len(c) * np.eye(len(c))
    val = np.asarray(is_validation(jnp.arange(len(y)), 0.2))

    def solve(k, t, lam):
        return np.linalg.solve(k.T @ k + lam * len(t) * kmm, k.T @ (t - t.mean()))

    val_mse = []
    for ridge in ridges:
        alpha = solve(knm[~val], y[~val], ridge * scale)
        val_mse.append(np.mean((knm[val] @ alpha + y[~val].mean() - y[val]) ** 2))
    best = int(np.argmin(val_mse))
    return np.asarray(val_mse), best, solve(knm, y, ridges[best] * scale), y.mean()


@pytest.mark.parametrize("nystrom", ["direct", "pcg", "pcg_gram"])
def test_streamed_nystrom_matches_dense_solve(nystrom):
    """The weighted passes (training mask, validation mask, all rows) and the label centring
    solve the documented Nyström systems: compared with a dense float64 solve."""
    num, ridges = 1500, (1e-3, 1e-1)
    source = _stream(jax.random.key(3), noise=0.5)
    learner = learners.make(
        "kernel", kernel="rbf", exact_max=1000, landmarks=64, tile=256, cg_iters=40,
        ridges=ridges, nystrom_solver="direct" if nystrom == "direct" else "pcg",
        nystrom_gram=nystrom == "pcg_gram",
    )  # fmt: skip
    pred = jax.jit(lambda k: learner.fit_online(k, source, num))(jax.random.key(4))
    assert bool(pred.info["nystrom"])
    x, y = _rows(source, num)
    centers = pred.state["centers"]
    train_rows = np.flatnonzero(~np.asarray(is_validation(jnp.arange(num), 0.2)))
    np.testing.assert_array_equal(centers, x[train_rows[:64]])  # the first M training rows
    h = float(pred.state["bandwidth"])
    np.testing.assert_allclose(h, kernels.median_bandwidth(jax.random.key(0), x[:512]), rtol=1e-6)
    val_mse, best, coef, mean = _reference(x, y, centers, h, 1.0, ridges, 1e-6)
    assert val_mse[0] != pytest.approx(val_mse[1], rel=0.05)  # the two ridges differ
    np.testing.assert_allclose(pred.info["val_mse"], val_mse, rtol=2e-3)
    assert float(pred.info["ridge"]) == pytest.approx(ridges[best])
    np.testing.assert_allclose(pred.state["offset"], mean, rtol=1e-5)
    xq = np.asarray(_test_set(200)[0], np.float64)
    c64 = np.asarray(centers, np.float64)
    ref = np.exp(-((xq[:, None] - c64[None]) ** 2).sum(-1) / (2 * h**2)) @ coef + mean
    err = np.max(np.abs(np.asarray(pred(xq)) - ref)) / np.std(ref)
    assert err < 2e-2, err  # float32 CG (with gram: a float32 K_nMᵀK_nM) against float64


def test_streamed_nystrom_close_to_in_memory_fit():
    num = 3000
    source = _stream(jax.random.key(7))
    x, y = _rows(source, num)
    xt, yt = _test_set()
    kw = dict(kernel="nngp", exact_max=1000, landmarks=200, tile=256, ridges=(1e-5, 1e-3, 1e-1))
    learner = learners.make("kernel", **kw)
    seen = []
    monitor = lambda predictor, first: (
        seen.append(1) or {"test_mse": jnp.mean((predictor(xt) - yt) ** 2)}
    )
    streamed = jax.jit(lambda k: learner.fit_online(k, source, num, monitor=monitor))(
        jax.random.key(1)
    )
    in_memory = jax.jit(learner.fit)(jax.random.key(1), x, y)
    mse = {name: float(jnp.mean((p(xt) - yt) ** 2)) for name, p in
           (("streamed", streamed), ("in_memory", in_memory))}  # fmt: skip
    assert mse["in_memory"] < 0.1 * float(jnp.var(yt)), mse  # the fit is meaningful
    assert mse["streamed"] < 1.2 * mse["in_memory"], mse
    np.testing.assert_allclose(streamed.info["test_mse"][0], mse["streamed"], rtol=1e-4)
    assert set(streamed.info) == set(in_memory.info) | {"test_mse"}
    assert streamed.info["test_mse"].shape == (1,) and len(seen) == 1  # one log point
    assert streamed.state["centers"].shape == (200, D)
    np.testing.assert_allclose(
        streamed.info["kernel_scale"], in_memory.info["kernel_scale"], rtol=1e-5
    )
    assert float(streamed.info["train_mse"]) < 0.1 * float(jnp.var(y))


def test_streamed_result_depends_on_the_rows_only():
    """A generated stream and its materialized rows (as `array_source`) give the same predictor,
    whatever the key: the split is by row index, the landmarks and bandwidth come from the first
    rows."""
    num = 2000
    source = _stream(jax.random.key(11))
    x, y = _rows(source, num)
    learner = learners.make(
        "kernel", kernel="rbf", exact_max=1000, landmarks=128, tile=256, ridges=(1e-3, 1e-1)
    )
    fit = jax.jit(lambda k, src: learner.fit_online(k, src, num), static_argnums=1)
    direct = fit(jax.random.key(1), source)
    stored = fit(jax.random.key(2), array_source(x, y))
    xq = _test_set(200)[0]
    np.testing.assert_array_equal(direct.state["centers"], stored.state["centers"])
    np.testing.assert_allclose(direct(xq), stored(xq), rtol=0, atol=1e-4 * float(jnp.std(y)))
    np.testing.assert_allclose(direct.info["val_mse"], stored.info["val_mse"], rtol=1e-4)


def _temp_bytes(fn):
    return jax.jit(fn).lower().compile().memory_analysis().temp_size_in_bytes


@pytest.mark.parametrize("kernel", ["rbf", "nngp"])
def test_memory_flat_in_budget(kernel):
    """Compiled, never run: the working memory at 2·10⁴ and 2·10⁶ rows is the same, and below
    `estimate`; the in-memory fit at 2·10⁵ rows holds them (the check measures what it should)."""
    learner = learners.make("kernel", kernel=kernel, exact_max=1000, landmarks=256, tile=1024)
    source, key = _stream(jax.random.key(0)), jax.random.key(1)
    streamed = [
        _temp_bytes(lambda n=n: learner.fit_online(key, source, n)) for n in (20000, 2000000)
    ]
    assert streamed[1] < 1.1 * streamed[0], streamed  # no growth with the budget
    assert max(streamed) < learner.estimate(2000000, D)[0], streamed  # the estimate bounds it
    if kernel == "rbf":
        start = jnp.zeros((), jnp.int32)
        held = _temp_bytes(lambda: learner.fit(key, *source(start, 200000)))
        assert held > max(200000 * D * 4, 4 * max(streamed)), (held, streamed)


@pytest.mark.parametrize("nystrom_solver", ["pcg", "direct"])
def test_estimate_streams_above_exact_max(nystrom_solver):
    learner = learners.make(
        "kernel", exact_max=1000, landmarks=256, tile=1024, cg_iters=30,
        nystrom_solver=nystrom_solver,
    )  # fmt: skip
    (small, flops_small), (_, flops_mid), (large, flops_large) = (
        learner.estimate(n, D) for n in (10**4, 10**5, 10**6)
    )
    assert small == large  # no term in the number of rows
    # linear in the rows (beyond the M³ factorizations, which do not grow with them)
    assert flops_large - flops_mid == pytest.approx(10 * (flops_mid - flops_small), rel=0.05)
    if nystrom_solver == "pcg":
        assert flops_large > (2 * 30 + 4) * 10**6 * 256 * D  # every CG pass reads all rows
    else:
        assert flops_large > 3 * 10**6 * 256**2  # a triangular solve and a Gram update per row
    exact = learner.estimate(1000, D)[0]
    assert exact > 3 * 800**2 * 4  # below exact_max: the kernel matrix, held


@pytest.mark.parametrize("num", [400, 1500])  # exact, then Nyström (exact_max=1000)
def test_vmap_over_seeds_equals_separate_runs(num):
    """As the runner calls it: `fit_online` under jit and vmap over (learner key, data key),
    the source closing over the traced data key."""
    learner = learners.make(
        "kernel", kernel="laplace", exact_max=1000, landmarks=64, tile=256, cg_iters=10,
        ridges=(1e-3, 1e-1),
    )  # fmt: skip
    xq = _test_set(100)[0]

    def run(key, data_key):
        return learner.fit_online(key, _stream(data_key, noise=0.3), num)(xq)

    keys = jax.random.split(jax.random.key(0), 2)
    data_keys = jax.random.split(jax.random.key(1), 2)
    batched = jax.jit(jax.vmap(run))(keys, data_keys)
    single = jax.jit(run)
    outs = [single(keys[i], data_keys[i]) for i in range(2)]
    for i in range(2):
        np.testing.assert_allclose(batched[i], outs[i], rtol=1e-4, atol=1e-4)
    assert float(jnp.max(jnp.abs(outs[0] - outs[1]))) > 1e-2  # the seeds differ


def test_streamed_budget_checks():
    source = _stream(jax.random.key(0))
    exact = learners.make("kernel", solver="exact", exact_max=100)
    with pytest.raises(ValueError, match="exact_max"):
        exact.fit_online(jax.random.key(0), source, 200)
    nystrom = learners.make("kernel", solver="nystrom", val_fraction=0.2)
    with pytest.raises(ValueError, match="validation rows"):
        nystrom.fit_online(jax.random.key(0), source, 4)
    with pytest.raises(ValueError, match="budget"):
        nystrom.fit_online(jax.random.key(0), source, 1)
