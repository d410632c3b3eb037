"""Tests of the reference predictors: the oracle reproduces the teacher, `trivial` is the
seed-agnostic average (≈ 1/2 on balanced PRG instances, mse ≈ 1/4), and argument checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import instances, learners
from hardnet.analysis import metrics
from hardnet.learners import reference

F1 = ("prg_boolean", {"n": 8})
F3 = ("prg_gauss3_smoothed", {"n": 8, "k": 3, "predicate": "xor", "tau": 0.0})


def _data(inst, seed, num):
    params = jax.jit(inst.init)(jax.random.key(seed))
    x, y, meta = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(seed + 100), num)
    return params, x, y, meta


@pytest.fixture(scope="module")
def f1():
    inst = instances.make(F1[0], **F1[1])
    return (inst, *_data(inst, 0, 2048))


@pytest.fixture(scope="module")
def f6():
    """easy_depth2 at two teacher seeds: (instance, params[2], x[2, N, d], y[2, N])."""
    inst = instances.make("easy_depth2", d=8, m=4)
    keys = jax.random.split(jax.random.key(2), 2)
    params = jax.jit(jax.vmap(inst.init))(keys)
    x, y, _ = jax.jit(jax.vmap(lambda p, k: inst.sample(p, k, 64)))(params, keys)
    return inst, params, x, y


@pytest.mark.parametrize("family", ["prg_boolean", "prg_gauss3_smoothed"])
def test_oracle_reproduces_y(family, f1):
    if family == F1[0]:
        inst, params, x, y, meta = f1
    else:
        inst = instances.make(F3[0], **F3[1])
        params, x, y, meta = _data(inst, 0, 512)
    pred = learners.make("oracle", instance=inst, params=params).fit(jax.random.key(1), x, y)
    assert pred.info == {}
    y_hat = jax.jit(pred.apply)(pred.state, x)
    np.testing.assert_array_equal(np.asarray(y_hat), np.asarray(y))
    # informative rows carry the planted bit, and the oracle gets them (to float32 rounding)
    inf = meta["informative"]
    assert float(metrics.masked_mse(y_hat, meta["planted_bit"], inf)) < 1e-12


def test_oracle_under_vmap_with_batched_params(f6):
    inst, params, xs, ys = f6
    keys = jax.random.split(jax.random.key(3), 2)

    def fit(p, key, x, y):
        return reference.make_oracle(instance=inst, params=p).fit(key, x, y)

    preds = jax.vmap(fit)(params, keys, xs, ys)
    out = jax.vmap(lambda pr, x: pr(x))(preds, xs)
    np.testing.assert_allclose(out, ys, rtol=1e-6, atol=1e-6)
    one = jax.tree.map(lambda a: a[1], params)
    np.testing.assert_allclose(
        reference.make_oracle(inst, one).fit(None, xs[1], ys[1])(xs[1]), ys[1]
    )


def test_trivial_on_balanced_prg_is_one_half(f1):
    inst, _, x, y, meta = f1
    learner = learners.make("trivial", instance=inst, draws=256)
    triv = jax.jit(learner.fit)(jax.random.key(5), x, y)
    t_hat = jax.jit(triv.apply)(triv.state, x)
    inf = np.asarray(meta["informative"])
    assert inf.mean() > 0.9
    t_inf = np.asarray(t_hat)[inf]
    assert abs(t_inf.mean() - 0.5) < 0.02, t_inf.mean()
    assert np.abs(t_inf - 0.5).max() < 6 * 0.5 / np.sqrt(256)  # Monte Carlo error 1/(2√R)
    mse = float(metrics.masked_mse(t_hat, y, inf))
    assert abs(mse - 0.25) < 0.02, mse
    assert float(metrics.advantage(t_hat, t_hat, y, inf)) == 0.0
    assert float(metrics.advantage(y, t_hat, y, inf)) == 1.0  # y = oracle(x), as tested above


def test_trivial_is_seed_agnostic_and_vmappable(f6):
    inst, _, xs, ys = f6
    x1, y1, x2, y2 = xs[0], ys[0], xs[1], ys[1]  # two teacher seeds
    learner = reference.make_trivial(inst, draws=64, chunk=8)
    fit = jax.jit(learner.fit)
    assert not np.allclose(y1, y2)
    key = jax.random.key(7)
    t1, t2 = fit(key, x1, y1), fit(key, x2, y2)
    apply = jax.jit(t1.apply)  # the same function for every fit of this learner
    for a, b in zip(jax.tree.leaves(t1.state), jax.tree.leaves(t2.state), strict=True):
        np.testing.assert_array_equal(a, b)
    p1 = apply(t1.state, x1)
    np.testing.assert_array_equal(p1, apply(t2.state, x1))
    assert not np.allclose(apply(fit(jax.random.key(8), x1, y1).state, x1), p1)  # key matters
    # the average over teachers varies much less than one teacher does
    assert float(jnp.var(p1)) < 0.5 * float(jnp.var(y1))
    # chunking the draws does not change the average; vmap over keys equals separate runs
    t_one = jax.jit(reference.make_trivial(inst, draws=64, chunk=64).fit)(key, x1, y1)
    np.testing.assert_allclose(jax.jit(t_one.apply)(t_one.state, x1), p1, rtol=1e-5, atol=1e-6)
    keys = jax.random.split(key, 2)
    batched = jax.vmap(fit, in_axes=(0, None, None))(keys, x1, y1)
    for i in range(2):
        state_i = jax.tree.map(lambda a, i=i: a[i], batched.state)
        alone = apply(fit(keys[i], x1, y1).state, x1)
        np.testing.assert_allclose(apply(state_i, x1), alone, rtol=1e-4, atol=1e-6)


def test_bad_arguments(f6):
    inst = f6[0]
    params = jax.tree.map(lambda a: a[0], f6[1])
    assert learners.make("trivial", instance=inst).config["draws"] == 256
    assert learners.make("oracle", instance=inst, params=params).name == "oracle"
    with pytest.raises(ValueError, match="instance"):
        learners.make("oracle", params=params)
    with pytest.raises(ValueError, match="instance"):
        learners.make("trivial", instance="easy_depth2")
    with pytest.raises(ValueError, match="params"):
        learners.make("oracle", instance=inst)
    with pytest.raises(ValueError, match="params"):
        learners.make("oracle", instance=inst, params={"W": params["W"]})
    with pytest.raises(ValueError, match="params"):
        learners.make("oracle", instance=inst, params={**params, "W": params["W"][:4]})
    with pytest.raises(ValueError, match="draws"):
        learners.make("trivial", instance=inst, draws=0)
    with pytest.raises(ValueError, match="chunk"):
        learners.make("trivial", instance=inst, draws=10, chunk=4)
    with pytest.raises(ValueError, match="seed"):
        learners.make("trivial", instance=inst, seed=3)
    with pytest.raises(ValueError, match="input_dim"):
        learners.make("trivial", instance=inst).fit(jax.random.key(0), jnp.zeros((4, 9)), None)
