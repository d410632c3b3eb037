"""The tuning protocol (hardnet.run.tuning): quasi-random trials from a declared space on the
dictator control's validation stream, the best frozen and run unchanged on PRG, null and
dictator."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys

import pytest

from hardnet.configs import smoke
from hardnet.run import grid, runner, tuning

# A safety net, not a measurement: what it waits for took at most 131 s on one core of a
# 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
RUN_TIMEOUT = 1800
SPACE = {"learning_rate": "log(1e-3, 1e-1)", "width": "choice(4, 8, 16)"}


def _config(trials=3):
    config = copy.deepcopy(smoke.get_config())
    config.learners.sgd.tuning = dict(space=dict(SPACE), budget=32)
    config.tuning = dict(trials=trials)
    return config


def test_halton_points_fill_the_space_deterministically():
    space = tuning.parse_space("s", SPACE)
    pts = tuning.points(space, 8)
    assert pts == tuning.points(space, 8)
    assert all(1e-3 <= p["learning_rate"] <= 1e-1 and p["width"] in (4, 8, 16) for p in pts)
    assert len({p["learning_rate"] for p in pts}) == 8  # no repeats
    assert {p["width"] for p in pts} == {4, 8, 16}
    assert tuning.halton(1, 2) == [0.5, 1 / 3] and tuning.halton(2, 1) == [0.25]


@pytest.mark.parametrize(
    "space, needle",
    [
        ({"lr": "log(0, 1)"}, "s.lr: log needs two numbers lo < hi"),
        ({"lr": "uniform(2, 1)"}, "s.lr: uniform needs two numbers lo < hi"),
        ({"lr": "normal(0, 1)"}, "s.lr: must be 'log(lo, hi)'"),
        ({"lr": "choice(a b)"}, "s.lr: arguments must be Python literals"),
        ({}, "s: must name at least one learner keyword"),
    ],
)
def test_bad_spaces_are_one_line_errors(space, needle):
    with pytest.raises(ValueError, match="^" + needle.replace("(", r"\(").replace(")", r"\)")):
        tuning.parse_space("s", space)


def test_plan_runs_trials_on_the_dictator_validation_stream():
    plan = grid.plan(_config())
    trials = [c for c in plan.cells if c.tuning is not None]
    prg = [c for c in trials if c.family == "prg_boolean"]
    assert len(prg) == 3 and len(trials) == 6  # f1 (on its dictator) and f6 (on itself)
    assert all(c.variant == "dictator" and c.split == "validation" and c.budget == 32 for c in prg)
    assert {c.variant for c in trials if c.family == "easy_depth2"} == {"main"}
    assert [c.tuning["trial"] for c in prg] == [1, 2, 3]
    assert not any(c.learner == "sgd" and c.tuning is None for c in plan.cells)
    assert len(plan.pending) == 2


def test_bad_trial_point_names_the_trial():
    config = _config()
    config.learners.sgd.tuning.space = {"width": "uniform(1.5, 2.5)"}  # width must be an int
    with pytest.raises(ValueError, match=r"config\.learners\.sgd\.tuning trial [0-9] .*integer"):
        grid.plan(config)


def test_choice_and_frozen_cells():
    plan = grid.plan(_config())
    pending = next(p for p in plan.pending if p.prg)
    scores = {cid: s for cid, s in zip(pending.trial_ids, (0.6, 0.9, 0.9), strict=True)}
    rows = {cid: [{"acc01": s, "failed": False}] * 2 for cid, s in scores.items()}
    assert tuning.frozen_cells([pending], lambda cid: None) == ([], [pending])
    cells, scored = tuning.choose(pending, rows.get)
    assert scored == [0.6, 0.9, 0.9]
    assert {c.tuning["frozen"] for c in cells} == {2}  # the tie goes to the earlier trial
    assert {c.variant for c in cells} == {"main", "null", "dictator"}
    point = pending.points[1]
    assert all(c.learner_kwargs["width"] == point["width"] for c in cells)
    space = tuning.space_text(tuning.parse_space("s", SPACE))
    assert all(c.split == "test" and c.tuning["space"] == space for c in cells)
    failed = [{"failed": True}]
    assert tuning.score(failed, prg=True) == 0.0 and tuning.score(failed, prg=False) == -math.inf
    # the calibration-free accuracy ranks PRG trials where the rows have it (docs/metrics.md)
    shrunk = [{"acc01": 0.43, "acc01_cal": 0.92}, {"acc01": 0.45, "acc01_cal": 0.9}]
    assert tuning.score(shrunk, prg=True) == 0.91
    assert tuning.score([{"acc01": 0.7}], prg=True) == 0.7  # rows written before it


@pytest.mark.slow
def test_trials_are_scored_on_validation_rows():
    """A trial cell and the same cell on the test split see the same training stream but
    different evaluation rows."""
    plan = grid.plan(_config(trials=1))
    (trial,) = [c for c in plan.cells if c.tuning is not None and c.family == "prg_boolean"]
    test = grid.Cell(**{**trial.__dict__, "tuning": None})
    a = runner.run_cell(trial, 0)
    b = runner.run_cell(test, 0)
    assert [r["mse_all"] for r in a] != [r["mse_all"] for r in b]
    assert a[0]["cell"]["tuning"]["split"] == "validation" and "tuning" not in b[0]["cell"]


TUNED_SMOKE = """
import ml_collections
from hardnet.configs import smoke

def get_config(arg=None):
    config = smoke.get_config(arg)
    config.learners = ml_collections.ConfigDict({"sgd": config.learners.sgd.to_dict()})
    config.learners.sgd.tuning = dict(space=dict(learning_rate="log(1e-3, 1e-1)"), budget=32)
    config.tuning = dict(trials=2)
    return config
"""


@pytest.mark.slow
def test_bench_runs_trials_then_the_frozen_choice_and_resumes(tmp_path):
    """hardnet-bench on the smoke grid's sgd cells, tuned (2 trials): the trial rows and the frozen
    rows are in results.jsonl, the frozen point is a trial's, and a rerun runs nothing."""
    config = tmp_path / "tuned_smoke.py"
    config.write_text(TUNED_SMOKE)
    workdir = tmp_path / "work"
    cmd = [
        sys.executable, "-m", "hardnet.cli.bench", f"--config={config}", f"--workdir={workdir}",
        "--tensorboard=false", "--report=false",
    ]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(x) for x in (workdir / "results.jsonl").read_text().splitlines()]
    trial_rows = [r for r in rows if (r["cell"].get("tuning") or {}).get("split")]
    frozen = [r for r in rows if "frozen" in (r["cell"].get("tuning") or {})]
    assert {r["cell"]["tuning"]["trial"] for r in trial_rows} == {1, 2}
    assert {r["cell"]["variant"] for r in trial_rows if r["cell"]["block"] == "f1"} == {"dictator"}
    assert {r["cell"]["variant"] for r in frozen} == {"main", "null", "dictator"}
    points = {json.dumps(r["cell"]["tuning"]["point"]) for r in trial_rows}
    assert {json.dumps(r["cell"]["tuning"]["point"]) for r in frozen} <= points
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already done") == 2, again.stdout  # the grid, the frozen runs
    n = len({r["cell_id"] for r in frozen})
    assert f"(frozen after tuning): {n}, {n} already done" in again.stdout, again.stdout
