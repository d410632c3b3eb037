"""The tuning protocol (docs/metrics.md, "Tuning protocol"): so that a failure belongs to the
learner and not to its hyperparameters.

A learner entry of a config may declare `tuning=dict(space={...}, budget=N)` (an override for a
family or block may replace it, or switch it off with `tuning=None`); `config.tuning` sets the
trial count, the same for every entry (the model is AlgoPerf's external-tuning
ruleset: a fixed number of trials from a declared space). For each block and sweep point the
entry runs on:

1. *Trials*: `trials` quasi-random points of the space (the Halton sequence, bases 2, 3, 5, ...,
   from its second point: deterministic, no seed), each a cell at the tuning budget on the
   block's *target*: its dictator control for a PRG block, else its main instance (F6). Trial
   cells are scored on a validation stream of the target (`split="validation"`: rows disjoint
   from the training and the test streams), never on the test set.
2. *Choice*: the trial with the best mean score over its runs (`acc01_cal` on fresh informative
   validation rows for a PRG family, its threshold chosen on a separate calibration stream;
   `−nmse` otherwise; a failed run scores worst; ties go to the lower trial).
3. *Frozen runs*: the chosen point, unchanged, on every variant of the block (PRG, null,
   dictator) at every budget of the entry, scored on the test stream like any cell.

Trial cells carry `tuning = {"trial", "point", "split"}`, frozen cells `tuning = {"frozen",
"point", "score", "trials", "space"}`; rows keep both in `row["cell"]`.

A space maps a learner keyword to `log(lo, hi)` (log-uniform), `uniform(lo, hi)` or
`choice(a, b, ...)` (Python literals).
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from scipy.stats import qmc

from hardnet.analysis.metrics import trial_score as score
from hardnet.run.grid_checks import check_mapping, check_positive_int, fail

SPACE_RE = re.compile(r"^\s*(log|uniform|choice)\((.*)\)\s*$")
ENTRY_KEYS = {"space", "budget"}
PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


@dataclasses.dataclass(frozen=True)
class Dim:
    """One dimension of a search space: `kind` "log", "uniform" or "choice"."""

    kind: str
    values: tuple[Any, ...]

    def at(self, u: float) -> Any:
        """The value at quantile `u` in [0, 1)."""
        if self.kind == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        lo, hi = self.values
        if self.kind == "log":
            return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
        return float(lo + u * (hi - lo))


def parse_space(path: str, space: Any) -> dict[str, Dim]:
    """The search space of an entry, validated (ValueError naming the field and the rule)."""
    space = check_mapping(path, space)
    if not space:
        fail(path, "must name at least one learner keyword")
    if len(space) > len(PRIMES):
        fail(path, f"at most {len(PRIMES)} dimensions, got {len(space)}")
    out = {}
    for name in sorted(space):
        text, where = space[name], f"{path}.{name}"
        match = SPACE_RE.match(text) if isinstance(text, str) else None
        if match is None:
            fail(
                where, f"must be 'log(lo, hi)', 'uniform(lo, hi)' or 'choice(a, ...)', got {text!r}"
            )
        kind, args = match.groups()
        try:
            values = ast.literal_eval(f"({args},)")
        except (ValueError, SyntaxError):
            fail(where, f"arguments must be Python literals, got {args!r}")
        if kind != "choice":
            ok = len(values) == 2 and all(isinstance(v, int | float) for v in values)
            if not ok or not values[0] < values[1] or (kind == "log" and values[0] <= 0):
                fail(where, f"{kind} needs two numbers lo < hi (lo > 0 for log), got {text!r}")
        out[name] = Dim(kind, tuple(values))
    return out


def halton(index: int, dims: int) -> list[float]:
    """Point `index` (≥ 1) of the Halton sequence in [0, 1)^dims, unscrambled: the radical
    inverse of `index` in base p for the first `dims` primes p (`scipy.stats.qmc.Halton`)."""
    sequence = qmc.Halton(d=dims, scramble=False)
    sequence.fast_forward(index)
    return [float(u) for u in sequence.random(1)[0]]


def points(space: Mapping[str, Dim], trials: int) -> list[dict[str, Any]]:
    """The `trials` points of the protocol: Halton points 1..trials mapped through the space."""
    names = list(space)
    return [
        {name: space[name].at(u) for name, u in zip(names, halton(t, len(names)), strict=True)}
        for t in range(1, trials + 1)
    ]


def check_entry(path: str, spec: Any, trials: int) -> tuple[dict[str, Dim], int, list[dict]]:
    """(space, tuning budget, trial points) of an entry's `tuning` field."""
    spec = check_mapping(path, spec, ENTRY_KEYS)
    if "space" not in spec or "budget" not in spec:
        fail(path, "needs 'space' and 'budget'")
    space = parse_space(f"{path}.space", spec["space"])
    budget = check_positive_int(f"{path}.budget", spec["budget"])
    return space, budget, points(space, trials)


def space_text(space: Mapping[str, Dim]) -> dict[str, str]:
    """The space as written: keyword -> `kind(values)`."""
    return {k: f"{d.kind}({', '.join(map(repr, d.values))})" for k, d in space.items()}


DEFAULT_TRIALS = 8


def check_trials(spec: Any) -> int:
    """`config.tuning.trials` (default 8), the trial count of every tuned entry."""
    spec = check_mapping("config.tuning", spec, {"trials"})
    return check_positive_int("config.tuning.trials", spec.get("trials", DEFAULT_TRIALS))


@dataclasses.dataclass(frozen=True)
class Member:
    """One grid point a tuned entry runs on: `make(extra, info, budgets)` builds its cells."""

    point: Any
    path: str
    kwargs: Mapping[str, Any]
    tuning: Mapping[str, Any]
    make: Callable[..., list[Any]]


@dataclasses.dataclass(frozen=True)
class Pending:
    """The frozen runs of one entry on one block and sweep point, waiting for their trials.

    `make(point, info)` builds the frozen cells from the chosen point and the tuning record."""

    key: tuple[str, ...]
    trial_ids: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]
    space: Mapping[str, str]
    prg: bool
    make: Callable[[Mapping[str, Any], dict[str, Any]], list[Any]]


def plan_group(
    key: tuple[str, ...], entry: Any, members: Sequence[Member], trials: int, check: Callable
) -> tuple[list[Any], Pending]:
    """The trial cells of a tuned entry on one block and sweep point (on the dictator control
    if the block has one, else on the main instance), and the frozen runs waiting for them."""
    by_variant = {m.point.variant: m for m in members}
    target = by_variant.get("dictator") or by_variant.get("main") or members[0]
    path = f"{target.path}.tuning"
    space, budget, pts = check_entry(path, target.tuning, trials)
    trial_cells = []
    for t, point in enumerate(pts, start=1):
        where = f"{path} trial {t}"
        reason = check(where, entry.learner, {**target.kwargs, **point}, target.point.inst)
        if reason is not None:
            fail(f"{where} ({point})", reason)
        info = {"trial": t, "point": point, "split": "validation"}
        trial_cells += target.make(point, info, [budget])

    def make(point: Mapping[str, Any], info: dict[str, Any]) -> list[Any]:
        return [cell for m in members for cell in m.make(point, info)]

    prg = target.point.inst.encoding is not None
    ids = tuple(c.cell_id for c in trial_cells)
    return trial_cells, Pending(key, ids, tuple(pts), space_text(space), prg, make)


def choose(pending: Pending, rows_of: Callable[[str], Sequence[Mapping[str, Any]] | None]):
    """(frozen cells, scores) once every trial of `pending` has rows, else None."""
    rows = [rows_of(cell_id) for cell_id in pending.trial_ids]
    if any(r is None for r in rows):
        return None
    scores = [score(r, pending.prg) for r in rows]
    best = max(range(len(scores)), key=lambda t: (scores[t], -t))
    info = {
        "frozen": best + 1,
        "point": dict(pending.points[best]),
        "score": scores[best] if math.isfinite(scores[best]) else None,  # None: all failed
        "trials": len(scores),
        "space": dict(pending.space),
    }
    return pending.make(pending.points[best], info), scores


def frozen_cells(
    pendings: Iterable[Pending], rows_of: Callable[[str], Sequence[Mapping[str, Any]] | None]
) -> tuple[list[Any], list[Pending]]:
    """(frozen cells of every pending whose trials are done, the pendings still waiting)."""
    cells, waiting = [], []
    for p in pendings:
        chosen = choose(p, rows_of)
        if chosen is None:
            waiting.append(p)
        else:
            cells += chosen[0]
    return cells, waiting
