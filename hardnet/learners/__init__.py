"""The learner zoo, created by string id (spec learners.md).

    learner = hardnet.learners.make("tensor", m=8)
    predictor = learner.fit(jax.random.key(0), x, y)
    y_hat = predictor(x_test)

Generic learners (`sgd`, `tensor`, `kernel`, `poly`) see only (x, y) and `jax.vmap` over seeds.
Controls know the public encoding (`public=hardnet.base.Public.of(instance)`): `brute_force`,
`gf2`; `trivial` knows the instance but not its seed (`instance=`); `oracle` is the teacher itself
(`instance=` and `params=`: the one learner that knows s).

`register(name, constructor, description)` adds a generic learner of your own (see
examples/my_learner.py); benchmark configs then name it like a built-in one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from hardnet import validation
from hardnet.base import Learner
from hardnet.learners import brute_force, gf2, kernel, poly, reference, sgd, tensor

# name -> (constructor, what it is)
REGISTRY: dict[str, tuple[Callable[..., Learner], str]] = {
    "sgd": (sgd.make, "MLPs trained by optax optimizers, online or on a finite sample"),
    "tensor": (tensor.make, "Hermite method of moments for depth-2 ReLU networks [ATV21]"),
    "kernel": (
        kernel.make,
        "kernel ridge regression: NNGP, NTK, RBF, Laplace; exact or Nyström-PCG",
    ),
    "poly": (poly.make, "ridge regression on Hermite features of degree ≤ D"),
    "brute_force": (brute_force.make, "exhaustive search over all 2^n seeds (control)"),
    "gf2": (gf2.make, "linearization over GF(2) and Gaussian elimination (control)"),
    "oracle": (reference.make_oracle, "the teacher itself (knows s): the error floor"),
    "trivial": (reference.make_trivial, "best seed-agnostic predictor: the ceiling to beat"),
}

GENERIC = ("sgd", "tensor", "kernel", "poly")
CONTROLS = ("brute_force", "gf2", "oracle", "trivial")


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def register(name: str, constructor: Callable[..., Learner], description: str) -> None:
    """Add a generic learner to the registry, so that `make(name)` and benchmark configs
    (`config.learners.<name>`) find it.

    `constructor(**kwargs) -> Learner` must validate its keywords (ValueError naming the
    parameter) and return a learner whose `fit(key, x, y, budget=None, monitor=None)` sees only
    (x, y): the runner calls it with the config's keywords alone (no `public`, `instance`,
    `params`). Registering the same constructor again (same module and name, e.g. a config file
    loaded twice) replaces it; a built-in name or a name taken by another constructor is refused.
    See examples/my_learner.py.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"name must match [a-z][a-z0-9_]* (a config key), got {name!r}")
    if not callable(constructor):
        raise ValueError(f"constructor must be callable, got {constructor!r}")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"description must be a non-empty string, got {description!r}")
    if name in GENERIC + CONTROLS:
        raise ValueError(f"name {name!r} is a built-in learner; choose another name")
    if name in REGISTRY and _qualified(REGISTRY[name][0]) != _qualified(constructor):
        raise ValueError(
            f"name {name!r} is already registered to {_qualified(REGISTRY[name][0])}; "
            "choose another name"
        )
    REGISTRY[name] = (constructor, description)


def _qualified(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def make(name: str, **kwargs: Any) -> Learner:
    """The learner `name` at the given hyperparameters (validated before anything runs)."""
    if name not in REGISTRY:
        raise ValueError(f"learner must be one of {', '.join(REGISTRY)}, got {name!r}")
    constructor = REGISTRY[name][0]
    validation.check_known(name, kwargs, inspect.signature(constructor).parameters)
    return constructor(**kwargs)
