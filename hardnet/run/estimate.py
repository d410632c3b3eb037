"""Plan before running: each cell's memory and work, estimated without compiling anything.

    hardnet-bench --config=hardnet/configs/headline.py:gpu --workdir=W --dry_run

A cell's program (`hardnet.run.runner`) holds, at its peak,

    est_peak_bytes = base                                  process and runtime (CPU only)
                   + I · params                            the planted networks
                   + I · T · row · (SAMPLER_COPIES + C)    the test sets (drawn at once)
                   + I · N_held · (d + 1) · 4 · 2          training rows drawn in the program
                   + I · chunk · row · SAMPLER_COPIES      the sampler's temporaries
                   + I · J · work(N, d)                    the learner's working memory per run

with I instance seeds, J learner seeds, T test rows, `row` the bytes of one sampled row (x, y and
its meta, from `jax.eval_shape` of the instance's sampler), C = 2 on PRG families (the calibration
set of `acc01_cal`, drawn after the test set and held beside it, and the inputs of both concatenated
for the program; docs/metrics.md) and 0 elsewhere, N the budget, `N_held` = 0 for a learner that
streams its data (`fit_online`: every built-in learner; what it holds, e.g. sgd's finite set within
`hold_bytes`, is in its own estimate) and N otherwise, and `work(N, d)` the learner's own
`Learner.estimate` (one copy of the data where it declares none). Training sets are drawn in chunks
of `chunk` = `runner.SAMPLE_CHUNK` rows and concatenated (x and y only, twice: the chunks and their
concatenation). `SAMPLER_COPIES` bounds what a sampler holds while it draws, in units of its output
row (per-row keys, random bits, hidden pre-activations; measured: 3.8 on F6 at d=64, 21 on F3 at
n=128 with `xor_maj(5,7)`, whose dense smoothed first layer dominates). The host passes over the
training stream (the fresh-hyperedge check and the mean label of `fresh.train_stats`) run after the
program, `fresh.STATS_CHUNK` rows at a time, and do not add to its peak. `est_flops` is I · J times
the learner's flops. `base` is the resident size of a process that has imported hardnet and run a
tiny cell (`CPU_BASE_BYTES`, measured on the 2-core CPU machine, jax 0.10.2); on an accelerator the
device holds no such base. `tests/test_estimate.py` compares the estimate with the measured peak
resident size of a small and of a 10⁶-row cell.

I is per device: with several local devices the instance seeds are sharded over them. A cell
whose estimate exceeds the memory budget (`--memory_budget_gib`; default the memory the device
reports to the process that runs the cells, `probe.budget`, or `HARDNET_MAX_BYTES` on the CPU)
is refused before anything runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from hardnet.core import validation
from hardnet.run import probe, runner
from hardnet.run.grid import Cell

# VmHWM of a process that imported hardnet and ran a tiny cell (measured: 2 cores, jax 0.10.2).
CPU_BASE_BYTES = 430 * 2**20
SAMPLER_COPIES = 24


@dataclasses.dataclass(frozen=True)
class CellEstimate:
    """What one cell needs: peak memory (bytes), floating-point work, and whether it streams."""

    cell_id: str
    family: str
    learner: str
    budget: int
    num_runs: int
    est_peak_bytes: float
    est_flops: float
    streamed: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _nbytes(tree: Any) -> int:
    return sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in jax.tree.leaves(tree))


def cell_estimate(cell: Cell, base_bytes: float, devices: int = 1) -> CellEstimate:
    """The estimate of the module docstring for one cell on one of `devices` local devices,
    which share its instance seeds (I = ⌈seeds / devices⌉; shapes only: nothing runs)."""
    inst = cell.make_instance()
    key = jax.random.key(0)
    params = jax.eval_shape(inst.init, key)
    row = _nbytes(jax.eval_shape(lambda p: inst.sample(p, key, 1), params))
    try:
        learner = cell.make_learner(inst)
    except ValueError:  # a learner built from the planted params (the oracle): no extra work
        learner = None
    streamed = learner is not None and learner.fit_online is not None
    n_i, n_j = -(-len(cell.instance_seeds) // devices), len(cell.learner_seeds)
    d, budget = inst.input_dim, cell.budget
    if learner is not None and learner.estimate is not None:
        work, flops = learner.estimate(budget, d)
    else:
        work, flops = 4.0 * budget * d, float(budget * d)
    held = 0 if streamed else budget
    chunk = min(budget, runner.SAMPLE_CHUNK)
    sets = SAMPLER_COPIES + (2 if inst.encoding is not None else 0)  # + calibration (docstring)
    peak = base_bytes + n_i * (_nbytes(params) + cell.test_size * row * sets)
    peak += n_i * (held * (d + 1) * 4 * 2 + chunk * row * SAMPLER_COPIES)
    peak += n_i * n_j * work
    return CellEstimate(
        cell_id=cell.cell_id,
        family=cell.family,
        learner=cell.learner,
        budget=budget,
        num_runs=len(cell.instance_seeds) * n_j,
        est_peak_bytes=float(peak),
        est_flops=float(len(cell.instance_seeds) * n_j * flops),
        streamed=streamed,
    )


def make_plan(
    cells: Sequence[Cell],
    memory_budget: float | None = None,
    device: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`plan.json`: the device (`probe.probe()` of the process that runs the cells; this one's
    when None), its memory budget (`memory_budget`, else `probe.budget`: the device's
    `bytes_limit`, `HARDNET_MAX_BYTES` on the CPU), the totals and one estimate per cell, each
    per device: the instance seeds are sharded over the local devices (`runner`)."""
    device = probe.probe() if device is None else device
    on_cpu = device["platform"] == "cpu"
    base = float(CPU_BASE_BYTES) if on_cpu else 0.0
    if memory_budget is None:
        budget = probe.budget(device, validation.max_bytes())
    else:
        budget = float(memory_budget)
    devices = int(device.get("local_device_count") or 1)
    estimates = [cell_estimate(c, base, devices) for c in cells]
    peak = max((e.est_peak_bytes for e in estimates), default=0.0)
    return {
        "device": probe.describe(device),
        "device_memory_bytes": device.get("bytes_limit"),
        "memory_budget_bytes": budget,
        "totals": {
            "cells": len(estimates),
            "runs": sum(e.num_runs for e in estimates),
            "est_flops": sum(e.est_flops for e in estimates),
            "max_est_peak_bytes": peak,
            "over_budget": sum(e.est_peak_bytes > budget for e in estimates),
        },
        "cells": [e.to_json() for e in estimates],
    }


def over_budget(plan: dict[str, Any]) -> str | None:
    """One line naming the largest cell over the plan's memory budget, or None."""
    budget = plan["memory_budget_bytes"]
    worst = max(plan["cells"], key=lambda c: c["est_peak_bytes"], default=None)
    if worst is None or worst["est_peak_bytes"] <= budget:
        return None
    count = plan["totals"]["over_budget"]
    return (
        f"cell {worst['cell_id']} needs an estimated {worst['est_peak_bytes'] / 2**30:.3g} GiB, "
        f"over the memory budget of {budget / 2**30:.3g} GiB ({count} cell(s) over it); "
        "lower its budget or seeds, or raise --memory_budget_gib"
    )


def table(plan: dict[str, Any], top: int = 8) -> str:
    """A short text table: the totals and the `top` cells by estimated memory."""
    totals = plan["totals"]
    lines = [
        f"device {plan['device']}, memory budget {plan['memory_budget_bytes'] / 2**30:.3g} GiB; "
        f"{totals['cells']} cells, {totals['runs']} runs, {totals['est_flops']:.3g} flops, "
        f"largest cell {totals['max_est_peak_bytes'] / 2**30:.3g} GiB, "
        f"{totals['over_budget']} over budget",
        f"{'cell':60s} {'runs':>5s} {'GiB':>8s} {'flops':>9s} streamed",
    ]
    cells = sorted(plan["cells"], key=lambda c: -c["est_peak_bytes"])[:top]
    for c in cells:
        lines.append(
            f"{c['cell_id'][:60]:60s} {c['num_runs']:5d} {c['est_peak_bytes'] / 2**30:8.3f} "
            f"{c['est_flops']:9.2e} {'yes' if c['streamed'] else 'no'}"
        )
    return "\n".join(lines)
