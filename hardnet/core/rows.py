"""The result row: one run (instance seed × learner seed) of one cell (docs/metrics.md).

`Row` declares every field a row may hold; the runner writes rows, the store (`run/results.py`)
keeps them as JSON lines, and the TensorBoard writer, the summary and the report read them.
Every row has the identity and cost fields; a failed run (`failed` and `fail_reason`) may have no
scores; PRG families add the fresh-input fields, families with teacher directions the cosines.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

SCORES = ("adv", "adv_mean", "acc01", "auc", "acc01_cal", "nmse", "mse_all")  # per group


class Row(TypedDict, total=False):
    """One run's result.

    Identity: `cell_id`, `cell` (`Cell.to_json()`), `seed_base` (the run seed),
    `instance_seed`, `learner_seed`; what the pieces say of themselves: `learner_kind`
    ("generic", "control", "reference"), `family_kind` ("prg", "planted"),
    `informative_fraction` (exact probability that a sampled row is informative).
    Cost: `samples` (= budget), `num_runs` (runs sharing the program), `compile_s`, `run_s`;
    where: `backend` and `device_kind` of the process that ran it (absent on failed rows), and
    for a learner from any framework `framework` ("pytorch", "scikit-learn", "numpy", ...).
    Outcome: `failed`, `fail_reason`, `flags` (the learner's own diagnosis, scored anyway).
    Scores (`metrics.score_run`): `mse_all`, `nmse`; PRG families: `mse_inf`, `mse_fresh`,
    `num_fresh`, `frac_test_seen`, `fresh_check` ("exact" or "bound"), `fresh_bound`, `adv`,
    `adv_mean`, `acc01`, and the calibration-free `auc`, `acc01_cal` with its `threshold_cal`
    (docs/metrics.md); teacher alignment: `cosine_min`, `cosine_mean`. `curves`: per-step
    values the learner logs (`Learner.curves`), with `step` where it logs it.
    """

    cell_id: str
    cell: dict[str, Any]
    seed_base: int
    instance_seed: int
    learner_seed: int
    learner_kind: str | None
    family_kind: str | None
    informative_fraction: float | None
    samples: int
    num_runs: int
    compile_s: float
    run_s: float
    backend: str
    device_kind: str
    framework: str
    failed: bool
    fail_reason: str | None
    flags: str | None
    mse_all: float
    nmse: float
    mse_inf: float
    mse_fresh: float
    num_fresh: int
    frac_test_seen: float
    fresh_check: str
    fresh_bound: float | None
    adv: float
    adv_mean: float
    acc01: float
    auc: float
    acc01_cal: float
    threshold_cal: float
    cosine_min: float
    cosine_mean: float
    curves: dict[str, list[float]]


def identity(cell: Any, seed_base: int, facts: dict[str, Any]) -> Row:
    """The fields every row of `cell` shares: identity, the pieces' kinds (`facts`, from
    `Cell.facts()`), and the cell's sample count and number of runs."""
    runs = len(cell.instance_seeds) * len(cell.learner_seeds)
    return Row(
        cell_id=cell.cell_id, cell=cell.to_json(), seed_base=seed_base, **facts,
        samples=cell.budget, num_runs=runs,
    )  # fmt: skip


def error_reason(error: BaseException) -> str:
    """`Type: message` of an exception on one line, at most 500 characters (`fail_reason`)."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:500]


def failed_rows(cell: Any, seed_base: int, facts: dict[str, Any], reason: str) -> list[Row]:
    """One failed row per (instance seed, learner seed) of `cell`: identity, no scores, no
    timings (NaN), `failed` and `fail_reason` (a cell that raised, hung or crashed)."""
    base = identity(cell, seed_base, facts)
    base.update(compile_s=math.nan, run_s=math.nan, failed=True, fail_reason=reason)
    return [
        Row(**base, instance_seed=i, learner_seed=j)
        for i in cell.instance_seeds
        for j in cell.learner_seeds
    ]
