"""Executors: how the cells of a grid are run. Each yields `(cell, rows)` as cells finish.

The driver (`hardnet.cli.bench.run_grid`) writes every yielded cell to the workdir
(`hardnet.run.results`), so resume semantics do not depend on the executor: a cell is done once its
`cells/<cell_id>.json` exists, whichever executor ran it, and `results.jsonl` lists the cells in
the plan's order whatever the order they finished in.

- `local`: the cells one after another (`hardnet.run.runner.run_cell`); each cell already trains all
  its seeds in one program sharded over the local devices. With a `cell_timeout` (the default of
  `hardnet-bench`) each cell runs in a killable worker process (`hardnet.run.worker`): a cell past
  its time limit, or one that crashes the worker, becomes failed rows with the reason and the
  run goes on. `cell_timeout=None` runs the cells in this process (no watchdog).
- `ray`: each cell is one Ray task (`pip install 'hardnet[ray]'`) on an existing cluster
  (`--ray_address=auto` on a node of it, or `ray://head:10001` through Ray Client), or on a
  local Ray instance started for the run when no address is given:

      hardnet-bench --config=hardnet/configs/headline.py:gpu --workdir=/shared/headline \
          --executor=ray --ray_address=auto --ray_num_cpus=4 --ray_num_gpus=1

  Only this driver writes the workdir; workers return the rows, so the workdir need not be
  visible from the workers, but hardnet (the same version) must be installed on them. At most
  `max_pending` tasks are submitted at a time (default: twice what the cluster can run at once
  when the run starts) and finished cells are yielded as they complete (`ray.wait`), so an
  interrupted run keeps every cell it received. A task that fails (an exception outside the
  training step, which `run_cell` records itself; a worker or node that died after Ray's
  retries) gives failed rows for all the cell's runs, with the reason, as `run_cell` does for
  an exception while training; the run goes on. The driver's values of `JAX_OPTIONS` (e.g.
  `--jax_enable_x64`, `--jax_platforms`) are applied in each task, so a cell's rows equal the
  local executor's. With `--ray_num_gpus=0`, Ray hides the GPUs from the tasks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from hardnet.core import rows as core_rows
from hardnet.run import probe, runner, worker
from hardnet.run.grid import Cell

Rows = list[dict[str, Any]]
Executor = Callable[[Sequence[Cell], int], Iterator[tuple[Cell, Rows]]]

# jax options that can change a cell's rows: the driver's values are set in every Ray task.
JAX_OPTIONS = (
    "jax_enable_x64",
    "jax_platforms",
    "jax_default_matmul_precision",
    "jax_default_prng_impl",
    "jax_threefry_partitionable",
    "jax_numpy_rank_promotion",
    "jax_numpy_dtype_promotion",
    "jax_debug_nans",
    "jax_disable_jit",
)
RAY_MISSING = "--executor=ray needs the `ray` extra: pip install 'hardnet[ray]'"


def jax_options() -> dict[str, Any]:
    """This process's values of `JAX_OPTIONS` (applied in workers and Ray tasks)."""
    import jax

    return {name: getattr(jax.config, name) for name in JAX_OPTIONS}


def local(
    cells: Sequence[Cell],
    seed: int,
    *,
    workdir: str | None = None,
    cell_timeout: float | None = None,
    preload: Sequence[str] = (),
    jax_config: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Cell, Rows]]:
    """Run `cells` in order: in a watched worker process when `cell_timeout` is set (seconds;
    stacks and logs go under `workdir`), else in this process. `preload`: config files the
    worker imports first (they may register learners); `jax_config`: the worker's jax options
    (default: this process's `jax_options()`)."""
    if cell_timeout is None:
        caches = runner.Caches()
        for cell in cells:
            yield cell, runner.run_cell(cell, seed_base=seed, caches=caches)
        return
    if workdir is None:
        raise ValueError("the local executor needs a workdir when cell_timeout is set")
    with worker.Worker(workdir, jax_config or jax_options(), preload) as proc:
        for cell in cells:
            try:
                rows = proc.run(cell, seed, cell_timeout)
            except (worker.CellTimeout, worker.WorkerCrashed) as error:
                rows = failed_rows(cell, seed, str(error))
            except Exception as error:  # raised by run_cell outside training: failed rows
                rows = failed_rows(cell, seed, _reason(error))
            yield cell, rows


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """Options of the `ray` executor (the `--ray_*` flags of `hardnet-bench`).

    address: the cluster (`auto`, `host:6379`, `ray://host:10001`); None starts a local instance.
    num_cpus, num_gpus: the resources each cell's task asks for (fractions allowed).
    max_pending: the most tasks submitted and not yet received; 0 means twice the number of
        tasks the cluster can run at once when the run starts (at least 2).
    local_cpus: the CPUs of the local instance (0: all cores); only without `address`.
    """

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_pending: int = 0
    local_cpus: int = 0

    def __post_init__(self) -> None:
        for name in ("num_cpus", "num_gpus"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"--ray_{name} must be a finite number >= 0, got {value!r}")
        for name in ("max_pending", "local_cpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"--ray_{name} must be an integer >= 0, got {value!r}")
        if self.address is not None and not (isinstance(self.address, str) and self.address):
            raise ValueError(f"--ray_address must be a non-empty string, got {self.address!r}")
        if self.address is not None and self.local_cpus:
            raise ValueError(
                "--ray_local_cpus sizes the local Ray instance; it must be 0 with --ray_address, "
                f"got {self.local_cpus}"
            )


def failed_rows(cell: Cell, seed: int, reason: str) -> Rows:
    """One failed row per (instance seed, learner seed) of `cell`, as `runner.run_cell` writes
    when training raises (`core.rows.failed_rows`), for a cell that hung or crashed."""
    return core_rows.failed_rows(cell, seed, cell.facts(), reason)


def _reason(error: BaseException) -> str:
    """`fail_reason` of the worker's exception when Ray wraps one (`core.rows.error_reason`)."""
    return core_rows.error_reason(getattr(error, "cause", None) or error)


def _ray_task(cell: Cell, seed: int, jax_options: Mapping[str, Any]) -> Rows:
    """The body of one Ray task: the driver's jax options, then `runner.run_cell`."""
    import jax

    for name, value in jax_options.items():
        if getattr(jax.config, name) != value:
            jax.config.update(name, value)
    return runner.run_cell(cell, seed_base=seed)


def _concurrency(ray: Any, options: RayOptions) -> int:
    """How many cell tasks the cluster's current resources can run at once."""
    total = ray.cluster_resources()
    fits = [
        int(total.get(key, 0.0) // need)
        for key, need in (("CPU", options.num_cpus), ("GPU", options.num_gpus))
        if need > 0
    ]
    return max(min(fits) if fits else int(total.get("CPU", 1)), 1)


def _ray_init(ray_lib: Any, options: RayOptions) -> bool:
    """Connect to (or start) Ray; whether this call started it."""
    if ray_lib.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
    if options.address is None:
        kwargs.update(include_dashboard=False, num_cpus=options.local_cpus or None)
    with warnings.catch_warnings():  # raylet is fork+exec'd: jax's fork warning is moot
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
        ray_lib.init(address=options.address, **kwargs)
    return True


def _ray_probe(jax_options: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the probe task: the driver's jax options, then `probe.probe()`."""
    import jax

    for name, value in jax_options.items():
        if getattr(jax.config, name) != value:
            jax.config.update(name, value)
    return probe.probe()


def ray(
    cells: Sequence[Cell],
    seed: int,
    options: RayOptions = RayOptions(),
    jax_config: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Cell, Rows]]:
    """Run `cells` as Ray tasks; yield each `(cell, rows)` as it finishes (any order).
    `jax_config`: the tasks' jax options (default: this process's `jax_options()`)."""
    import ray as ray_lib

    options_of_jax = dict(jax_config or jax_options())
    started = _ray_init(ray_lib, options)
    todo = iter(cells)
    pending: dict[Any, Cell] = {}
    try:
        task = ray_lib.remote(num_cpus=options.num_cpus, num_gpus=options.num_gpus)(_ray_task)
        max_pending = options.max_pending or max(2 * _concurrency(ray_lib, options), 2)
        while True:
            while len(pending) < max_pending and (cell := next(todo, None)) is not None:
                pending[task.remote(cell, seed, options_of_jax)] = cell
            if not pending:
                return
            [ref], _ = ray_lib.wait(list(pending), num_returns=1)
            cell = pending.pop(ref)
            try:
                rows = ray_lib.get(ref)
            except Exception as error:  # the task or its worker failed: failed rows, go on
                rows = failed_rows(cell, seed, _reason(error))
            yield cell, rows
    finally:  # interrupted (or done): drop what is still queued; stop a local instance we began
        for ref in pending:
            with contextlib.suppress(Exception):
                ray_lib.cancel(ref)
        if started:
            ray_lib.shutdown()


EXECUTORS: dict[str, Executor] = {"local": local, "ray": ray}


def device(name: str, **options: Any) -> dict[str, Any]:
    """`probe.probe()` of a process that will run the cells of executor `name` (`get`'s
    options): a worker started for it (local with `cell_timeout`), a Ray task with the cells'
    resources, or this process. Raises `worker.WorkerStartFailed` (one line) where the worker
    cannot start on the platform it was asked for."""
    if name == "ray":
        import ray as ray_lib

        checked = RayOptions(**{k: v for k, v in options.items() if k != "jax_config"})
        started = _ray_init(ray_lib, checked)
        try:
            task = ray_lib.remote(num_cpus=checked.num_cpus, num_gpus=checked.num_gpus)(_ray_probe)
            try:
                jax_config = options.get("jax_config") or jax_options()
                return ray_lib.get(task.remote(dict(jax_config)))
            except Exception as error:
                raise worker.WorkerStartFailed(f"the probe task failed: {_reason(error)}") from None
        finally:
            if started:
                ray_lib.shutdown()
    if options.get("cell_timeout") is None:
        return probe.probe()
    jax_config = options.get("jax_config") or jax_options()
    with worker.Worker(options["workdir"], jax_config, options.get("preload", ())) as proc:
        return proc.start()


def get(name: str, **options: Any) -> Executor:
    """The executor called `name` with its `options` (for `ray`, the fields of `RayOptions`).

    ValueError naming the choices, an unknown option, a bad value, or a missing `ray` extra."""
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
    if name == "ray":
        fields = {f.name for f in dataclasses.fields(RayOptions)}
        if unknown := sorted(set(options) - fields - {"jax_config"}):
            raise ValueError(f"unknown ray executor option(s) {unknown}; known: {sorted(fields)}")
        checked = RayOptions(**{k: v for k, v in options.items() if k != "jax_config"})
        if importlib.util.find_spec("ray") is None:
            raise ValueError(RAY_MISSING)
        return functools.partial(ray, options=checked, jax_config=options.get("jax_config"))
    known = {"workdir", "cell_timeout", "preload", "jax_config"}
    if unknown := sorted(set(options) - known):
        raise ValueError(f"unknown local executor option(s) {unknown}; known: {sorted(known)}")
    timeout = options.get("cell_timeout")
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise ValueError(f"--cell_timeout must be > 0 seconds (or 0: no watchdog), got {timeout!r}")
    return functools.partial(local, **options)
