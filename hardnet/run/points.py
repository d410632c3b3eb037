"""The instances of a grid: every sweep point of every config block, with its control variants
(null and dictator for PRG families), validated (`grid_points`)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from hardnet import instances
from hardnet.core.base import Instance
from hardnet.core.textio import canonical
from hardnet.run.grid_checks import check_mapping, check_positive_int, fail

BLOCK_KEYS = {"family", "fixed", "sweep", "null_control", "dictator_control", "test_size"}


def _sweep_points(path: str, block: dict[str, Any]) -> list[dict[str, Any]]:
    """The keyword arguments of every sweep point of a block (product over sorted keys)."""
    fixed = check_mapping(f"{path}.fixed", block.get("fixed"))
    sweep = check_mapping(f"{path}.sweep", block.get("sweep"))
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            fail(f"{path}.sweep.{key}", f"must be a non-empty list, got {values!r}")
        if key in fixed:
            fail(f"{path}.sweep.{key}", "is also in fixed")
    keys = sorted(sweep)
    return [
        {**fixed, **dict(zip(keys, values, strict=True))}
        for values in itertools.product(*(sweep[k] for k in keys))
    ]


def _variants(
    path: str, block: dict[str, Any], kwargs: dict[str, Any], inst: Instance
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    prg = instances.kind(block["family"]) == "prg"
    for flag, variant in (("null_control", "null"), ("dictator_control", "dictator")):
        value = block.get(flag, False)
        if not isinstance(value, bool):
            fail(f"{path}.{flag}", f"must be a bool, got {value!r}")
        if not value:
            continue
        if not prg:
            fail(f"{path}.{flag}", f"applies to PRG families only, not {block['family']}")
        if variant == "null":
            out.append((variant, {**kwargs, "null": True}))
        else:
            out.append(
                (variant, {**kwargs, "predicate": "dictator", "k": inst.encoding.predicate.k})
            )
    return out


@dataclasses.dataclass(frozen=True)
class GridPoint:
    """One instance of the grid: a sweep point of a block, main or a control variant."""

    block: str
    variant: str
    inst: Instance
    test_size: int
    sweep: int  # the index of its sweep point in the block (shared by its control variants)


def grid_points(blocks: dict[str, Any], test_size: int) -> list[GridPoint]:
    """Every sweep point of every block, main and control variants, validated."""
    points = []
    for bname in sorted(blocks):
        path = f"config.instances.{bname}"
        block = check_mapping(path, blocks[bname], BLOCK_KEYS)
        family = block.get("family")
        if family not in instances.families():
            known = ", ".join(instances.families())
            fail(f"{path}.family", f"unknown family {family!r}; known: {known}")
        size = check_positive_int(f"{path}.test_size", block.get("test_size", test_size))
        for index, kwargs in enumerate(_sweep_points(path, block)):
            inst = _make_instance(path, family, kwargs)
            points.append(GridPoint(bname, "main", inst, size, index))
            for variant, vkwargs in _variants(path, block, kwargs, inst):
                vinst = _make_instance(f"{path} ({variant})", family, vkwargs)
                points.append(GridPoint(bname, variant, vinst, size, index))
    return points


def _make_instance(path: str, family: str, kwargs: dict[str, Any]) -> Instance:
    try:
        return instances.make(family, **kwargs)
    except ValueError as e:
        fail(f"{path} ({family} with {canonical(kwargs)})", e)
        raise  # unreachable
