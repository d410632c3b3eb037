"""Benchmark grids: a config expanded into cells, validated before anything compiles.

A config (an `ml_collections.ConfigDict` from `hardnet/configs/*.py`, or a plain dict) is a grid:

    config.instances.<block> = dict(
        family="prg_gauss3_smoothed",          # registry id (hardnet.instances.families())
        fixed=dict(predicate="tsa"),           # keyword arguments passed as they are
        sweep=dict(n=[32, 64]),                # lists: the cartesian product (keys sorted)
        null_control=True,                     # PRG families: add the `null=True` variant
        dictator_control=True,                 # PRG families: add `predicate="dictator"`, same k
        test_size=4096,                        # optional, default config.test_size
    )
    config.learners.<entry> = dict(
        name="sgd",                            # registry id; default: the entry's key
        kwargs=dict(width=64),                 # hyperparameters (learners.make keywords)
        blocks=["f6"],                         # optional: only these blocks (default: all)
        variants=["main", "null"],             # optional: only these variants (default: all)
        budgets=[2000, 20000],                 # optional, default config.budgets
        instance_seeds=5, learner_seeds=3,     # optional, default config.*_seeds
        overrides={"easy_depth2": dict(kwargs=dict(steps=500)), "f3": dict(budgets=[512])},
    )
    config.budgets = [2000, 20000]             # training-set sizes (samples)
    config.test_size = 4096
    config.instance_seeds = 5                  # an int S means seeds 0..S-1, or a list of ints
    config.learner_seeds = 3

`overrides` are keyed by family id or block name; a block's entry wins over its family's, and
`kwargs` merge into the entry's kwargs (the other fields replace). Other top-level fields (runner
settings) are ignored here.

A *cell* is one (instance, learner, budget): it trains all its seeds (instance seeds × learner
seeds) in one vmapped program, so seeds are not separate cells. `expand` returns the cells in a
deterministic order: blocks by name, sweep points in product order, variants main/null/dictator,
learner entries by name, budgets ascending; identical cells (same hash) are kept once. Each has
a filesystem-safe `cell_id`: a readable prefix and 12 hex digits of the SHA-256 of the canonical
JSON of what determines its results (family, validated instance config, learner name and its
keyword arguments as written, budget, test size, seed lists).

`validate` (also run by `expand`) makes every instance and learner with `hardnet.instances.make`
and `hardnet.learners.make`, which validate without compiling, and raises `ValueError` with one
line naming the config field and value. Structure-aware controls (`brute_force`, `gf2`) get
`public=Public.of(instance)`; where they do not apply (a non-PRG family, or the control's own
limit, e.g. brute force at n > 24) the cell is *skipped* with the reason (`Plan.skipped`), as
long as the same keywords are accepted on a small PRG instance (else it is a config error).
`trivial` is made with `instance=`; `oracle` needs the planted params, so only its name and the
absence of keywords are checked here.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from hardnet import instances, learners
from hardnet.core.base import Instance, Learner, Params
from hardnet.core.textio import canonical, slug
from hardnet.run import tuning
from hardnet.run.grid_checks import (
    LearnerCheck,
    LearnerEntry,
    check_budgets,
    check_mapping,
    check_positive_int,
    check_seeds,
    fail,
    learner_entries,
    make_learner,
    plain,
)
from hardnet.run.points import GridPoint, grid_points


@dataclasses.dataclass(frozen=True)
class Cell:
    """One benchmark cell: an instance × a learner × a budget, with all its seeds.

    `instance_kwargs` is the validated instance config (defaults filled in):
    `hardnet.instances.make(family, **instance_kwargs)` rebuilds the instance. `learner_kwargs`
    are the keywords as written in the config (overrides merged), without `public`, `instance`
    and `params`, which `make_learner` adds.
    """

    cell_id: str
    block: str
    variant: str
    family: str
    instance_kwargs: Mapping[str, Any] = dataclasses.field(hash=False)
    entry: str
    learner: str
    learner_kwargs: Mapping[str, Any] = dataclasses.field(hash=False)
    budget: int
    test_size: int
    instance_seeds: tuple[int, ...]
    learner_seeds: tuple[int, ...]
    tuning: Mapping[str, Any] | None = dataclasses.field(default=None, hash=False)

    def make_instance(self) -> Instance:
        return instances.make(self.family, **self.instance_kwargs)

    def make_learner(self, instance: Instance | None = None, params: Params = None) -> Learner:
        """The learner; controls need `instance` (and `oracle` the planted `params`)."""
        return make_learner(self.learner, dict(self.learner_kwargs), instance, params)

    def facts(self, instance: Instance | None = None) -> dict[str, Any]:
        """What the cell's pieces say of themselves, for its rows (`core.rows.Row`): the
        learner's and the family's registry kinds, and the instance's exact informative
        fraction; None for what cannot be looked up (a failed cell's rows are written anyway)."""

        def attempt(get: Any) -> Any:
            try:
                return get()
            except ValueError:
                return None

        inst = instance if instance is not None else attempt(self.make_instance)
        return {
            "learner_kind": attempt(lambda: learners.entry(self.learner).kind),
            "family_kind": attempt(lambda: instances.kind(self.family)),
            "informative_fraction": None if inst is None else float(inst.informative_fraction),
        }

    @property
    def series_id(self) -> str:
        """The id shared by the cells that differ only in budget (a learning curve against
        samples): the cell id's readable prefix and 8 hex digits of the rest of its content."""
        content = {k: v for k, v in self.to_json().items() if k not in ("cell_id", "budget")}
        digest = hashlib.sha256(canonical(content).encode()).hexdigest()[:8]
        return f"{self.cell_id.rsplit(f'-b{self.budget}-', 1)[0]}-{digest}"

    def to_json(self) -> dict[str, Any]:
        """The full cell parameters, JSON-serializable (for results rows)."""
        out = dataclasses.asdict(self)
        out["instance_kwargs"] = dict(self.instance_kwargs)
        out["learner_kwargs"] = dict(self.learner_kwargs)
        out["instance_seeds"] = list(self.instance_seeds)
        out["learner_seeds"] = list(self.learner_seeds)
        if self.tuning is None:  # untuned cells keep the fields (and ids) they always had
            del out["tuning"]
        return out

    @property
    def split(self) -> str:
        """ "validation" for a tuning trial (scored on a validation stream), else "test"."""
        return (self.tuning or {}).get("split", "test")


@dataclasses.dataclass(frozen=True)
class Skip:
    """A (block, variant, instance, learner entry) the grid names but that does not apply."""

    block: str
    variant: str
    family: str
    instance_kwargs: Mapping[str, Any] = dataclasses.field(hash=False)
    entry: str
    learner: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """The cells to run (tuning trials included), the skipped combinations, and the frozen runs
    of tuned entries that wait for their trials (`tuning.frozen_cells`)."""

    cells: tuple[Cell, ...]
    skipped: tuple[Skip, ...]
    pending: tuple[tuning.Pending, ...] = ()


# ----------------------------------------------------------------------------------------------
# Expansion


def _settings(entry: LearnerEntry, point: GridPoint, defaults: dict) -> tuple[str, dict, dict]:
    """(config path, learner keywords, budgets and seeds) of an entry on one instance: the
    entry's own values, then its override for the family, then for the block (the block wins)."""
    kwargs = check_mapping(f"{entry.path}.kwargs", entry.spec.get("kwargs"))
    fields = {k: entry.spec.get(k) for k in ("budgets", "instance_seeds", "learner_seeds")}
    fields["tuning"] = entry.spec.get("tuning")
    opath = entry.path
    for key in (point.inst.family, point.block):
        if key in entry.overrides:
            over = entry.overrides[key]
            opath = f"{entry.path}.overrides.{key}"
            kwargs.update(check_mapping(f"{opath}.kwargs", over.get("kwargs")))
            fields.update({k: v for k, v in over.items() if k != "kwargs"})
    out = dict(defaults)
    if fields["budgets"] is not None:
        out["budgets"] = check_budgets(f"{opath}.budgets", fields["budgets"])
    for name in ("instance_seeds", "learner_seeds"):
        if fields[name] is not None:
            out[name] = check_seeds(f"{opath}.{name}", fields[name])
    out["tuning"] = fields["tuning"]  # None: not tuned here
    return opath, kwargs, out


def plan(config: Any) -> Plan:
    """Validate `config` and expand it into cells (and skipped combinations)."""
    cfg = plain(config)
    if not isinstance(cfg, dict):
        fail("config", f"must be a ConfigDict or mapping, got {type(config).__name__}")
    blocks = check_mapping("config.instances", cfg.get("instances"))
    entries = check_mapping("config.learners", cfg.get("learners"))
    if not blocks:
        fail("config.instances", "empty grid: no instance blocks")
    if not entries:
        fail("config.learners", "empty grid: no learners")
    defaults = {
        "budgets": check_budgets("config.budgets", cfg.get("budgets")),
        "instance_seeds": check_seeds("config.instance_seeds", cfg.get("instance_seeds")),
        "learner_seeds": check_seeds("config.learner_seeds", cfg.get("learner_seeds")),
    }
    test_size = check_positive_int("config.test_size", cfg.get("test_size"))
    points, resolved = grid_points(blocks, test_size), learner_entries(entries, blocks)

    trials = tuning.check_trials(cfg.get("tuning"))
    check = LearnerCheck()
    cells: dict[str, Cell] = {}
    skipped, tuned = [], {}
    for point in points:
        inst = point.inst
        for entry in resolved:
            if not entry.applies(point):
                continue
            opath, kwargs, settings = _settings(entry, point, defaults)
            reason = check(opath, entry.learner, kwargs, inst)
            if reason is not None:
                skipped.append(
                    Skip(point.block, point.variant, inst.family, dict(inst.config), entry.name,
                         entry.learner, reason)
                )  # fmt: skip
                continue
            make = functools.partial(_cells_of, point, entry, kwargs, settings)
            if settings["tuning"] is not None:  # run after its trials (run/tuning.py)
                key = (entry.name, point.block, str(point.sweep))
                member = tuning.Member(point, opath, kwargs, settings["tuning"], make)
                tuned.setdefault(key, []).append(member)
                continue
            for cell in make():
                cells.setdefault(cell.cell_id.rsplit("-", 1)[1], cell)
    pending = []
    for key, members in tuned.items():
        entry = next(e for e in resolved if e.name == key[0])
        trial_cells, waiting = tuning.plan_group(key, entry, members, trials, check)
        for cell in trial_cells:
            cells.setdefault(cell.cell_id.rsplit("-", 1)[1], cell)
        pending.append(waiting)
    if not cells:
        fail("config", "empty grid: no (instance, learner, budget) cell applies")
    return Plan(tuple(cells.values()), tuple(skipped), tuple(pending))


def _cells_of(
    point: GridPoint,
    entry: LearnerEntry,
    kwargs: dict[str, Any],
    settings: dict[str, Any],
    extra: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    budgets: Sequence[int] | None = None,
) -> list[Cell]:
    """The cells of an entry on one grid point: one per budget (the entry's, or `budgets`), with
    the keywords `extra` (a tuning point) over the entry's and the tuning record `info`."""
    return [
        _cell(
            point.block,
            point.variant,
            point.inst,
            entry.name,
            entry.learner,
            {**kwargs, **(extra or {})},
            budget,
            point.test_size,
            settings["instance_seeds"],
            settings["learner_seeds"],
            info,
        )
        for budget in (settings["budgets"] if budgets is None else budgets)
    ]


def _cell(
    block: str,
    variant: str,
    inst: Instance,
    entry: str,
    learner: str,
    kwargs: dict[str, Any],
    budget: int,
    test_size: int,
    instance_seeds: tuple[int, ...],
    learner_seeds: tuple[int, ...],
    tuning_info: Mapping[str, Any] | None = None,
) -> Cell:
    inst_config = plain(dict(inst.config))
    content = {
        "family": inst.family,
        "instance": inst_config,
        "learner": learner,
        "learner_kwargs": plain(kwargs),
        "budget": budget,
        "test_size": test_size,
        "instance_seeds": list(instance_seeds),
        "learner_seeds": list(learner_seeds),
    }
    if tuning_info is not None:
        content["tuning"] = plain(dict(tuning_info))
    digest = hashlib.sha256(canonical(content).encode()).hexdigest()[:12]
    parts = [block, variant] if variant != "main" else [block]
    if inst.encoding is not None:
        parts.append(f"n{inst.encoding.n}")
    prefix = slug(".".join(parts))[:60]
    cell_id = f"{prefix}-{slug(entry)[:24]}-b{budget}-{digest}"
    return Cell(
        cell_id=cell_id,
        block=block,
        variant=variant,
        family=inst.family,
        instance_kwargs=inst_config,
        entry=entry,
        learner=learner,
        learner_kwargs=plain(kwargs),
        budget=budget,
        test_size=test_size,
        instance_seeds=instance_seeds,
        learner_seeds=learner_seeds,
        tuning=None if tuning_info is None else plain(dict(tuning_info)),
    )


def validate(config: Any) -> Plan:
    """Check `config` before anything compiles; ValueError (one line, naming the field) if bad."""
    return plan(config)


def expand(config: Any) -> list[Cell]:
    """The cells of `config`, validated, in a deterministic order."""
    return list(plan(config).cells)


def shard(cells: Sequence[Cell], shard_index: int, num_shards: int) -> list[Cell]:
    """Round-robin split of `cells` (in `expand` order): shard i gets cells i, i+N, i+2N, ..."""
    if isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be an integer >= 1, got {num_shards!r}")
    if (
        isinstance(shard_index, bool)
        or not isinstance(shard_index, int)
        or not 0 <= shard_index < num_shards
    ):
        raise ValueError(
            f"shard_index must be an integer with 0 <= shard_index < num_shards={num_shards}, "
            f"got {shard_index!r}"
        )
    return list(cells[shard_index::num_shards])
