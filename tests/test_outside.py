"""Learners from any framework (learners/outside.py, run/outside.py, docs/outside.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from hardnet import learners, suites
from hardnet.analysis import scorecard
from hardnet.learners import outside as protocol
from hardnet.run import outside, scoring, session
from hardnet.run.caches import Caches
from hardnet.run.grid import plan

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "tests" / "data" / "outside_learners.py"
CAP_S = 20.0  # the hanging learner's cell is killed after this


def _spec(factory: str) -> str:
    return f"{HELPERS}:{factory}"


def _config(entries: dict[str, str], budgets=(256,), variants=None) -> dict:
    """F1 tsa n=8 with its null and dictator, 2 instance seeds, small test set."""
    learners_ = {
        name: dict(name=protocol.NAME, kwargs=dict(factory=spec), budgets=list(budgets),
                   **({"variants": variants} if variants else {}))
        for name, spec in entries.items()
    }  # fmt: skip
    return dict(
        instances=dict(f1=dict(family="prg_boolean", fixed=dict(predicate="tsa", n=8),
                               null_control=True, dictator_control=True)),
        learners=learners_, budgets=list(budgets), test_size=256, instance_seeds=2,
        learner_seeds=1,
    )  # fmt: skip


@pytest.fixture(scope="module")
def misbehaving(tmp_path_factory):
    """One run of a grid with a good learner and one per way of failing, under the watchdog."""
    workdir = tmp_path_factory.mktemp("misbehaving")
    names = ["good", "raises", "nans", "wrong_shape", "sleeps", "no_predict"]
    config = _config({n: _spec(n) for n in names}, variants=["main"])
    options = {"cell_timeout": CAP_S, "workdir": str(workdir), "preload": []}
    session.run_grid(config, str(workdir), 0, 0, 1, tensorboard=False, executor_options=options)
    rows = [json.loads(line) for line in (workdir / "results.jsonl").read_text().splitlines()]
    return {n: [r for r in rows if r["cell"]["entry"] == n] for n in names}


def _one_line_failures(rows, match: str) -> None:
    assert rows and all(r["failed"] for r in rows)
    for r in rows:
        assert "\n" not in r["fail_reason"] and match in r["fail_reason"], r["fail_reason"]


def test_a_learner_that_raises_gets_failed_rows_with_its_error(misbehaving):
    _one_line_failures(misbehaving["raises"], "RuntimeError: boom in fit second line")


def test_a_learner_returning_nan_gets_failed_rows(misbehaving):
    _one_line_failures(misbehaving["nans"], "non-finite predictions")


def test_a_learner_returning_the_wrong_shape_gets_failed_rows(misbehaving):
    _one_line_failures(misbehaving["wrong_shape"], "predict returned shape (512, 2)")
    _one_line_failures(misbehaving["no_predict"], "has neither fit nor partial_fit")


def test_a_learner_that_hangs_is_stopped_at_the_cap_and_the_others_complete(misbehaving):
    _one_line_failures(misbehaving["sleeps"], f"ran past {CAP_S:g} s")
    good = misbehaving["good"]
    assert len(good) == 2 and not any(r["failed"] for r in good)
    assert all(r["framework"] == "numpy" and np.isfinite(r["acc01_cal"]) for r in good)


def test_training_rows_are_the_budget_rows_of_the_stream_in_any_chunking():
    cell = plan(_config({"x": _spec("good")}, budgets=(250,))).cells[0]
    inst, caches = cell.make_instance(), Caches()
    params, k_train, _, _ = outside.cell_data(inst, cell, 0, caches)
    p0, k0 = jax.tree.map(lambda t: t[0], params), k_train[0]
    chunks = list(outside.training_chunks(inst, p0, k0, 250, 100))
    assert [len(y) for _, y in chunks] == [100, 100, 50]
    x_all, y_all, _ = inst.sample(p0, k0, 250)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in chunks]), np.asarray(x_all))
    np.testing.assert_array_equal(np.concatenate([y for _, y in chunks]), np.asarray(y_all))
    assert all(x.dtype == np.float32 and y.dtype == np.float32 for x, y in chunks)


class _Recorder:
    def __init__(self, with_fit: bool):
        self.calls = []
        if not with_fit:
            self.fit = None

    def fit(self, x, y):
        self.calls.append(("fit", len(y)))

    def partial_fit(self, x, y):
        self.calls.append(("partial_fit", len(y)))

    def predict(self, x):
        return np.zeros(len(x), np.float32)


CHUNKED = [("partial_fit", 2), ("partial_fit", 2), ("partial_fit", 1)]


@pytest.mark.parametrize("max_fit_gib,calls", [(1.0, [("fit", 5)]), (1e-9, CHUNKED)])
def test_fit_at_once_when_the_rows_fit_else_partial_fit_over_chunks(max_fit_gib, calls):
    made = _Recorder(with_fit=True)
    rows = [(np.ones((2, 3), np.float32), np.ones(2, np.float32))] * 2
    rows.append((np.ones((1, 3), np.float32), np.ones(1, np.float32)))
    config = {"max_fit_gib": max_fit_gib}
    out = outside.fit_predict(lambda d, b, s: made, config, (3, 5, 0), lambda: iter(rows),
                              np.zeros((4, 3), np.float32))  # fmt: skip
    assert made.calls == calls and out.shape == (4,)


def test_the_factory_gets_the_shape_budget_and_a_seed_from_the_run_seed():
    seen = []
    factory = lambda d, b, s: seen.append((d, b, s)) or _Recorder(True)
    rows = lambda: iter([(np.ones((5, 3), np.float32), np.ones(5, np.float32))])
    for seed_base in (0, 0, 1):
        seed = outside.learner_seed(seed_base, 2, 0)
        outside.fit_predict(factory, {"max_fit_gib": 1}, (3, 5, seed), rows,
                            np.zeros((1, 3), np.float32))  # fmt: skip
    assert seen[0] == seen[1] and seen[0][:2] == (3, 5) and seen[2][2] != seen[0][2]
    assert all(0 <= s < 2**31 for _, _, s in seen)


def test_scores_come_from_the_harness_a_linear_learner_learns_the_dictator_not_the_null():
    cell_plan = plan(_config({"lin": _spec("linear")}, budgets=(512,)))
    rows = {c.variant: outside.run_cell(c, 0) for c in cell_plan.cells}
    acc = {v: np.mean([r["acc01_cal"] for r in rs]) for v, rs in rows.items()}
    assert acc["dictator"] > 0.95 and abs(acc["null"] - 0.5) < 0.1  # n=8: the PRG is no test
    again = outside.run_cell(cell_plan.cells[0], 0)
    assert [r["auc"] for r in again] == [r["auc"] for r in rows[cell_plan.cells[0].variant]]


@pytest.mark.parametrize(
    "factory,match",
    [("nocolon", "must be 'module:factory'"), ("missing/file.py:make", "no file"),
     ("no_such_module_xyz:make", "no module"), ("a b:make", "neither a .py file")],
)  # fmt: skip
def test_a_bad_factory_is_a_value_error_naming_the_rule(factory, match):
    with pytest.raises(ValueError, match=match):
        learners.make(protocol.NAME, factory=factory)


def _score(*args, cwd=ROOT):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "hardnet.cli.score", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    "args,match",
    [(["--learner=nope.py:make"], "no file nope.py"),
     (["--learner=examples/numpy_features.py:make", "--suite=hardnet-v1:tpu"], "no tier 'tpu'"),
     (["--learner=examples/numpy_features.py:make", "--suite=nope"], "unknown suite"),
     (["--learner=examples/numpy_features.py:make", "--name=sgd"], "built-in learner"),
     (["--learner=examples/numpy_features.py:make", "--suite_seed=3"], "heldout tier")],
)  # fmt: skip
def test_hardnet_score_bad_flags_are_one_line(args, match, tmp_path):
    out = _score(*args, f"--workdir={tmp_path}")
    assert out.returncode == 2 and match in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_score_card_has_verdicts_references_and_health(tmp_path):
    suite = suites.load()
    tier = suites.Tier("t", "test", (0, 1), 256, 60.0, {"f1_tsa": (400,), "f6": (400,)}, True)
    out = _score_card(suite, tier, tmp_path, seed=7)  # a heldout tier: its own run seed
    card = out["learners"]["lin"]
    assert card["f1_tsa"]["verdict"] in ("consistent", "inconclusive", "broken", "some seeds")
    assert card["f1_tsa"]["budgets"][0]["dictator"]["acc01_cal"]["mean"] > 0.9
    assert "nmse" in card["f6"]["budgets"][0] and "verdict" not in card["f6"]
    md = (tmp_path / "scorecard.md").read_text()
    assert "**lin** (as submitted)" in md and "(reference)" in md and "4 of 4 cells" in md
    rows = out["leaderboard_rows"]
    assert {r["setup"] for r in rows} == {"f1_tsa", "f6"}
    assert all(r["suite"] == suite.name and r["fingerprints"] != "none" for r in rows)
    assert all(r["tier"] == "t" and r["seed"] == 7 for r in rows)
    results = (tmp_path / "results.jsonl").read_text().splitlines()
    assert {json.loads(line)["seed_base"] for line in results} == {7}
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "scorecard.png").shape[1] <= 1600


def _score_card(suite, tier, workdir, seed):
    return scoring.run_score(_spec("linear"), "lin", suite, tier, seed, str(workdir), 60.0)


def test_verify_compares_a_card_with_the_learners_leaderboard_rows(tmp_path):
    row = {"suite": "s", "tier": "cpu", "learner": "x", "setup": "f1_tsa", "budget": 10,
           "main": 0.5, "null": 0.5, "dictator": 1.0}  # fmt: skip
    other = {**row, "learner": "y", "dictator": 0.1}
    (tmp_path / "s.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(other) + "\n")
    card = {"about": {"suite": "s", "tier": "cpu"}, "leaderboard_rows": [dict(row)]}
    assert scoring.verify(card, "x", str(tmp_path)) == []
    card["leaderboard_rows"][0]["dictator"] = 0.8
    assert scoring.verify(card, "x", str(tmp_path)) == ["f1_tsa at 10: dictator 0.8 != 1.0"]
    assert "no rows of 'z'" in scoring.verify(card, "z", str(tmp_path))[0]


def test_scorecard_health_counts_cells_with_no_scored_run_as_unfinished():
    rows = [{"cell_id": "a", "failed": True, "fail_reason": "x"},
            {"cell_id": "a", "failed": False}, {"cell_id": "b", "failed": True,
                                                "fail_reason": "timeout"}]  # fmt: skip
    h = scorecard.health(rows)
    assert h["cells"] == 2 and h["cells_finished"] == 1 and h["runs_failed"] == 2
