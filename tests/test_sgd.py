"""The `sgd` learner: learns F6, vmaps over seeds exactly, trains online in O(batch) memory, logs
its curves, flags divergence, and validates its hyperparameters."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import core as jcore

import hardnet.instances
import hardnet.learners
from hardnet.analysis.metrics import best_cosines, nmse

D, M = 16, 8


@pytest.fixture(scope="module")
def f6():
    inst = hardnet.instances.make("easy_depth2", d=D, m=M)
    params = inst.init(jax.random.key(0))
    return inst, params


@pytest.fixture(scope="module")
def f6_run(f6):
    """One online run on F6 with a teacher-alignment monitor: 2000 Adam steps of batch 256."""
    inst, params = f6
    learner = hardnet.learners.make(
        "sgd", depth=1, width=64, learning_rate=3e-3, batch_size=256, log_every=100
    )
    source = lambda start, num: inst.sample(params, jax.random.key(1), num, start)[:2]
    monitor = lambda predict, rows: {"best_cos": best_cosines(rows, params["W"])}
    predictor = learner.fit_online(jax.random.key(1), source, 2000 * 256, monitor)
    return predictor


def test_learns_f6(f6, f6_run):
    inst, params = f6
    x, y, _ = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(99), 4096)
    assert float(nmse(_predict(f6_run, x), y)) <= 0.05
    assert not bool(f6_run.info["diverged"])
    # first-layer rows align with the teacher directions
    cos = np.asarray(f6_run.info["best_cos"])
    assert cos[-1].min() >= 0.95
    assert cos[-1].mean() > cos[0].mean() + 0.1


def test_curves_one_entry_per_log_point(f6_run):
    info = f6_run.info
    steps = np.asarray(info["step"])
    np.testing.assert_array_equal(steps, np.arange(0, 2001, 100))
    assert info["best_cos"].shape == (len(steps), M)
    assert info["train_loss"].shape == info["weight_movement"].shape == (len(steps),)
    moved = np.asarray(info["weight_movement"])
    assert moved[0] < 1e-6 and moved[1] > 0.1 and moved[-1] > moved[1]
    loss = np.asarray(info["train_loss"])
    assert loss[-1] < 0.02 * loss[0]


def _data(num_seeds, num):
    """`num_seeds` samples of a random single-index model `y = tanh(⟨w, x⟩)`, x ~ N(0, I)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((num_seeds, num, D), np.float32)
    w = rng.standard_normal((num_seeds, D, 1), np.float32) / np.sqrt(D)
    return jnp.asarray(x), jnp.asarray(np.tanh(x @ w)[..., 0])


_predict = jax.jit(lambda predictor, x: predictor(x))


def test_vmap_over_seeds_equals_separate_runs():
    learner = hardnet.learners.make("sgd", width=32, batch_size=64, steps=100, log_every=25)
    xs, ys = _data(8, 512)
    keys = jax.random.split(jax.random.key(4), 8)
    together = jax.vmap(learner.fit)(keys, xs, ys)
    assert together.info["train_loss"].shape == (8, 5)
    predictions = np.asarray(jax.vmap(_predict)(together, xs))
    batched = jax.device_get((together.state, together.info))
    for i in range(8):
        alone = learner.fit(keys[i], xs[i], ys[i])  # the same compiled program each time
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-5),
            batched,
            jax.device_get((alone.state, alone.info)),
        )
        np.testing.assert_allclose(predictions[i], _predict(alone, xs[i]), rtol=1e-4, atol=1e-5)
    # the finite regime fits its sample
    loss = np.asarray(together.info["train_loss"])
    assert np.all(loss[:, -1] < 0.5 * loss[:, 0])


def _eqns(jaxpr):
    """All equations of a jaxpr, recursing into sub-jaxprs (jit, scan, cond, ...)."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(sub, jcore.ClosedJaxpr):
                    yield from _eqns(sub.jaxpr)
                elif isinstance(sub, jcore.Jaxpr):
                    yield from _eqns(sub)


def test_online_reduces_loss_in_memory_independent_of_budget(f6):
    inst, params = f6
    learner = hardnet.learners.make("sgd", width=32, batch_size=128, log_every=10)
    source = lambda start, num: inst.sample(params, jax.random.key(1), num, start)[:2]
    budget = 40 * 128
    predictor = learner.fit_online(jax.random.key(5), source, budget)
    loss = np.asarray(predictor.info["train_loss"])
    assert loss.shape == (5,) and loss[-1] < 0.7 * loss[0]

    def program(b):
        return jax.make_jaxpr(lambda k: learner.fit_online(k, source, b))(jax.random.key(5)).jaxpr

    small, large = program(budget), program(10 * budget)
    assert len(list(_eqns(small))) == len(list(_eqns(large)))
    dims = {
        dim
        for eqn in _eqns(large)
        for var in (*eqn.invars, *eqn.outvars)
        if hasattr(var.aval, "shape")
        for dim in var.aval.shape
    }
    assert 10 * budget not in dims and 400 not in dims  # neither samples nor steps materialized


def test_huge_learning_rate_diverges_without_exception():
    learner = hardnet.learners.make(
        "sgd", optimizer="sgd", learning_rate=1e8, width=32, steps=20, log_every=5
    )
    xs, ys = _data(1, 256)
    predictor = learner.fit(jax.random.key(0), xs[0], ys[0])
    assert bool(predictor.info["diverged"])


def test_logistic_loss_predicts_probabilities():
    learner = hardnet.learners.make(
        "sgd", loss="logistic", optimizer="adamw", weight_decay=1e-4, schedule="warmup_cosine",
        learning_rate=1e-2, width=32, steps=200, log_every=50,
    )  # fmt: skip
    xs, _ = _data(1, 1024)
    x = xs[0]
    y = (x[:, 0] + x[:, 1] > 0).astype(jnp.float32)
    predictor = learner.fit(jax.random.key(1), x, y)
    p = np.asarray(_predict(predictor, x))
    assert np.all((p >= 0) & (p <= 1))
    assert np.mean((p > 0.5) == (np.asarray(y) > 0.5)) > 0.95


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"depth": 0}, "depth"),
        ({"batch_size": 0}, "batch_size"),
        ({"activation": "swish9"}, "activation"),
        ({"schedule": "linear"}, "schedule"),
        ({"loss": "hinge"}, "loss"),
        ({"momentum": 1.0}, "momentum"),
        ({"width": 2.5}, "width"),
        ({"colour": 1}, "colour"),
    ],
)
def test_bad_hyperparameters_raise_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        hardnet.learners.make("sgd", **kwargs)


def test_bad_shapes_and_budgets_raise(f6):
    inst, params = f6
    learner = hardnet.learners.make("sgd", width=8, batch_size=64, steps=2)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="x"):
        learner.fit(key, jnp.ones((10,)), jnp.ones((10,)))
    with pytest.raises(ValueError, match="y"):
        learner.fit(key, jnp.ones((10, 3)), jnp.ones((9,)))
    with pytest.raises(ValueError, match="budget"):
        learner.fit(key, jnp.ones((10, 3)), jnp.ones((10,)), budget=0)
    source = functools.partial(lambda p, s, num: inst.sample(p, key, num, s)[:2], params)
    with pytest.raises(ValueError, match="budget"):
        learner.fit_online(key, source, 10)
    with pytest.raises(ValueError, match="source"):
        learner.fit_online(key, lambda s, num: (jnp.ones((num, 3)), jnp.ones((num, 2))), 128)


def test_finite_regime_from_a_stream_holds_or_redraws_its_training_set(f6):
    """Finite regime through `fit_online`: a set within `hold_bytes` is read once and trained on
    exactly as by `fit`; a larger one (hold_bytes=0) is re-drawn batch by batch from the stream,
    still learns, and compiles to temporaries that do not grow with the set's size."""
    inst, params = f6
    source = lambda start, num: inst.sample(params, jax.random.key(1), num, start)[:2]
    kwargs = dict(width=32, batch_size=128, steps=300, log_every=100, regime="finite")
    held = hardnet.learners.make("sgd", **kwargs)
    key = jax.random.key(5)
    via_stream = held.fit_online(key, source, 2048)
    direct = held.fit(key, *source(0, 2048))
    np.testing.assert_allclose(via_stream.info["train_loss"], direct.info["train_loss"], rtol=1e-5)
    redrawn = hardnet.learners.make("sgd", hold_bytes=0, **kwargs)
    loss = np.asarray(redrawn.fit_online(key, source, 2048).info["train_loss"])
    assert loss[-1] < 0.5 * loss[0], loss

    def temp_bytes(learner, num):
        fit = jax.jit(lambda k: learner.fit_online(k, source, num).state)
        return fit.lower(key).compile().memory_analysis().temp_size_in_bytes

    assert temp_bytes(redrawn, 10**7) < 1.1 * temp_bytes(redrawn, 10**4) + 2**20
    assert temp_bytes(held, 10**6) > 10 * temp_bytes(redrawn, 10**6)  # the held set shows
