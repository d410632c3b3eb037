"""Run a grid of benchmark cells into a workdir: the loop behind `hardnet-bench` and
`hardnet-score` (docs/manual.md, "Running the benchmark").

`run_grid(config, workdir, seed, shard_index, num_shards, ...)` plans the grid (`grid.plan`),
probes the device the cells will run on (`executors.device`), refuses a plan over the memory
budget, then runs this shard's unfinished cells with the chosen executor and writes each
finished cell's rows atomically (`results`), its TensorBoard logs and its log line; the frozen
runs of tuned entries follow their trials. What stops it before anything runs is a
`SessionError` with one line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from hardnet.core import textio
from hardnet.run import estimate, executors, grid, probe, progress, results, tblog, tuning, worker


class SessionError(ValueError):
    """A grid that cannot run as asked (config, device, memory budget, busy workdir)."""


# Row fields summarized per cell in the log line and TensorBoard hparams.
SUMMARY = ("acc01_cal", "auc", "adv", "adv_mean", "nmse", "acc01", "cosine_min")


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of the headline metrics over a cell's runs (NaNs ignored), and the failure count."""
    out: dict[str, float] = {"failed": float(sum(bool(r.get("failed")) for r in rows))}
    for name in SUMMARY:
        values = [r[name] for r in rows if isinstance(r.get(name), int | float)]
        values = [v for v in values if np.isfinite(v)]
        if values:
            out[name] = float(np.mean(values))
    return out


def _cell_text(cell: grid.Cell, summary: dict) -> str:
    metrics = " ".join(f"{k}={v:.3g}" for k, v in summary.items() if k != "failed")
    failed = f" failed={int(summary['failed'])}" if summary["failed"] else ""
    return f"{cell.cell_id} {metrics}{failed}"


def log_cell(workdir: str, cell: grid.Cell, rows: list[dict[str, Any]], summary: dict) -> None:
    """TensorBoard for one finished cell: its curves and hparams under `tb/<cell_id>/<learner>`
    and its final metrics against samples under `tb/by_samples/<series_id>`."""
    with tblog.CellWriter(workdir, cell.cell_id, cell.learner) as tb:
        tb.curves_from_rows(rows)
        params = {"family": cell.family, "learner": cell.learner, "budget": cell.budget}
        params.update(cell.instance_kwargs)
        tb.hparams(params, summary)
    tblog.samples_point(workdir, cell.series_id, cell.cell_id, cell.budget, summary)


def run_grid(
    config: Any,
    workdir: str,
    seed: int,
    shard_index: int,
    num_shards: int,
    executor: str = "local",
    tensorboard: bool = True,
    executor_options: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    memory_budget_gib: float | None = None,
    prog: str = "hardnet",
) -> int:
    """Run this shard's unfinished cells; returns the number of cells run.

    Per finished cell, in this order: TensorBoard (if enabled), then the cell's rows (atomic), then
    its log line; a run killed between the two writes redoes the cell and replaces its logs."""
    options = dict(executor_options or {})
    if executor == "local" and options.get("cell_timeout") is not None:
        options.setdefault("workdir", workdir)
    try:
        plan = grid.plan(config)
        cells = grid.shard(plan.cells, shard_index, num_shards)
        execute = executors.get(executor, **options)
    except ValueError as error:
        raise SessionError(str(error)) from error
    memory = None if memory_budget_gib is None else memory_budget_gib * 2**30
    device = _device(executor, options)
    try:
        plan_json = estimate.make_plan(cells, memory, device)
    except ValueError as error:  # an accelerator that reports no memory limit
        raise SessionError(str(error)) from error
    if dry_run:
        os.makedirs(workdir, exist_ok=True)
        path = os.path.join(workdir, "plan.json")
        textio.atomic_write_text(path, json.dumps(plan_json, indent=1, sort_keys=True) + "\n")
        print(estimate.table(plan_json), flush=True)
        if plan.pending:
            print(f"{prog}: plus the frozen runs of {len(plan.pending)} tuned entries, planned "
                  "after their trials (not estimated)", flush=True)  # fmt: skip
        print(f"{prog}: plan written to {path} (dry run: nothing compiled or run)", flush=True)
        return 0
    if (refusal := estimate.over_budget(plan_json)) is not None:
        raise SessionError(refusal)
    writer = jax.process_index() == 0
    store = results.open_workdir(
        workdir,
        {"config": config.to_dict() if hasattr(config, "to_dict") else config, "seed": seed},
        cell_order=[c.cell_id for c in plan.cells],
        write_meta=writer,
        device=device,
    )
    try:
        with store.run_lock(shard_index, num_shards):
            shard = f"{shard_index}/{num_shards}"
            log_tb = writer and tensorboard
            ran = _run_cells(store, plan, cells, execute, seed, shard, log_tb, writer, prog)
            if not plan.pending:
                return ran
            return ran + _run_frozen(
                store, plan, execute, seed, shard_index, num_shards, log_tb, prog
            )
    except results.WorkdirBusy as error:
        raise SessionError(str(error)) from error


def _device(executor: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """`probe.probe()` of a process that will run the cells (`executors.device`), checked
    against the `--jax_platforms` asked for; one line and exit 2 where it cannot start there."""
    asked = (options.get("jax_config") or executors.jax_options()).get("jax_platforms")
    try:
        device = executors.device(executor, **options)
        probe.check(device, asked)
    except (worker.WorkerStartFailed, ValueError) as error:
        raise SessionError(str(error)) from error
    return device


def _run_cells(
    store, plan, cells, execute, seed: int, shard: str, tensorboard: bool, writer: bool, prog: str
) -> int:
    """The loop of `run_grid` over this shard's unfinished cells, under the run lock."""
    workdir = str(store.root)
    todo = [c for c in cells if not store.done(c.cell_id)]
    print(
        f"{prog}: {len(plan.cells)} cells ({len(plan.skipped)} skipped), shard "
        f"{shard}: {len(cells)}, {len(cells) - len(todo)} already done",
        flush=True,
    )
    for skip in plan.skipped:
        print(f"  skipped {skip.entry} on {skip.family}: {skip.reason}", flush=True)
    bar = progress.Progress(len(todo))
    bar.draw()
    for cell, rows in execute(todo, seed):
        summary = summarize(rows)
        if tensorboard:
            log_cell(workdir, cell, rows, summary)
        if writer:
            store.write_cell(cell.cell_id, rows)
        bar.advance(_cell_text(cell, summary))
        # test hook: a pause after each cell, so a test can interrupt the run between cells
        time.sleep(float(os.environ.get("HARDNET_TEST_PAUSE_S") or 0))
    return len(todo)


def _run_frozen(
    store,
    plan,
    execute,
    seed: int,
    shard_index: int,
    num_shards: int,
    tensorboard: bool,
    prog: str,
) -> int:
    """The frozen runs of tuned entries whose trials are all done (run/tuning.py), sharded like
    the grid; entries still waiting for another shard's trials are named, and a rerun runs them."""

    def rows_of(cell_id: str) -> list[dict[str, Any]] | None:
        return store.read_cell(cell_id) if store.done(cell_id) else None

    frozen, waiting = tuning.frozen_cells(plan.pending, rows_of)
    for p in waiting:
        print(f"{prog}: {'/'.join(p.key)}: waiting for its tuning trials; rerun when the other "
              "shards are done", flush=True)  # fmt: skip
    cells = grid.shard(frozen, shard_index, num_shards)
    frozen_plan = grid.Plan(tuple(frozen), ())
    shard = f"{shard_index}/{num_shards} (frozen after tuning)"
    writer = jax.process_index() == 0
    return _run_cells(store, frozen_plan, cells, execute, seed, shard, tensorboard, writer, prog)
