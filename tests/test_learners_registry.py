"""The learner registry: every learner is made by name with default hyperparameters and returns a
callable predictor; unknown names and keywords are ValueErrors."""

import jax
import numpy as np
import pytest

from hardnet import learners
from hardnet.core.base import Learner, Predictor, Public
from hardnet.instances import make as make_instance


@pytest.fixture(scope="module")
def f6_data():
    inst = make_instance("easy_depth2", d=8, m=4)
    params = inst.init(jax.random.key(0))
    x, y, _ = inst.sample(params, jax.random.key(1), 600)
    return inst, params, x, y


JAX_GENERIC = [n for n in learners.names("generic") if n != learners.OUTSIDE]  # outside: no fit


@pytest.mark.parametrize("name", JAX_GENERIC)
def test_generic_learners_fit_with_defaults(name, f6_data):
    _, _, x, y = f6_data
    learner = learners.make(name)
    assert isinstance(learner, Learner) and learner.name == name and learner.vmappable
    budget = {"sgd": 50}.get(name)  # keep the default sgd run short here
    predictor = learner.fit(jax.random.key(2), x, y, budget)
    assert isinstance(predictor, Predictor)
    y_hat = predictor(x[:7])
    assert y_hat.shape == (7,) and bool(np.all(np.isfinite(np.asarray(y_hat))))


def test_reference_and_controls_through_the_registry(f6_data):
    inst, params, x, y = f6_data
    oracle = learners.make("oracle", instance=inst, params=params).fit(jax.random.key(0), x, y)
    np.testing.assert_allclose(oracle(x), y, atol=1e-6)
    trivial = learners.make("trivial", instance=inst).fit(jax.random.key(0), x, y)
    assert trivial(x).shape == y.shape
    prg_inst = make_instance("prg_boolean", n=8, predicate="tsa")
    public = Public.of(prg_inst)
    assert public.encoding is not None and public.encoding.decode is not None
    for name in ("brute_force", "gf2"):
        assert learners.make(name, public=public).name == name


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("nope", {}, "learner must be one of"),
        ("sgd", dict(colour=1), "unknown parameter"),
        ("kernel", dict(kernel="cosine"), "kernel"),
        ("brute_force", {}, "public"),
    ],
)
def test_bad_learners_raise_value_error(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        learners.make(name, **kwargs)


def _registry_cases():
    """(name, learner, x, y) for every learner of the registry at small settings."""
    f6 = make_instance("easy_depth2", d=6, m=3)
    params = f6.init(jax.random.key(0))
    x, y, _ = f6.sample(params, jax.random.key(1), 400)
    prg = make_instance("prg_boolean", n=8, predicate="tsa")
    xp, yp, _ = prg.sample(prg.init(jax.random.key(2)), jax.random.key(3), 400)
    small = {"sgd": dict(steps=20), "kernel": dict(solver="exact")}
    for name in learners.names():
        if name == learners.OUTSIDE:  # NumPy in and out, run by the harness (tests/test_outside.py)
            continue
        if name in ("brute_force", "gf2"):
            yield name, learners.make(name, public=Public.of(prg)), xp, yp
        elif name == "oracle":
            yield name, learners.make(name, instance=f6, params=params), x, y
        elif name == "trivial":
            yield name, learners.make(name, instance=f6), x, y
        else:
            yield name, learners.make(name, **small.get(name, {})), x, y


def test_every_learner_accepts_numpy_and_jax_arrays_alike():
    seen = []
    for name, learner, x, y in _registry_cases():
        key = jax.random.key(5)
        want = np.asarray(learner.fit(key, x, y)(x[:32]))
        for cast in (np.asarray, lambda a: np.asarray(a, np.float64)):
            got = learner.fit(key, cast(x), cast(y))(cast(x[:32]))
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6, err_msg=name)
        seen.append(name)
    assert set(seen) == set(learners.names()) - {learners.OUTSIDE}
