"""The learner registry: every learner is made by name with default hyperparameters and returns a
callable predictor; unknown names and keywords are ValueErrors."""

import jax
import numpy as np
import pytest

from hardnet import learners
from hardnet.base import Learner, Predictor, Public
from hardnet.instances import make as make_instance


@pytest.fixture(scope="module")
def f6_data():
    inst = make_instance("easy_depth2", d=8, m=4)
    params = inst.init(jax.random.key(0))
    x, y, _ = inst.sample(params, jax.random.key(1), 600)
    return inst, params, x, y


@pytest.mark.parametrize("name", learners.GENERIC)
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
    assert public.decode is not None and public.informative is not None
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
