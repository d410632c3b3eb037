"""The learner zoo, created by string id (docs/learners.md).

    learner = hardnet.learners.make("tensor", m=8)
    predictor = learner.fit(jax.random.key(0), x, y)
    y_hat = predictor(x_test)

Generic learners (`sgd`, `tensor`, `kernel`, `poly`) see only (x, y) and `jax.vmap` over seeds.
Controls know the public encoding (`public=hardnet.core.base.Public.of(instance)`): `brute_force`,
`gf2`; `trivial` knows the instance but not its seed (`instance=`); `oracle` is the teacher itself
(`instance=` and `params=`: the one learner that knows s).

`outside` runs a learner from any framework (PyTorch, scikit-learn, NumPy) named by its factory,
`make(input_dim, budget, seed) -> model` with `fit`/`partial_fit` and `predict` on NumPy arrays
(learners/outside.py, docs/outside.md).

`register(name, constructor, description)` adds a generic learner of your own (see
examples/my_learner.py); benchmark configs then name it like a built-in one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hardnet.core import registry
from hardnet.core.base import Instance, Learner, Params, Public
from hardnet.core.registry import Entry
from hardnet.learners import (
    brute_force,
    expectations,
    gf2,
    kernel,
    outside,
    poly,
    reference,
    sgd,
    tensor,
)

KINDS = ("generic", "control", "reference")
KNOWLEDGE = ("public", "instance", "params")  # what the runner supplies, never a config


REGISTRY: dict[str, Entry] = {
    "sgd": Entry(
        sgd.make,
        "MLPs trained by optax optimizers, online or on a finite sample",
        "generic",
        expected=expectations.EASY_DEPTH2,
    ),
    "tensor": Entry(
        tensor.make,
        "Hermite method of moments for depth-2 ReLU networks [ATV21]",
        "generic",
        expected=expectations.EASY_DEPTH2,
    ),
    "kernel": Entry(
        kernel.make,
        "kernel ridge regression: NNGP, NTK, RBF, Laplace; exact or Nyström-PCG",
        "generic",
    ),
    "poly": Entry(poly.make, "ridge regression on Hermite features of degree ≤ D", "generic"),
    # any framework: make(input_dim, budget, seed) -> fit/partial_fit/predict on NumPy arrays,
    # run and scored by hardnet.run.outside (learners/outside.py)
    outside.NAME: Entry(
        outside.make, "a learner from any framework, run by the harness as submitted", "generic"
    ),
    "brute_force": Entry(
        brute_force.make,
        "exhaustive search over all 2^n seeds",
        "control",
        ("public",),
        expectations.BRUTE_FORCE,
    ),
    "gf2": Entry(
        gf2.make,
        "linearization over GF(2) and Gaussian elimination",
        "control",
        ("public",),
        expectations.GF2,
    ),
    "oracle": Entry(
        reference.make_oracle,
        "the teacher itself (knows s): the error floor",
        "reference",
        ("instance", "params"),
        expectations.ORACLE,
    ),
    "trivial": Entry(
        reference.make_trivial,
        "best seed-agnostic predictor: the ceiling to beat",
        "reference",
        ("instance",),
    ),
}

BUILT_IN = tuple(REGISTRY)
OUTSIDE = outside.NAME  # the entry of learners from any framework (no JAX fit)
BASELINE = "trivial"  # the seed-agnostic predictor that `adv` is measured against


def names(kind: str | None = None) -> tuple[str, ...]:
    """Registered learners, all or those of one kind ("generic", "control", "reference")."""
    return registry.names(REGISTRY, kind)


def entry(name: str) -> Entry:
    """The registry entry of `name`: its kind and what it needs (ValueError if unknown)."""
    return registry.lookup(REGISTRY, "learner", name)


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
    if name in BUILT_IN:
        raise ValueError(f"name {name!r} is a built-in learner; choose another name")
    if name in REGISTRY and _qualified(REGISTRY[name].constructor) != _qualified(constructor):
        raise ValueError(
            f"name {name!r} is already registered to {_qualified(REGISTRY[name].constructor)}; "
            "choose another name"
        )
    REGISTRY[name] = Entry(constructor, description, "generic")


def _qualified(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def make(name: str, **kwargs: Any) -> Learner:
    """The learner `name` at the given hyperparameters (validated before anything runs)."""
    return registry.create(REGISTRY, "learner", name, kwargs)


def make_for(
    name: str, kwargs: Mapping[str, Any], instance: Instance | None = None, params: Params = None
) -> Learner:
    """The learner `name` with what its entry `needs` supplied from `instance` (and `params`)
    besides the config's `kwargs`."""
    needs = entry(name).needs
    extra: dict[str, Any] = {}
    if needs and instance is None:
        raise ValueError(f"{name}: needs the instance ({', '.join(needs)})")
    if "public" in needs:
        extra["public"] = Public.of(instance)
    if "instance" in needs:
        extra["instance"] = instance
    if "params" in needs:
        extra["params"] = params
    return make(name, **kwargs, **extra)
