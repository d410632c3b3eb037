"""F5 `natural_depth2` [DV20 setting, reconstruction]: clause identity, labels, determinism.

Kept fast on CPU: few configurations, each with its jitted functions compiled once and shared.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.instances import natural_depth2

N, R = 12, 6
SEEDS, ROWS = 100, 300  # one num for most calls, so that sample compiles once per config


def _allclose(a, b, rtol=1e-6, atol=1e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=atol)


@functools.cache
def _compiled(weights="gaussian", inputs="clauses", K=3):
    """The instance, jitted init and sample (num static), vmapped init and vmapped sample."""
    inst = natural_depth2.make(n=N, r=R, weights=weights, inputs=inputs, K=K)
    return (
        inst,
        jax.jit(inst.init),
        jax.jit(inst.sample, static_argnums=2),
        jax.jit(jax.vmap(inst.init)),
        jax.jit(jax.vmap(inst.sample, in_axes=(0, 0, None)), static_argnums=2),
    )


@functools.cache
def _clause_draws(weights, K):
    """SEEDS weight draws, ROWS clause inputs each: (params, x, y, meta) as numpy."""
    _, _, sample, vinit, _ = _compiled(weights, "clauses", K)
    params = vinit(jax.random.split(jax.random.key(K), SEEDS))
    skeys = jax.random.split(jax.random.key(100 + K), SEEDS)
    rows = [sample(jax.tree.map(lambda t, s=s: t[s], params), skeys[s], ROWS) for s in range(SEEDS)]
    x, y, meta = jax.tree.map(lambda *t: np.stack(t), *rows)
    return jax.tree.map(np.asarray, params), x, y, meta


CLAUSE_CONFIGS = [("gaussian", 3), ("uniform", 2), ("uniform", 5)]


@pytest.mark.parametrize(("weights", "K"), CLAUSE_CONFIGS)
def test_clause_identity(weights, K):
    """σ(⟨w_1, x_C⟩) = 2·1[C violated by ψ = sign(w_1)] for every sampled clause and weight draw."""
    params, x, _, meta = _clause_draws(weights, K)
    w1 = params["W"][:, 0, :].astype(np.float64)  # (SEEDS, n+1)
    pre = np.einsum("sni,si->sn", x.astype(np.float64), w1)
    violated = meta["violated"]
    np.testing.assert_allclose(np.maximum(pre, 0), 2.0 * violated, atol=1e-5 * K)
    # float32, as the network computes it
    pre32 = np.maximum(np.einsum("sni,si->sn", x, params["W"][:, 0, :]), 0)
    np.testing.assert_allclose(pre32, 2.0 * violated, atol=1e-4 * K)
    # violated means every literal is false, literal (i, p) true iff ψ_i = p
    psi = np.sign(w1[:, :N])
    lit_true = (
        np.take_along_axis(psi[:, None, :], meta["clause_vars"], axis=2) == meta["clause_signs"]
    )
    np.testing.assert_array_equal(violated, ~lit_true.any(axis=2))
    # the shape of x_C: K distinct variables, ±1/|w_1i| on them, bias −(K−2)/w_{1,n+1}
    vars_ = meta["clause_vars"]
    assert (np.sort(vars_, axis=2)[..., 1:] != np.sort(vars_, axis=2)[..., :-1]).all()
    assert ((x[..., :N] != 0).sum(axis=2) == K).all()
    xv = np.take_along_axis(x, vars_, axis=2)
    np.testing.assert_allclose(
        xv * np.abs(np.take_along_axis(w1[:, None, :], vars_, axis=2)),
        -meta["clause_signs"],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        x[..., N], np.broadcast_to(-(K - 2) / w1[:, None, N], x.shape[:2]), rtol=1e-6, atol=1e-7
    )
    assert meta["informative"].all()


@pytest.mark.parametrize(("weights", "K"), CLAUSE_CONFIGS)
def test_violated_fraction_and_signs(weights, K):
    _, _, _, meta = _clause_draws(weights, K)
    num, p = SEEDS * ROWS, 2.0**-K
    frac = meta["violated"].mean()
    assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / num)
    signs = meta["clause_signs"]
    assert set(np.unique(signs)) == {-1, 1}
    assert abs(signs.mean()) < 5 / math.sqrt(signs.size)
    counts = np.bincount(meta["clause_vars"].ravel(), minlength=N) / meta["clause_vars"].size
    np.testing.assert_allclose(counts, 1 / N, atol=0.01)


@pytest.mark.parametrize(("weights", "K"), CLAUSE_CONFIGS[:2])
def test_clause_labels_equal_teacher(weights, K):
    inst = _compiled(weights, "clauses", K)[0]
    params, x, y, _ = _clause_draws(weights, K)
    for s in range(2):
        p = jax.tree.map(lambda t, s=s: t[s], params)
        np.testing.assert_allclose(y[s], np.asarray(inst.apply(p, x[s])), rtol=1e-6, atol=1e-5)
        w, a = p["W"].astype(np.float64), p["a"].astype(np.float64)
        ref = np.maximum(x[s].astype(np.float64) @ w.T, 0) @ a
        scale = 1 + np.abs(x[s]).sum(axis=1) * np.abs(w).max() * np.abs(a).sum()
        assert (np.abs(y[s] - ref) <= 1e-5 * scale).all()


def test_gaussian_inputs_and_labels():
    inst, init, sample, _, _ = _compiled("gaussian", "gaussian")
    assert inst.input_dim == N + 1
    params = init(jax.random.key(3))
    assert params["W"].shape == (R, N + 1) and params["a"].shape == (R,)
    x, y, meta = sample(params, jax.random.key(4), ROWS)
    assert x.shape == (ROWS, N + 1) and x.dtype == jnp.float32 and y.dtype == jnp.float32
    assert set(meta) == {"informative"} and bool(jnp.all(meta["informative"]))
    np.testing.assert_array_equal(np.asarray(x[:, N]), 1.0)
    g = np.asarray(x[:, :N])
    assert abs(g.mean()) < 0.05 and abs(g.std() - 1) < 0.05
    np.testing.assert_allclose(
        np.asarray(y), np.asarray(inst.apply(params, x)), rtol=1e-6, atol=1e-6
    )
    w, a = np.asarray(params["W"], np.float64), np.asarray(params["a"], np.float64)
    ref = np.maximum(np.asarray(x, np.float64) @ w.T, 0) @ a
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("weights", "K"), CLAUSE_CONFIGS)
def test_weight_distributions(weights, K):
    params = _clause_draws(weights, K)[0]
    w = np.concatenate([params["W"].ravel(), params["a"].ravel()])
    assert params["W"].shape == (SEEDS, R, N + 1) and params["a"].shape == (SEEDS, R)
    if weights == "uniform":
        assert w.min() >= -1 and w.max() <= 1 and abs(w.std() - 1 / math.sqrt(3)) < 0.02
    else:
        assert np.abs(w).max() > 1.5 and abs(w.std() - 1) < 0.03
    assert abs(w.mean()) < 0.03


def test_default_r_is_n():
    inst = natural_depth2.make(n=9)
    assert inst.config["r"] == 9 and inst.input_dim == 10


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="K must be <= n"):
        natural_depth2.make(n=3, K=4)
    with pytest.raises(ValueError, match=r"^K "):
        natural_depth2.make(K=1)
    with pytest.raises(ValueError, match=r"^n "):
        natural_depth2.make(n=1)
    with pytest.raises(ValueError, match=r"^r "):
        natural_depth2.make(r=0)
    with pytest.raises(ValueError, match=r"^weights "):
        natural_depth2.make(weights="laplace")
    with pytest.raises(ValueError, match=r"^inputs "):
        natural_depth2.make(inputs="boolean")


@pytest.mark.parametrize(("weights", "inputs"), [("gaussian", "clauses"), ("gaussian", "gaussian")])
def test_determinism_vmap_chunks_jit(weights, inputs):
    inst, init, sample, vinit, vsample = _compiled(weights, inputs)
    p1 = init(jax.random.key(7))
    _allclose(p1, init(jax.random.key(7)), rtol=0, atol=0)

    chunk = ROWS // 3
    whole = sample(p1, jax.random.key(11), 3 * chunk)
    _allclose(whole, sample(p1, jax.random.key(11), 3 * chunk), rtol=0, atol=0)
    parts = [sample(p1, jax.random.key(11), chunk, start) for start in (0, chunk, 2 * chunk)]
    _allclose(whole, jax.tree.map(lambda *t: jnp.concatenate(t), *parts), rtol=1e-5, atol=1e-5)
    if inputs == "clauses":  # unjitted, with start a Python int, equals the jitted chunk
        _allclose(
            inst.sample(p1, jax.random.key(11), chunk, start=2 * chunk),
            parts[2],
            rtol=1e-5,
            atol=1e-5,
        )

    keys = jax.random.split(jax.random.key(9), 4)
    skeys = jax.random.split(jax.random.key(10), 4)
    pv = vinit(keys)
    sv = vsample(pv, skeys, ROWS)
    for i in range(4):
        pi = init(keys[i])
        _allclose(jax.tree.map(lambda t, i=i: t[i], pv), pi)
        _allclose(
            jax.tree.map(lambda t, i=i: t[i], sv), sample(pi, skeys[i], ROWS), rtol=1e-5, atol=1e-5
        )
