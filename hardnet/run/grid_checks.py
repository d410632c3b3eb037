"""Validation helpers of `hardnet.run.grid`: config values (mappings, budgets, seeds) and learners.

Every failure is a `ValueError` with one line: the config path, then the rule and the value.
`LearnerCheck` makes each (learner, keywords, instance) once with `hardnet.learners.make` (which
validates without compiling) and returns None or the reason to skip the cell (a structure-aware
control where it does not apply: no public PRG encoding, or over its own limit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hardnet import instances, learners
from hardnet.core.base import Instance, Learner, Params
from hardnet.core.textio import canonical

VARIANTS = ("main", "null", "dictator")
ENTRY_KEYS = {
    "name",
    "kwargs",
    "blocks",
    "variants",
    "budgets",
    "instance_seeds",
    "learner_seeds",
    "overrides",
    "tuning",
}
OVERRIDE_KEYS = {"kwargs", "budgets", "instance_seeds", "learner_seeds", "tuning"}


def fail(path: str, message: Any) -> None:
    text = " ".join(str(message).split())
    raise ValueError(f"{path}: {text}")


def plain(value: Any) -> Any:
    """ConfigDicts, mappings and tuples as plain dicts and lists."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def check_mapping(path: str, value: Any, allowed: set[str] | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fail(path, f"must be a mapping, got {value!r}")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            fail(
                path,
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            )
    return dict(value)


def check_positive_int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        fail(path, f"must be a positive integer, got {value!r}")
    if value < 1:
        fail(path, f"must be a positive integer, got {value!r}")
    return int(value)


def check_budgets(path: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        fail(path, f"must be a non-empty list of positive sample counts, got {value!r}")
    budgets = [check_positive_int(f"{path}[{i}]", b) for i, b in enumerate(value)]
    return tuple(sorted(set(budgets)))


def check_seeds(path: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, bool):
        fail(path, f"must be a count >= 1 or a list of seeds, got {value!r}")
    if isinstance(value, int | float):
        return tuple(range(check_positive_int(path, value)))
    if not isinstance(value, list) or not value:
        fail(path, f"must be a count >= 1 or a non-empty list of seeds, got {value!r}")
    seeds = []
    for i, s in enumerate(value):
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            fail(f"{path}[{i}]", f"a seed must be a non-negative integer, got {s!r}")
        seeds.append(int(s))
    if len(set(seeds)) != len(seeds):
        fail(path, f"seeds must be distinct, got {value!r}")
    return tuple(seeds)


def make_learner(
    name: str, kwargs: dict[str, Any], instance: Instance | None, params: Params = None
) -> Learner:
    """The learner with what its registry entry needs (`hardnet.learners.make_for`)."""
    return learners.make_for(name, kwargs, instance, params)


class LearnerCheck:
    """Validates (learner, kwargs, instance) once; returns None or the reason to skip."""

    def __init__(self) -> None:
        self._seen: dict[str, str | None] = {}

    def __call__(self, path: str, name: str, kwargs: dict[str, Any], inst: Instance) -> str | None:
        needs = learners.entry(name).needs
        key = canonical([name, kwargs, inst.id if needs else None])
        if key not in self._seen:
            self._seen[key] = self._check(path, name, kwargs, inst)
        return self._seen[key]

    @staticmethod
    def _check(path: str, name: str, kwargs: dict[str, Any], inst: Instance) -> str | None:
        where = f"{path} ({name} with {canonical(kwargs)})"
        for reserved in learners.KNOWLEDGE:
            if reserved in kwargs:
                fail(f"{path}.kwargs.{reserved}", "is supplied by the runner, not the config")
        needs = learners.entry(name).needs
        if "params" in needs:  # built inside the cell's program from the planted params
            if kwargs:
                fail(f"{path}.kwargs", f"{name} takes no keywords here, got {sorted(kwargs)}")
            return None
        if "public" in needs:
            if inst.encoding is None:
                reason = f"{name} needs a public PRG encoding; {inst.family} has none"
            else:
                try:
                    learners.make_for(name, kwargs, inst)
                    return None
                except ValueError as e:
                    reason = " ".join(str(e).split())
            try:  # the same keywords on a small PRG: an error here is the config's
                learners.make_for(name, kwargs, instances.small_prg())
            except ValueError as e:
                fail(where, e)
            return reason
        try:
            learners.make_for(name, kwargs, inst)
        except ValueError as e:
            fail(where, e)
        return None


@dataclasses.dataclass(frozen=True)
class LearnerEntry:
    """One validated learner entry of the config (`config.learners.<name>`)."""

    name: str
    path: str
    learner: str
    spec: dict[str, Any]
    blocks: list[str] | None
    variants: list[str]
    overrides: dict[str, Any]

    def applies(self, point: Any) -> bool:
        """Whether the entry runs on a grid point (its blocks and variants)."""
        in_block = self.blocks is None or point.block in self.blocks
        return in_block and point.variant in self.variants


def learner_entries(entries: dict[str, Any], blocks: dict[str, Any]) -> list[LearnerEntry]:
    """The learner entries, validated against the registry, the blocks and the variants."""
    out = []
    for ename in sorted(entries):
        path = f"config.learners.{ename}"
        spec = check_mapping(path, entries[ename], ENTRY_KEYS)
        name = spec.get("name", ename)
        if name not in learners.names():
            fail(f"{path}.name", f"unknown learner {name!r}; known: {', '.join(learners.names())}")
        only = spec.get("blocks")
        if only is not None:
            if not isinstance(only, list) or not only:
                fail(f"{path}.blocks", f"must be a non-empty list of block names, got {only!r}")
            for b in only:
                if b not in blocks:
                    known = ", ".join(sorted(blocks))
                    fail(f"{path}.blocks", f"unknown block {b!r}; blocks: {known}")
        variants = spec.get("variants") or list(VARIANTS)
        for v in variants:
            if v not in VARIANTS:
                fail(f"{path}.variants", f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
        overrides = check_mapping(f"{path}.overrides", spec.get("overrides"))
        for key, value in overrides.items():
            if key not in blocks and key not in instances.families():
                fail(f"{path}.overrides", f"{key!r} is neither a block nor a family")
            check_mapping(f"{path}.overrides.{key}", value, OVERRIDE_KEYS)
        out.append(LearnerEntry(ename, path, name, spec, only, variants, overrides))
    return out
