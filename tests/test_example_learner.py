"""examples/my_learner.py, the manual's "add a learner" example: it learns F6 easy depth-2 far
better than the mean predictor, vmaps over seeds, registers itself, and runs through the grid,
the runner and `hardnet-bench`. Also `hardnet.learners.register`'s rules."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import instances, learners
from hardnet.core.base import Learner
from hardnet.learners import poly
from hardnet.run import grid, runner

EXAMPLE = Path(__file__).parents[1] / "examples" / "my_learner.py"


@pytest.fixture()
def example(monkeypatch):
    """The example module, imported fresh; its registration lands in a copy of the registry."""
    monkeypatch.setattr(learners, "REGISTRY", dict(learners.REGISTRY))
    spec = importlib.util.spec_from_file_location("my_learner", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def f6():
    inst = instances.make("easy_depth2", d=16, m=8)
    params = inst.init(jax.random.key(0))
    x, y, _ = inst.sample(params, jax.random.key(1), 2000)
    x_test, y_test, _ = inst.sample(params, jax.random.key(2), 2000)
    return x, y, x_test, y_test


def test_the_example_is_under_50_lines():
    assert len(EXAMPLE.read_text().splitlines()) < 50


def test_it_beats_the_mean_predictor_on_easy_depth2(example, f6):
    x, y, x_test, y_test = f6
    predictor = learners.make("random_relu").fit(jax.random.key(3), x, y)
    mse = float(jnp.mean((predictor(x_test) - y_test) ** 2))
    mse_mean = float(jnp.mean((jnp.mean(y) - y_test) ** 2))  # the best constant, from train
    assert mse < 0.25 * mse_mean  # measured: nmse 0.08 at width 512, N = 2000
    assert float(predictor.info["train_mse"]) < mse_mean
    # more random features fit better (the ridge is relative, so this is a fair comparison)
    narrow = learners.make("random_relu", width=16).fit(jax.random.key(3), x, y)
    assert float(jnp.mean((narrow(x_test) - y_test) ** 2)) > mse


def test_vmap_over_seeds_equals_separate_fits_and_budget_takes_a_prefix(example, f6):
    x, y, x_test, _ = f6
    learner = learners.make("random_relu", width=64)
    keys = jax.random.split(jax.random.key(4), 3)
    batched = jax.jit(jax.vmap(learner.fit, in_axes=(0, None, None)))(keys, x, y)
    for i in range(3):
        single = learner.fit(keys[i], x, y)
        np.testing.assert_allclose(batched.state["w"][i], single.state["w"], rtol=1e-3, atol=1e-4)
    assert not np.allclose(batched.state["W"][0], batched.state["W"][1])  # keys matter
    prefix = learner.fit(keys[0], x, y, budget=500)
    np.testing.assert_allclose(
        prefix(x_test), learner.fit(keys[0], x[:500], y[:500])(x_test), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(width=0), "width"), (dict(ridge=0.0), "ridge"), (dict(depth=2), "unknown parameter")],
)
def test_bad_hyperparameters_raise_value_error(example, kwargs, match):
    with pytest.raises(ValueError, match=match):
        learners.make("random_relu", **kwargs)


def test_runs_through_the_grid_and_the_runner(example):
    config = example.get_config("family=easy_depth2,d=8,m=4,learner=random_relu,budget=1000")
    (cell,) = grid.expand(config)
    assert cell.learner == "random_relu"
    rows = runner.run_cell(cell, seed_base=0)
    assert len(rows) == len(cell.instance_seeds) * len(cell.learner_seeds)
    assert not any(row["failed"] for row in rows)
    assert all(row["nmse"] < 0.3 for row in rows)  # the mean predictor's nmse is about 1


def test_hardnet_bench_loads_the_example_as_a_config(tmp_path):
    arg = "family=easy_depth2,d=8,m=4,learner=random_relu,budget=500"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardnet.cli.bench",
            f"--config={EXAMPLE}:{arg}",
            f"--workdir={tmp_path}",
            "--config.instance_seeds=1",
            "--report=false",
            "--tensorboard=false",
            "--jax_platforms=cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {row["cell"]["learner"] for row in rows} == {"random_relu"}
    assert all(not row["failed"] and row["nmse"] < 0.5 for row in rows)


def _constructor(degree: int = 2) -> Learner:
    return poly.make(degree=degree)


def test_register_rules(monkeypatch):
    monkeypatch.setattr(learners, "REGISTRY", dict(learners.REGISTRY))
    learners.register("my_poly", _constructor, "poly under another name")
    assert "my_poly" in learners.names()
    assert learners.make("my_poly", degree=1).config["degree"] == 1
    learners.register("my_poly", _constructor, "again: the same constructor replaces")
    with pytest.raises(ValueError, match="already registered"):
        learners.register("my_poly", lambda: None, "a different constructor")
    with pytest.raises(ValueError, match="built-in"):
        learners.register("sgd", _constructor, "shadowing a built-in")
    with pytest.raises(ValueError, match="name must match"):
        learners.register("My Learner", _constructor, "not a config key")
    with pytest.raises(ValueError, match="constructor must be callable"):
        learners.register("other", 3, "not callable")
    with pytest.raises(ValueError, match="description"):
        learners.register("other", _constructor, " ")
