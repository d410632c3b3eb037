"""`hardnet-bench`: run a config's grid of benchmark cells into a workdir.

    hardnet-bench --config=hardnet/configs/headline.py:cpu --workdir=/tmp/headline
    python -m hardnet.cli.bench --config=hardnet/configs/smoke.py --workdir=/tmp/smoke \
        --config.instance_seeds=3 --jax_platforms=cpu

Each cell (instance × learner × budget, all seeds) is one vmapped program (`hardnet.run.runner`);
its rows are written atomically to `<workdir>/cells/<cell_id>.json` and `results.jsonl` is
rebuilt (`hardnet.run.results`). A run killed at any moment and restarted with the same workdir
skips finished cells and ends with the same rows. `--shard_index/--num_shards` split the grid for
job arrays; shards may share one workdir. jax flags (`--jax_platforms`, `--jax_enable_x64`, ...) are
parsed from the command line too. Bad flags or config values exit with one line, before any
compilation.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import jax
from absl import app, flags
from ml_collections import config_flags

from hardnet.cli import common
from hardnet.run import executors, session

PROG = "hardnet-bench"

# Generous: the default :cpu run's slowest cell takes about a minute on 2 cores.
DEFAULT_CELL_TIMEOUT_S = 1800.0

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file[:variant]")
_WORKDIR = flags.DEFINE_string("workdir", None, "where results, logs and the report go")
_SEED = flags.DEFINE_integer("seed", 0, "run seed: every key derives from it", lower_bound=0)
_SHARD_INDEX = flags.DEFINE_integer("shard_index", 0, "this shard (job-array index)", lower_bound=0)
_NUM_SHARDS = flags.DEFINE_integer("num_shards", 1, "number of shards", lower_bound=1)
_DISTRIBUTED = flags.DEFINE_bool(
    "jax_distributed", False, "call jax.distributed.initialize() (multi-host); process 0 writes"
)
_TENSORBOARD = flags.DEFINE_bool("tensorboard", True, "write TensorBoard logs under workdir/tb")
_REPORT = flags.DEFINE_bool("report", True, "write the report at the end (hardnet-report)")
_EXECUTOR = flags.DEFINE_enum(
    "executor",
    "local",
    sorted(executors.EXECUTORS),
    "how cells run: local (one after another in this process) or ray (one Ray task per cell, "
    "`pip install 'hardnet[ray]'`; see the --ray_* flags)",
)
_RAY_ADDRESS = flags.DEFINE_string(
    "ray_address",
    None,
    "--executor=ray: the Ray cluster to run on (auto, host:6379, ray://host:10001); "
    "unset: start a local Ray instance for this run",
)
_RAY_NUM_CPUS = flags.DEFINE_float(
    "ray_num_cpus", 1.0, "--executor=ray: CPUs each cell's task reserves", lower_bound=0
)
_RAY_NUM_GPUS = flags.DEFINE_float(
    "ray_num_gpus",
    0.0,
    "--executor=ray: GPUs each cell's task reserves (fractions share a GPU; 0 hides the GPUs)",
    lower_bound=0,
)
_RAY_MAX_PENDING = flags.DEFINE_integer(
    "ray_max_pending",
    0,
    "--executor=ray: most cell tasks submitted and not yet finished "
    "(0: twice what the cluster can run at once)",
    lower_bound=0,
)
_RAY_LOCAL_CPUS = flags.DEFINE_integer(
    "ray_local_cpus",
    0,
    "--executor=ray without --ray_address: CPUs of the local Ray instance (0: all cores)",
    lower_bound=0,
)
_RAY_FLAGS = {
    "address": _RAY_ADDRESS,
    "num_cpus": _RAY_NUM_CPUS,
    "num_gpus": _RAY_NUM_GPUS,
    "max_pending": _RAY_MAX_PENDING,
    "local_cpus": _RAY_LOCAL_CPUS,
}


@flags.multi_flags_validator(
    ["executor", *(f.name for f in _RAY_FLAGS.values())],
    message="the --ray_* flags need --executor=ray",
)
def _ray_flags_need_ray(values: dict[str, Any]) -> bool:
    return values["executor"] == "ray" or all(
        values[f.name] == f.default for f in _RAY_FLAGS.values()
    )


def _executor_options(jax_config: Mapping[str, Any]) -> dict[str, Any]:
    """The chosen executor's options from its flags (`executors.get` keywords); `jax_config`:
    the jax options asked for on the command line, for the processes that run the cells."""
    if _EXECUTOR.value == "ray":
        options = {key: holder.value for key, holder in _RAY_FLAGS.items()}
        return {**options, "jax_config": dict(jax_config)}
    if not _out_of_process():  # multi-host, or no watchdog: cells run in this process
        return {"cell_timeout": None}
    return {
        "cell_timeout": _CELL_TIMEOUT.value,
        "preload": [_config_file()],
        "jax_config": dict(jax_config),
    }


def _out_of_process() -> bool:
    """Whether the cells run in other processes (workers, Ray tasks) than this driver."""
    return _EXECUTOR.value == "ray" or (_CELL_TIMEOUT.value > 0 and not _DISTRIBUTED.value)


def _config_file() -> str:
    """The --config file's path, without its `:variant` argument."""
    path = config_flags.get_config_filename(flags.FLAGS["config"])
    if not os.path.exists(path) and ".py:" in path:
        path = path[: path.index(".py:") + 3]
    return path


_CELL_TIMEOUT = flags.DEFINE_float(
    "cell_timeout",
    DEFAULT_CELL_TIMEOUT_S,
    "--executor=local: seconds a cell may run in its worker process before it is killed and "
    "recorded as failed with reason 'timeout' (stacks in <workdir>/stacks); 0 runs the cells in "
    "this process, without a watchdog",
    lower_bound=0,
)

_DRY_RUN = flags.DEFINE_bool(
    "dry_run",
    False,
    "expand the grid, write <workdir>/plan.json (per cell: estimated peak memory and flops) and "
    "print a short table; compiles and runs nothing",
)
_MEMORY_BUDGET = flags.DEFINE_float(
    "memory_budget_gib",
    None,
    "refuse, before anything runs, a grid with a cell whose estimated peak memory exceeds this "
    "(default: the device's reported memory, or HARDNET_MAX_BYTES on the CPU)",
    lower_bound=0,
)

flags.mark_flags_as_required(["config", "workdir"])


def _load_config() -> Any:
    """The --config value; one line naming the file when it cannot be loaded."""
    try:
        config = _CONFIG.value
        config.keys()  # ml_collections defers a loading error to the first access (an IOError)
        return config
    except Exception as error:
        path = _config_file()
        parts = [part.strip() for part in re.split(r"[;\n]", str(error)) if part.strip()]
        reason = parts[-1] if parts else type(error).__name__
        common.fail(PROG, f"--config {path}: cannot load it ({reason})")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        common.fail(PROG, f"unexpected arguments: {' '.join(argv[1:])}")
    logging.getLogger("jax").setLevel(logging.WARNING)
    if _SHARD_INDEX.value >= _NUM_SHARDS.value:
        common.fail(PROG, f"--shard_index must be < --num_shards, got {_SHARD_INDEX.value}")
    jax_config = executors.jax_options()  # as asked: for the processes that run the cells
    if _out_of_process():  # the driver plans on the CPU and never takes an accelerator
        jax.config.update("jax_platforms", "cpu")
    if _DISTRIBUTED.value:
        jax.distributed.initialize()
    config = _load_config()
    workdir = _WORKDIR.value
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        common.fail(PROG, f"--workdir {workdir} exists and is not a directory")
    try:
        session.run_grid(
            config,
            workdir,
            _SEED.value,
            _SHARD_INDEX.value,
            _NUM_SHARDS.value,
            executor=_EXECUTOR.value,
            tensorboard=_TENSORBOARD.value,
            executor_options=_executor_options(jax_config),
            dry_run=_DRY_RUN.value,
            memory_budget_gib=_MEMORY_BUDGET.value,
            prog=PROG,
        )
    except session.SessionError as error:  # a bad grid, a busy workdir, a refused plan
        common.fail(PROG, error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished cells are saved in {_WORKDIR.value}", flush=True)
        raise SystemExit(130) from None
    except OSError as error:  # the workdir: read-only, full, gone
        where = f" ({error.filename})" if error.filename else ""
        common.fail(PROG, f"cannot write the workdir {workdir}: {error.strerror or error}{where}")
    if _DRY_RUN.value:
        return
    print(
        f"{PROG}: results in {_WORKDIR.value}/results.jsonl; TensorBoard: "
        f"tensorboard --logdir {_WORKDIR.value}/tb",
        flush=True,
    )
    if _REPORT.value and jax.process_index() == 0:
        try:
            from hardnet.analysis import report
        except ImportError:
            return
        print(f"{PROG}: report: {report.write_report(_WORKDIR.value)}", flush=True)


def run() -> None:
    """Entry point of the `hardnet-bench` console script."""
    jax.config.config_with_absl()
    app.run(main, flags_parser=common.flags_parser(PROG))


if __name__ == "__main__":
    run()
