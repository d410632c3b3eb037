"""F6 `easy_depth2` [ATV21 regime]: teacher formula, parameter ranges, σ_min, determinism.

Kept fast on CPU: few configurations, each with its jitted functions compiled once and shared.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.instances import easy_depth2


def _allclose(a, b, rtol=1e-6, atol=1e-6):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol, atol=atol)


def _reference(params, x):
    w, a, b = (np.asarray(params[k], np.float64) for k in ("W", "a", "b"))
    return np.maximum(np.asarray(x, np.float64) @ w + b, 0.0) @ a


@functools.cache
def _compiled(d=16, m=8, label_noise=0.0, degenerate=False):
    """The instance and its jitted init, sample (num static) and vmapped init."""
    inst = easy_depth2.make(d=d, m=m, label_noise=label_noise, degenerate=degenerate)
    return (
        inst,
        jax.jit(inst.init),
        jax.jit(inst.sample, static_argnums=2),
        jax.jit(jax.vmap(inst.init)),
    )


@functools.cache
def _draws(d, m, degenerate, seeds=32):
    """Parameters of `seeds` instances (vmapped init) and their σ_min(W)."""
    inst, _, _, vinit = _compiled(d=d, m=m, degenerate=degenerate)
    params = vinit(jax.random.split(jax.random.key(5), seeds))
    sigma = jax.vmap(inst.describe)(params)["sigma_min_W"]
    return jax.tree.map(np.asarray, params), np.asarray(sigma)


def test_labels_equal_teacher_without_noise():
    inst, init, sample, _ = _compiled()
    params = init(jax.random.key(0))
    x, y, meta = sample(params, jax.random.key(1), 2000)
    assert x.shape == (2000, 16) and x.dtype == jnp.float32 and y.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(y), np.asarray(meta["clean_label"]))
    np.testing.assert_allclose(
        np.asarray(y), np.asarray(inst.apply(params, x)), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(y), _reference(params, x), rtol=1e-5, atol=1e-5)
    assert bool(jnp.all(meta["informative"]))
    assert abs(float(jnp.mean(x))) < 0.03 and abs(float(jnp.std(x)) - 1) < 0.03


def test_label_noise_has_the_right_std():
    _, init, sample, _ = _compiled(label_noise=0.3)
    params = init(jax.random.key(2))
    x, y, meta = sample(params, jax.random.key(3), 20_000)
    np.testing.assert_allclose(
        np.asarray(meta["clean_label"]), _reference(params, x), rtol=1e-5, atol=1e-5
    )
    resid = np.asarray(y - meta["clean_label"], np.float64)
    assert abs(resid.mean()) < 0.01
    assert abs(resid.std() - 0.3) < 0.01


def test_parameter_ranges_and_unit_columns():
    params, _ = _draws(16, 8, False)
    assert params["W"].shape == (32, 16, 8)
    np.testing.assert_allclose(np.linalg.norm(params["W"], axis=1), 1.0, atol=1e-5)
    mag = np.abs(params["a"])
    assert mag.min() >= 0.5 and mag.max() <= 1.5
    assert (params["a"] > 0).any() and (params["a"] < 0).any()
    assert params["b"].min() >= -1 and params["b"].max() <= 1


@pytest.mark.parametrize(("d", "m"), [(16, 8), (64, 16)])
def test_sigma_min_generic(d, m):
    _, sigma = _draws(d, m, False)
    assert abs(sigma.mean() - (1 - np.sqrt(m / d))) < 0.25
    assert sigma.min() > 0.05


@pytest.mark.parametrize(("d", "m"), [(16, 8), (16, 16)])
def test_sigma_min_degenerate(d, m):
    params, sigma = _draws(d, m, True)
    assert (sigma > 1e-3 / 3).all() and (sigma < 3e-3).all()
    np.testing.assert_allclose(np.linalg.norm(params["W"], axis=1), 1.0, atol=1e-5)
    cos = np.sum(params["W"][:, :, 0] * params["W"][:, :, 1], axis=1)  # nearly parallel pair
    assert (cos > 0.999).all()


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="m must be <= d"):
        easy_depth2.make(d=4, m=5)
    with pytest.raises(ValueError, match="label_noise"):
        easy_depth2.make(label_noise=-0.1)
    with pytest.raises(ValueError, match="m must be >= 2"):
        easy_depth2.make(d=4, m=1, degenerate=True)
    with pytest.raises(ValueError, match="degenerate"):
        easy_depth2.make(degenerate=1)
    with pytest.raises(ValueError, match=r"^d "):
        easy_depth2.make(d=0)


def test_determinism_vmap_chunks_jit():
    inst, init, sample, vinit = _compiled(label_noise=0.5, degenerate=True)
    p1 = init(jax.random.key(7))
    _allclose(p1, init(jax.random.key(7)), rtol=0, atol=0)

    whole = sample(p1, jax.random.key(11), 300)
    _allclose(whole, sample(p1, jax.random.key(11), 300), rtol=0, atol=0)
    parts = [sample(p1, jax.random.key(11), 100, start) for start in (0, 100, 200)]
    _allclose(whole, jax.tree.map(lambda *t: jnp.concatenate(t), *parts))
    # unjitted, with start a Python int, equals the jitted chunk
    _allclose(inst.sample(p1, jax.random.key(11), 100, start=200), parts[2])

    keys = jax.random.split(jax.random.key(9), 4)
    skeys = jax.random.split(jax.random.key(10), 4)
    pv = vinit(keys)
    sv = jax.jit(jax.vmap(inst.sample, in_axes=(0, 0, None)), static_argnums=2)(pv, skeys, 100)
    for i in range(4):
        pi = init(keys[i])
        _allclose(jax.tree.map(lambda t, i=i: t[i], pv), pi)
        _allclose(jax.tree.map(lambda t, i=i: t[i], sv), sample(pi, skeys[i], 100, 0))
