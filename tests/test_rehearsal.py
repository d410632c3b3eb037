"""The `:gpu` grid, scaled down (`headline.py:rehearsal`), end to end on 4 forced host devices:
every planned cell runs through the same code paths (online sgd, Nyström kernel, chunked training
sets, the sharded seed axis, the worker process) without an error."""

import json
import os
import subprocess
import sys

import pytest

from hardnet.configs import headline
from hardnet.run import grid

CONFIG = headline.__file__


@pytest.mark.slow
def test_gpu_rehearsal_runs_on_four_cpu_devices(tmp_path):
    plan = grid.plan(headline.get_config("rehearsal"))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    done = subprocess.run(
        [sys.executable, "-m", "hardnet.cli.bench", f"--config={CONFIG}:rehearsal",
         f"--workdir={tmp_path}", "--report=false", "--tensorboard=false", "--jax_platforms=cpu"],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    frozen = [r for r in rows if "frozen" in (r["cell"].get("tuning") or {})]
    assert frozen, "the tuned sgd ran its frozen choice after its trials"
    ran = {r["cell_id"] for r in rows}
    assert ran == {c.cell_id for c in plan.cells} | {r["cell_id"] for r in frozen}
    cells = {r["cell_id"]: r["cell"] for r in rows}
    want = sum(len(c["instance_seeds"]) * len(c["learner_seeds"]) for c in cells.values())
    assert len(rows) == want
    errors = [r for r in rows if r["failed"] and "Error" in (r["fail_reason"] or "")]
    assert not errors, [(r["cell_id"], r["fail_reason"]) for r in errors[:3]]
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["local_device_count"] == 4 or "devices" in meta
    assert {r["cell"]["family"] for r in rows} >= {"natural_depth2", "prg_gauss3_smoothed"}
    inputs = {r["cell"]["instance_kwargs"].get("inputs") for r in rows}
    assert {"gaussian", "clauses"} <= inputs  # the F5 comparison
