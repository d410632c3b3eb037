"""Planted instance families, created by string id (spec instances.md §3).

    inst = hardnet.instances.make("prg_gauss3_smoothed", n=128, predicate="xor_maj(5,7)", tau=1e-5)
    params = inst.init(jax.random.key(0))
    x, y, meta = inst.sample(params, jax.random.key(1), 1024)

The null control is the same call with `null=True`; the dictator control `predicate="dictator"`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hardnet import validation
from hardnet.base import Instance
from hardnet.instances import (
    easy_depth2,
    natural_depth2,
    prg_boolean,
    prg_depth2_smoothed,
    prg_gauss3_dv21,
    prg_gauss3_smoothed,
)

# family id -> (constructor, provenance)
REGISTRY: dict[str, tuple[Callable[..., Instance], str]] = {
    "prg_boolean": (prg_boolean.make, "F1 [DV21 Thm 8(1)], read from the paper"),
    "prg_gauss3_dv21": (prg_gauss3_dv21.make, "F2 [DV21 Thm 11], read from the paper"),
    "prg_gauss3_smoothed": (prg_gauss3_smoothed.make, "F3 [DSV23 setting], reconstruction"),
    "prg_depth2_smoothed": (prg_depth2_smoothed.make, "F4 [DSV23 setting], reconstruction"),
    "natural_depth2": (natural_depth2.make, "F5 [DV20 setting], reconstruction"),
    "easy_depth2": (easy_depth2.make, "F6 [ATV21 regime]"),
}

PRG_FAMILIES = ("prg_boolean", "prg_gauss3_dv21", "prg_gauss3_smoothed", "prg_depth2_smoothed")


def families() -> tuple[str, ...]:
    return tuple(REGISTRY)


def make(family: str, **kwargs: Any) -> Instance:
    """The instance of `family` at the given hyperparameters (validated before anything runs)."""
    if family not in REGISTRY:
        raise ValueError(f"family must be one of {', '.join(REGISTRY)}, got {family!r}")
    constructor = REGISTRY[family][0]
    validation.check_known(family, kwargs, inspect.signature(constructor).parameters)
    return constructor(**kwargs)
