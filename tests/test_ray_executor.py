"""The Ray executor (`hardnet-bench --executor=ray`): on a local 2-CPU Ray instance the tiny grid
gives the local executor's rows and resumes the same way; failed tasks become failed rows; at
most `max_pending` tasks are in flight; bad options are ValueErrors / one-line flag errors."""

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TIMING  # one reader of a workdir's rows
from conftest import tiny_rows as _rows

from hardnet.run import executors, grid, results

# A safety net, not a measurement: what it waits for took at most 35 s on one core of a
# 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
RUN_TIMEOUT = 1800
CONFIG = Path(__file__).parent / "configs" / "tiny.py"
# skipped only without ray, and never where HARDNET_REQUIRE_RAY is set (scripts/test, i.e. CI)
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None and not os.environ.get("HARDNET_REQUIRE_RAY"),
    reason="ray not installed (pip install 'hardnet[ray]')",
)


def _cmd(workdir, *extra):
    return [sys.executable, "-m", "hardnet.cli.bench", f"--config={CONFIG}",
            f"--workdir={workdir}", "--report=false", "--jax_platforms=cpu", *extra]  # fmt: skip


@needs_ray
def test_ray_rows_equal_local_rows_and_resume(tmp_path, tiny_reference):
    local_rows, local_dir = tiny_reference  # conftest.py: the local executor's run
    ray_dir = tmp_path / "ray"
    ray_args = ("--executor=ray", "--ray_local_cpus=2", "--ray_max_pending=2")
    done = subprocess.run(
        _cmd(ray_dir, *ray_args), capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert "[4/4]" in done.stdout
    rows = _rows(ray_dir)
    assert len(rows) == 10 and rows == local_rows
    assert sorted(p.name for p in (ray_dir / "cells").iterdir()) == sorted(
        p.name for p in (local_dir / "cells").iterdir()
    )
    # failed rows (a lost task) carry the same run identity as run_cell's rows, in the same order
    cells = {c.cell_id: c for c in grid.plan(_tiny_config()).cells}
    for cell_id in dict.fromkeys(r["cell_id"] for r in rows):
        mine = [r for r in rows if r["cell_id"] == cell_id]
        lost = executors.failed_rows(cells[cell_id], 0, "WorkerCrashedError: gone")
        assert set(lost[0]) - set(TIMING) <= set(mine[0])
        for key in ("cell_id", "cell", "seed_base", "instance_seed", "learner_seed", "samples",
                    "num_runs"):  # fmt: skip
            assert [r[key] for r in lost] == [r[key] for r in mine], key
    # a second run finds every cell done (it starts no Ray tasks) and changes nothing
    again = subprocess.run(
        _cmd(ray_dir, *ray_args), capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert again.returncode == 0, again.stderr
    assert "4 already done" in again.stdout and _rows(ray_dir) == rows


@needs_ray
@pytest.mark.filterwarnings("ignore:os.fork")  # ray.init fork+execs the raylet
def test_failed_tasks_give_failed_rows_and_pending_is_bounded(tmp_path):
    import ray

    plan = grid.plan(_tiny_config())
    bad = [dataclasses.replace(c, family="no_such_family") for c in plan.cells[:3]]
    pulled = []

    def cells():  # the executor pulls cells lazily: count how many were submitted
        for cell in bad:
            pulled.append(cell)
            yield cell

    ray.init(num_cpus=1, include_dashboard=False)
    try:
        run = executors.get("ray", max_pending=1)
        got = []
        for cell, rows in run(cells(), 7):
            assert len(pulled) == len(got) + 1  # never more than one task in flight
            got.append((cell, rows))
        assert ray.is_initialized()  # a Ray the executor did not start stays up
    finally:
        ray.shutdown()
    assert sorted(c.cell_id for c, _ in got) == sorted(c.cell_id for c in bad)
    store = results.open_workdir(tmp_path, {"config": "bad"}, probe_devices=False)
    for cell, rows in got:
        runs = len(cell.instance_seeds) * len(cell.learner_seeds)
        assert len(rows) == runs and all(r["failed"] is True for r in rows)
        assert all(r["fail_reason"].startswith("ValueError:") for r in rows)
        assert all("no_such_family" in r["fail_reason"] for r in rows)
        pairs = {(r["instance_seed"], r["learner_seed"]) for r in rows}
        assert pairs == {(i, j) for i in cell.instance_seeds for j in cell.learner_seeds}
        assert all(r["seed_base"] == 7 and r["num_runs"] == runs for r in rows)
        store.write_cell(cell.cell_id, rows)  # the workdir accepts them like run_cell's rows
    assert len(store.done_cells()) == 3


def _tiny_config():
    spec = importlib.util.spec_from_file_location("tiny", CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.mark.parametrize(
    "name,options,match",
    [
        ("local", {"address": "auto"}, "unknown local executor option"),
        ("local", {"cell_timeout": -1}, "--cell_timeout"),
        ("ray", {"adress": "auto"}, "adress"),
        ("ray", {"address": "auto", "local_cpus": 2}, "--ray_local_cpus"),
        ("ray", {"num_gpus": -1.0}, "--ray_num_gpus"),
        ("ray", {"max_pending": 1.5}, "--ray_max_pending"),
        ("ray", {"address": ""}, "--ray_address"),
        ("dask", {}, "executor must be one of"),
    ],
)
def test_bad_options_are_value_errors(name, options, match):
    with pytest.raises(ValueError, match=match):
        executors.get(name, **options)


def test_missing_ray_extra_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "ray" else real(n))
    with pytest.raises(ValueError, match=r"pip install 'hardnet\[ray\]'"):
        executors.get("ray")


@pytest.mark.parametrize(
    "extra,match",
    [(("--ray_address=auto",), "--executor=ray"), (("--ray_num_gpus=-1",), "ray_num_gpus")],
)
def test_bad_ray_flags_exit_with_one_line(tmp_path, extra, match):
    done = subprocess.run(_cmd(tmp_path, *extra), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and match in lines[0], done.stderr
