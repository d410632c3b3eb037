"""Tests of the `poly` learner: exact fit of a quadratic, failure at degree 1, the Hermite
features, the refusal naming the feature count, vmap over seeds, and argument checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import hermite_e

from hardnet import instances, learners
from hardnet.core import source as source_lib
from hardnet.learners import poly

D_IN = 6


def _quadratic_data(key, num):
    k_a, k_b, k_x = jax.random.split(key, 3)
    a = jax.random.normal(k_a, (D_IN, D_IN))
    b = jax.random.normal(k_b, (D_IN,))
    x = jax.random.normal(k_x, (num, D_IN))
    return x, jnp.einsum("ni,ij,nj->n", x, a, x) + x @ b + 0.3


@pytest.fixture(scope="module")
def quadratic():
    x, y = _quadratic_data(jax.random.key(1), 3000)
    return x[:2000], y[:2000], x[2000:], y[2000:]


@pytest.mark.parametrize("basis", ["hermite", "monomial"])
def test_degree_two_fits_a_quadratic_exactly(quadratic, basis):
    x, y, xt, yt = quadratic
    pred = jax.jit(poly.make(degree=2, basis=basis).fit)(jax.random.key(0), x, y)
    nmse = float(jnp.mean((pred(xt) - yt) ** 2) / jnp.var(yt))
    assert nmse < 1e-6, nmse
    assert pred.state["w"].shape == (math.comb(D_IN + 2, 2),)
    assert float(pred.info["ridge"]) == pytest.approx(min(poly.DEFAULT_RIDGES))  # smallest wins


def test_degree_one_cannot(quadratic):
    x, y, xt, yt = quadratic
    pred = jax.jit(poly.make(degree=1).fit)(jax.random.key(0), x, y)
    nmse = float(jnp.mean((pred(xt) - yt) ** 2) / jnp.var(yt))
    assert nmse > 0.5, nmse


def test_singular_gram_of_one_hot_inputs_stays_finite():
    # prg_boolean inputs are negated one-hot blocks, each summing to n-1: the degree-1 features
    # are linearly dependent with the constant and the Gram matrix is singular. An earlier
    # version (unscaled 1e-7 jitter) returned NaN weights on exactly this sample.
    inst = instances.make("prg_boolean", n=8)
    params = inst.init(jax.random.key(0))
    x, y, _ = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(1), 4000)
    pred = jax.jit(poly.make(degree=1).fit)(jax.random.key(0), x, y)
    assert np.isfinite(np.asarray(pred.state["w"])).all()
    assert float(jnp.mean((pred(x) - y) ** 2)) < float(jnp.var(y))


def test_hermite_features_match_numpy_and_are_orthonormal():
    d, degree = 3, 3
    var, power = poly.multi_indices(d, degree)
    assert var.shape == (math.comb(d + degree, degree), degree)
    alphas = np.zeros((len(var), d), int)
    for j in range(degree):
        np.add.at(alphas, (np.arange(len(var)), var[:, j]), power[:, j])
    assert len({tuple(a) for a in alphas}) == len(alphas)  # every multi-index exactly once
    assert alphas.sum(1).max() == degree and (alphas[0] == 0).all()
    x = np.asarray(jax.random.normal(jax.random.key(2), (50_000, d)))
    phi = np.asarray(poly.features(jnp.asarray(x), degree, "hermite"))
    for c in (0, 4, 11, len(alphas) - 1):
        want = np.ones(len(x))
        for i, p in enumerate(alphas[c]):
            want *= hermite_e.hermeval(x[:, i], np.eye(p + 1)[p]) / math.sqrt(math.factorial(p))
        np.testing.assert_allclose(phi[:, c], want, rtol=1e-4, atol=1e-4)
    gram = phi.T @ phi / len(x)
    assert np.abs(gram - np.eye(len(alphas))).max() < 0.15


def test_refusal_names_the_feature_count():
    count = str(math.comb(128 + 6, 6))
    with pytest.raises(ValueError, match=count):
        poly.make(degree=6, d=128)
    learner = poly.make(degree=6)  # no d: the check happens at trace time
    with pytest.raises(ValueError, match=count):
        learner.fit(jax.random.key(0), jnp.zeros((8, 128)), jnp.zeros(8))
    poly.make(degree=2, d=128)  # 8385 features fit


def test_vmap_over_seeds_equals_separate_runs():
    keys = jax.random.split(jax.random.key(3), 3)
    data = [_quadratic_data(k, 400) for k in keys]
    xs = jnp.stack([d[0] for d in data])
    ys = jnp.stack([d[1] + 0.5 * jnp.sin(3 * d[0][:, 0]) for d in data])  # not exactly quadratic
    fit = jax.jit(poly.make(degree=2, chunk=64).fit)
    batched = jax.vmap(fit)(keys, xs, ys)
    for i in range(3):
        alone = fit(keys[i], xs[i], ys[i])
        np.testing.assert_allclose(batched.state["w"][i], alone.state["w"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(batched.info["val_mse"][i], alone.info["val_mse"], rtol=1e-4)
    assert not np.allclose(batched.state["w"][0], batched.state["w"][1])


def test_chunking_budget_and_shapes(quadratic):
    x, y, xt, _ = quadratic
    key = jax.random.key(4)
    fit = jax.jit(poly.make(degree=2, chunk=10_000).fit, static_argnames="budget")
    whole = fit(key, x[:500], y[:500])
    chunked = jax.jit(poly.make(degree=2, chunk=7).fit)(key, x[:500], y[:500])
    np.testing.assert_allclose(whole.state["w"], chunked.state["w"], rtol=1e-3, atol=1e-3)
    capped = fit(key, x, y, budget=500)
    np.testing.assert_allclose(capped.state["w"], whole.state["w"], rtol=1e-5, atol=1e-5)
    apply = jax.jit(whole.apply)
    out = apply(whole.state, xt[:10].reshape(2, 5, D_IN))
    assert out.shape == (2, 5)
    np.testing.assert_allclose(out.reshape(-1), apply(whole.state, xt[:10]), rtol=1e-5)
    with pytest.raises(ValueError, match="weights"):
        whole(jnp.zeros((3, D_IN + 1)))


def test_registry_and_bad_arguments():
    learner = learners.make("poly", degree=3, basis="monomial")
    assert learner.name == "poly" and learner.vmappable and learner.config["degree"] == 3
    bad = [
        {"degree": -1},
        {"degree": 1.5},
        {"basis": "legendre"},
        {"ridges": ()},
        {"ridges": (1e-3, 0.0)},
        {"ridges": "1e-3"},
        {"val_fraction": 0.0},
        {"val_fraction": 1.0},
        {"chunk": 0},
        {"d": 0},
        {"width": 3},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            learners.make("poly", **kwargs)
    fit = poly.make(degree=1).fit
    with pytest.raises(ValueError, match="y"):
        fit(jax.random.key(0), jnp.zeros((10, 3)), jnp.zeros(9))
    with pytest.raises(ValueError, match="validation"):
        fit(jax.random.key(0), jnp.zeros((2, 3)), jnp.zeros(2))
    with pytest.raises(ValueError, match="d=4"):
        poly.make(degree=1, d=4).fit(jax.random.key(0), jnp.zeros((10, 3)), jnp.zeros(10))


def _generated_source(key, d=D_IN):
    """Rows keyed by their index: row r = f(fold_in(key, r)), a quadratic target plus noise."""

    def source(start, num):
        rows = jnp.asarray(start, jnp.int32) + jnp.arange(num, dtype=jnp.int32)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, rows)
        x = jax.vmap(lambda k: jax.random.normal(k, (d,)))(keys)
        y = (
            x[:, 0] * x[:, 1]
            - x[:, 2]
            + 0.1
            * jax.vmap(lambda k: jax.random.normal(k, ()))(
                jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 1)
            )
        )
        return x, y

    return source


def test_streamed_fit_solves_the_normal_equations_of_every_row():
    """fit_online on a generated stream: the weights solve (ΦᵀΦ/N + s(λP + εI)) w = Φᵀy/N over
    all N rows at the chosen ridge (computed here in float64 NumPy), the validation MSE of every
    ridge is that of the train-split solution on the rows ⌊(r+1)f⌋ > ⌊rf⌋, and the result equals
    the one on the same rows held in memory."""
    num, ridges = 1001, (1e-3, 1e-1)
    learner = poly.make(degree=2, ridges=ridges, chunk=128)
    source = _generated_source(jax.random.key(7))
    streamed = jax.jit(lambda k: learner.fit_online(k, source, num))(jax.random.key(0))
    x, y = (np.asarray(a, np.float64) for a in source(0, num))
    phi = np.asarray(poly.features(jnp.asarray(x), 2, "hermite"), np.float64)
    count = phi.shape[1]
    q, p = 2**16, round(0.2 * 2**16)  # the split of source.is_validation: f = p/q
    val = np.floor((np.arange(num) + 1) * p / q) > np.floor(np.arange(num) * p / q)
    assert val.sum() == num * p // q

    def solve(g, b, lam):
        pen = np.ones(count)
        pen[0] = 0.0
        return np.linalg.solve(g + np.diag(np.trace(g) / count * (lam * pen + 1e-5)), b)

    tr = ~val
    g_t, b_t = phi[tr].T @ phi[tr] / tr.sum(), phi[tr].T @ y[tr] / tr.sum()
    val_mse = [np.mean((phi[val] @ solve(g_t, b_t, lam) - y[val]) ** 2) for lam in ridges]
    np.testing.assert_allclose(streamed.info["val_mse"], val_mse, rtol=2e-3)
    best = ridges[int(np.argmin(val_mse))]
    w = solve(phi.T @ phi / num, phi.T @ y / num, best)
    np.testing.assert_allclose(streamed.state["w"], w, rtol=2e-3, atol=2e-4)
    held = learner.fit_online(jax.random.key(1), source_lib.array_source(*source(0, num)), num)
    np.testing.assert_allclose(held.state["w"], streamed.state["w"], rtol=1e-5, atol=1e-6)


def test_streamed_fit_memory_does_not_grow_with_the_budget():
    """Compiled (not run) at 10⁵ and 10⁷ rows (both above one chunk): the program's
    temporaries are the same size (the in-memory fit would hold 100× more rows)."""
    learner = poly.make(degree=2)
    source = _generated_source(jax.random.key(8), d=16)

    def temp_bytes(num):
        fit = jax.jit(lambda k: learner.fit_online(k, source, num).state["w"])
        return fit.lower(jax.random.key(0)).compile().memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(100_000), temp_bytes(10_000_000)
    assert large < 1.1 * small + 2**20, (small, large)
    assert 10_000_000 * 16 * 4 > 5 * large  # what holding the rows would take
