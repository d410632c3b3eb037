"""Frozen suites: named setups, their roles, budgets and instance seeds, as data (docs/suites.md).

A suite (`hardnet/suites/<name>.json`) fixes what a result is measured on, so that two results
of the same suite version are comparable whatever version of hardnet or machine produced them:

    setup  = a planted family at fixed hyperparameters, with its roles: "main" (the planted
             network), and for PRG families "null" (random labels on the same inputs) and
             "dictator" (the learnable control), the grid's variants (hardnet.run.grid);
    tier   = instance seeds, a test size, a per-cell time cap and budgets per setup:
             "cpu" (2 cores, one learner in about 20 minutes), "hard" (10⁶ samples at n=128),
             "gpu" (the :gpu scale), "heldout" (the cpu tier, its seeds drawn at scoring time).

Every key of a run derives from the suite's seed (the run seed; `hardnet.run.runner`), except in
the heldout tier, whose run seed is `--suite_seed`. The fingerprints of its instances
(`<name>.fingerprints.json`, `hardnet.run.fingerprint`) pin the generators: `hardnet-suite
verify` recomputes them. The built-in learners' results on a suite (`<name>.reference.json`) are
the score card's reference. A suite whose `released` is false may still change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEFAULT = "hardnet-v1"
PRG_ROLES = ("main", "null", "dictator")
ROLE_NAMES = {"main": "PRG", "null": "null", "dictator": "dictator"}  # PRG setups' roles


@dataclasses.dataclass(frozen=True)
class Setup:
    """A planted instance and its roles: `hardnet.instances.make(family, **instance)`."""

    name: str
    title: str
    family: str
    instance: Mapping[str, Any]
    roles: tuple[str, ...]

    @property
    def prg(self) -> bool:
        """Whether the setup has PRG controls (null and dictator), hence a PRG verdict."""
        return "null" in self.roles

    def block(self, test_size: int | None = None) -> dict[str, Any]:
        """The setup as a grid block (`hardnet.run.grid`): the same cells and ids wherever it
        is used (the headline config, a score card)."""
        out = dict(family=self.family, fixed=dict(self.instance))
        if self.prg:
            out.update(null_control=True, dictator_control="dictator" in self.roles)
        if test_size is not None:
            out["test_size"] = test_size
        return out


@dataclasses.dataclass(frozen=True)
class Tier:
    """Where a suite is run: instance seeds, test size, per-cell cap (s), budgets per setup."""

    name: str
    about: str
    instance_seeds: tuple[int, ...]
    test_size: int
    cell_timeout_s: float
    budgets: Mapping[str, tuple[int, ...]]
    heldout: bool = False


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    version: int
    released: bool
    description: str
    seed: int
    setups: Mapping[str, Setup]
    tiers: Mapping[str, Tier]

    @property
    def label(self) -> str:
        return self.name if self.released else f"{self.name} (unreleased)"

    def tier(self, name: str) -> Tier:
        if name not in self.tiers:
            raise ValueError(
                f"suite {self.name} has no tier {name!r}; tiers: {', '.join(self.tiers)}"
            )
        return self.tiers[name]

    def fingerprints_digest(self) -> str:
        """12 hex digits of the SHA-256 of the stored fingerprints: what a leaderboard row was
        measured on ("none" before `hardnet-suite freeze`)."""
        path = self.path("fingerprints")
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "none"

    def path(self, what: str) -> Path:
        """`<name>.<what>.json` beside the suite: "fingerprints", "reference"."""
        return HERE / f"{self.name}.{what}.json"


def names() -> tuple[str, ...]:
    """The suites shipped with hardnet."""
    return tuple(sorted(p.stem for p in HERE.glob("*.json") if p.stem.count(".") == 0))


def load(name: str = DEFAULT) -> Suite:
    """The suite `name` (ValueError naming the shipped ones if unknown)."""
    if name not in names():
        raise ValueError(f"--suite: unknown suite {name!r}; shipped: {', '.join(names())}")
    data = json.loads((HERE / f"{name}.json").read_text())
    setups = {
        key: Setup(key, s["title"], s["family"], dict(s["instance"]), tuple(s["roles"]))
        for key, s in data["setups"].items()
    }
    tiers: dict[str, Tier] = {}
    for key, t in data["tiers"].items():
        base = {**data["tiers"][t["like"]], **t} if "like" in t else t
        tiers[key] = Tier(
            name=key,
            about=base["about"],
            instance_seeds=tuple(base["instance_seeds"]),
            test_size=int(base["test_size"]),
            cell_timeout_s=float(base["cell_timeout_s"]),
            budgets={k: tuple(v) for k, v in base["budgets"].items()},
            heldout=bool(base.get("heldout", False)),
        )
    for tier in tiers.values():
        unknown = set(tier.budgets) - set(setups)
        if unknown:
            raise ValueError(f"suite {name}: tier {tier.name} names unknown setups {unknown}")
    return Suite(
        name, int(data["version"]), bool(data["released"]), data["description"],
        int(data["seed"]), setups, tiers,
    )  # fmt: skip


def parse(spec: str) -> tuple[Suite, Tier]:
    """`NAME[:tier]` (tier default "cpu") -> (suite, tier); ValueError naming the choices."""
    name, _, tier = spec.partition(":")
    suite = load(name or DEFAULT)
    return suite, suite.tier(tier or "cpu")


def blocks(suite: Suite, setups: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Grid blocks of `setups` (default all), keyed by setup name."""
    chosen = list(suite.setups) if setups is None else list(setups)
    return {name: suite.setups[name].block() for name in chosen}


def config(
    suite: Suite, tier: Tier, learners: Mapping[str, Mapping[str, Any]], seed: int | None = None
) -> dict[str, Any]:
    """A grid config (`hardnet.run.grid`) running `learners` (config entries without budgets or
    seeds) on every setup of `tier` at its budgets, instance seeds and test size, one learner
    seed each. `seed` is the run seed: the suite's, or the heldout tier's `--suite_seed`."""
    entries = {}
    for key, entry in learners.items():
        overrides = {name: dict(budgets=list(b)) for name, b in tier.budgets.items()}
        entries[key] = {**entry, "blocks": list(tier.budgets), "overrides": overrides}
    return dict(
        instances={name: suite.setups[name].block() for name in tier.budgets},
        learners=entries,
        budgets=[min(min(b) for b in tier.budgets.values())],
        test_size=tier.test_size,
        instance_seeds=list(tier.instance_seeds),
        learner_seeds=1,
        suite=dict(name=suite.name, version=suite.version, tier=tier.name,
                   seed=suite.seed if seed is None else seed),
    )  # fmt: skip
