"""Registries of named constructors: learners (`hardnet.learners`) and planted families
(`hardnet.instances`) are both a `dict[str, Entry]`, and pieces that run or report cells ask an
entry what it is (`kind`, `needs`) instead of knowing names.

    entry = lookup(REGISTRY, "learner", "sgd")
    learner = create(REGISTRY, "learner", "sgd", {"width": 64})
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from hardnet.core import validation


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered constructor and what it builds.

    Attributes:
      constructor: `(**kwargs) -> object`, validating its keywords (ValueError naming them).
      description: one line for listings and reports (for families: the provenance).
      kind: what the object is, from the registry's own list (learners: "generic", "control",
        "reference"; families: "prg", "planted").
      needs: keywords the runner supplies besides the config's (learners: "public",
        "instance", "params").
      expected: what docs/metrics.md's expected picture says of this learner beyond what its
        kind implies; the report lists every group where one does not hold.
    """

    constructor: Callable[..., Any]
    description: str
    kind: str
    needs: tuple[str, ...] = ()
    expected: tuple[Expectation, ...] = ()


Group = Mapping[str, Any]  # a summary group (`analysis.summary.summarize`)


@dataclasses.dataclass(frozen=True)
class Expectation:
    """One claim of the expected picture (docs/metrics.md) about a learner's summary groups.

    Attributes:
      claim: the claim in words, as the report lists it when it does not hold (or a function
        of the group that writes it).
      applies: `(group) -> bool`, the groups the claim speaks of.
      holds: `(group) -> bool`, whether the claim holds for such a group.
      largest_budget: judge only the largest budget run of each instance and learner entry
        (claims of the form "learned at these budgets"); otherwise every budget.
    """

    claim: str | Callable[[Group], str]
    applies: Callable[[Group], bool]
    holds: Callable[[Group], bool]
    largest_budget: bool = False


def lookup(registry: Mapping[str, Entry], what: str, name: str) -> Entry:
    """The entry of `name`; ValueError listing the known names."""
    if name not in registry:
        raise ValueError(f"{what} must be one of {', '.join(registry)}, got {name!r}")
    return registry[name]


def names(registry: Mapping[str, Entry], kind: str | None = None) -> tuple[str, ...]:
    """The registered names, all or those of one kind, in registration order."""
    return tuple(name for name, e in registry.items() if kind is None or e.kind == kind)


def create(registry: Mapping[str, Entry], what: str, name: str, kwargs: Mapping[str, Any]) -> Any:
    """`constructor(**kwargs)` after checking that every keyword is one it takes."""
    constructor = lookup(registry, what, name).constructor
    validation.check_known(name, dict(kwargs), inspect.signature(constructor).parameters)
    return constructor(**kwargs)
