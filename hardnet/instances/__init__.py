"""Planted instance families, created by string id (docs/instances.md).

    inst = hardnet.instances.make("prg_gauss3_smoothed", n=128, predicate="xor_maj(5,7)", tau=1e-5)
    params = inst.init(jax.random.key(0))
    x, y, meta = inst.sample(params, jax.random.key(1), 1024)

The null control is the same call with `null=True`; the dictator control `predicate="dictator"`.
`init`, `sample` (`num` static, `start` traced) and `apply` come jitted: called eagerly, each is
one compiled program per shape instead of one per primitive (a PRG sampler's first call: 1 s
against 5 s); inside another jit they are inlined.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from hardnet.core import registry
from hardnet.core.base import Instance
from hardnet.core.registry import Entry
from hardnet.instances import (
    easy_depth2,
    natural_depth2,
    prg_boolean,
    prg_depth2_smoothed,
    prg_gauss3_dv21,
    prg_gauss3_smoothed,
)

KINDS = ("prg", "planted")  # a local-PRG construction (with null and dictator controls), or not

REGISTRY: dict[str, Entry] = {
    "prg_boolean": Entry(prg_boolean.make, "F1 [DV21 Thm 8(1)], read from the paper", "prg"),
    "prg_gauss3_dv21": Entry(prg_gauss3_dv21.make, "F2 [DV21 Thm 11], read from the paper", "prg"),
    "prg_gauss3_smoothed": Entry(
        prg_gauss3_smoothed.make, "F3 [DSV23 setting], reconstruction", "prg"
    ),
    "prg_depth2_smoothed": Entry(
        prg_depth2_smoothed.make, "F4 [DSV23 setting], reconstruction", "prg"
    ),
    "natural_depth2": Entry(natural_depth2.make, "F5 [DV20 setting], reconstruction", "planted"),
    "easy_depth2": Entry(easy_depth2.make, "F6 [ATV21 regime]", "planted"),
}


def families(kind: str | None = None) -> tuple[str, ...]:
    """The registered families, all or those of one kind ("prg", "planted")."""
    return registry.names(REGISTRY, kind)


def kind(family: str) -> str:
    return registry.lookup(REGISTRY, "family", family).kind


def code(family: str) -> str:
    """The family's short name in the spec ("F3"), or the family id when it has none."""
    try:
        first = registry.lookup(REGISTRY, "family", family).description.split()[0]
    except ValueError:
        return family
    return first if first[:1] == "F" and first[1:].isdigit() else family


def caveat(family: str) -> str:
    """What the family's construction can and cannot show, for the verdict ("" if nothing)."""
    return {"natural_depth2": natural_depth2.VERDICT_CAVEAT}.get(family, "")


def make(family: str, **kwargs: Any) -> Instance:
    """The instance of `family` at the given hyperparameters (validated before anything runs),
    its pure functions jitted (module docstring)."""
    inst = registry.create(REGISTRY, "family", family, kwargs)
    return dataclasses.replace(
        inst,
        init=jax.jit(inst.init),
        sample=jax.jit(inst.sample, static_argnums=2),
        apply=jax.jit(inst.apply),
    )


def small_prg() -> Instance:
    """A small PRG instance (F1, n=8, `tsa`) that every structure-aware control accepts: a
    control's keywords that fail here are a config error, not the limit of a larger instance."""
    return make("prg_boolean", n=8, predicate="tsa")
