"""hardnet.run.runner.run_cell: rows, metrics, failures, determinism (on tiny cells)."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from hardnet.configs import smoke
from hardnet.core.base import Learner
from hardnet.core.source import read_rows
from hardnet.core.textio import to_jsonable
from hardnet.run import fresh, grid, runner

TIMINGS = ("compile_s", "run_s")


def _config(instances, learners, **kw):
    return {
        "instances": instances,
        "learners": learners,
        "budgets": [64],
        "test_size": 256,
        "instance_seeds": 2,
        "learner_seeds": 2,
        **kw,
    }


F1 = {"f1": dict(family="prg_boolean", fixed=dict(predicate="tsa", n=8))}
F6 = {"f6": dict(family="easy_depth2", fixed=dict(d=4, m=2))}


def _cells(config):
    return {c.entry: c for c in grid.expand(config)}


@pytest.fixture(scope="module")
def f1_cells():
    return _cells(
        _config(
            F1,
            {
                "gf2": dict(learner_seeds=1),
                "oracle": dict(),
                "trivial": dict(learner_seeds=1),  # default draws, as the reference trivial
                "nan_sgd": dict(
                    name="sgd",
                    kwargs=dict(
                        depth=1,
                        width=8,
                        batch_size=32,
                        steps=10,
                        optimizer="sgd",
                        learning_rate=1e8,
                        regime="finite",
                    ),
                ),
            },
        )
    )


@pytest.fixture(scope="module")
def f1_rows(f1_cells):
    return {name: runner.run_cell(cell) for name, cell in f1_cells.items()}


def _check_rows(cell, rows):
    assert len(rows) == len(cell.instance_seeds) * len(cell.learner_seeds)
    pairs = [(r["instance_seed"], r["learner_seed"]) for r in rows]
    assert pairs == [(i, j) for i in cell.instance_seeds for j in cell.learner_seeds]
    for r in rows:
        assert r["cell_id"] == cell.cell_id and r["cell"] == cell.to_json()
        assert r["samples"] == cell.budget
        json.dumps(to_jsonable(r), allow_nan=False)  # every row is JSON-serializable


def test_rows_and_oracle_on_prg(f1_cells, f1_rows):
    for name, rows in f1_rows.items():
        _check_rows(f1_cells[name], rows)
    for r in f1_rows["oracle"]:
        assert not r["failed"] and r["fail_reason"] is None
        assert r["mse_all"] < 1e-10 and r["mse_fresh"] < 1e-10
        assert r["adv"] == pytest.approx(1.0, abs=1e-6) and r["acc01"] == 1.0
        assert 0 <= r["frac_test_seen"] < 0.2 and r["num_fresh"] > 100
    for r in f1_rows["gf2"]:  # n=8 tsa from 64 samples: gf2 solves it
        assert not r["failed"] and r["adv"] > 0.9


def test_trivial_against_itself(f1_rows):
    for r in f1_rows["trivial"]:
        assert not r["failed"]
        assert abs(r["adv"]) < 0.05  # another Monte Carlo draw of the same predictor
        assert 0.2 < r["mse_fresh"] < 0.3  # ≈ 1/4 for a balanced predicate


def test_nan_learner_recorded_as_failed(f1_rows):
    for r in f1_rows["nan_sgd"]:
        assert r["failed"] is True
        assert "diverged" in r["fail_reason"] or "non-finite" in r["fail_reason"]
        json.dumps(to_jsonable(r), allow_nan=False)


def test_instance_data_shared_across_learners(f1_rows):
    # the same instance seed gives the same test set to every learner: same fresh fraction
    for i in (0, 1):
        seen = {
            r["frac_test_seen"]
            for rows in f1_rows.values()
            for r in rows
            if r["instance_seed"] == i
        }
        assert len(seen) == 1


def _metric_values(rows):
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]


def test_deterministic_and_seed_base_matters(f1_cells, f1_rows):
    cell = f1_cells["trivial"]
    again = runner.run_cell(cell)
    assert json.dumps(to_jsonable(_metric_values(again))) == json.dumps(
        to_jsonable(_metric_values(f1_rows["trivial"]))
    )
    other = runner.run_cell(cell, seed_base=1)
    assert [r["mse_all"] for r in other] != [r["mse_all"] for r in f1_rows["trivial"]]


def test_easy_depth2_poly_and_oracle():
    cells = _cells(
        _config(F6, {"poly": dict(kwargs=dict(degree=2)), "oracle": dict(learner_seeds=1)})
    )
    rows = runner.run_cell(cells["poly"])
    _check_rows(cells["poly"], rows)
    for r in rows:
        assert not r["failed"] and np.isfinite(r["nmse"]) and 0 <= r["nmse"] < 1
        assert "adv" not in r and "mse_fresh" not in r  # not a PRG family
    again = runner.run_cell(cells["poly"])
    assert _metric_values(again) == _metric_values(rows)
    for r in runner.run_cell(cells["oracle"]):
        assert not r["failed"] and r["nmse"] < 1e-10


def test_cosines_for_tensor_on_f6():
    config = smoke.get_config()
    cell = next(
        c for c in grid.expand(config) if c.family == "easy_depth2" and c.learner == "tensor"
    )
    rows = runner.run_cell(cell)
    _check_rows(cell, rows)
    for r in rows:
        assert 0 <= r["cosine_min"] <= r["cosine_mean"] <= 1 + 1e-6


def test_python_loop_matches_vmapped(f1_cells, f1_rows, monkeypatch):
    cell = f1_cells["gf2"]
    make = grid.Cell.make_learner

    def looped(self, instance=None, params=None):
        return dataclasses.replace(make(self, instance, params), vmappable=False)

    monkeypatch.setattr(grid.Cell, "make_learner", looped)
    rows = runner.run_cell(cell)
    for a, b in zip(rows, f1_rows["gf2"], strict=True):
        for k in ("mse_all", "mse_fresh", "adv", "acc01"):
            assert a[k] == pytest.approx(b[k], abs=1e-6)


def test_exception_recorded_not_raised(f1_cells, monkeypatch):
    def broken(self, instance=None, params=None):
        def fit(key, x, y, budget=None, monitor=None):
            raise RuntimeError("boom")

        return Learner(name="broken", config={}, fit=fit)

    monkeypatch.setattr(grid.Cell, "make_learner", broken)
    rows = runner.run_cell(f1_cells["gf2"])
    assert len(rows) == 2 and all(r["failed"] and "boom" in r["fail_reason"] for r in rows)


def test_train_and_test_from_different_keys(f1_cells):
    cell = f1_cells["oracle"]
    inst = cell.make_instance()
    params, k_train, (x_test, _, _), cal = runner.cell_data(inst, cell, 0, runner.Caches())
    x = jax.vmap(lambda p, k: inst.sample(p, k, cell.budget)[0])(params, k_train)
    assert x.shape[:2] == (2, cell.budget) and x_test.shape[:2] == (2, cell.test_size)
    assert not np.array_equal(np.asarray(x[:, :8]), np.asarray(x_test[:, :8]))
    assert not np.array_equal(np.asarray(x[0]), np.asarray(x[1]))  # instance seeds differ
    assert cal is not None and cal[0].shape == x_test.shape  # PRG: the calibration rows
    assert not np.array_equal(np.asarray(cal[0][:, :8]), np.asarray(x_test[:, :8]))


def test_adv_mean_against_the_constant_predictor(f1_rows):
    for r in f1_rows["oracle"]:
        assert r["adv_mean"] == pytest.approx(1.0, abs=1e-6)
    # on prg_boolean every row is informative and both baselines sit near MSE 1/4 (ȳ of 64
    # training rows has standard error 0.06)
    for r in f1_rows["trivial"]:
        assert abs(r["adv_mean"]) < 0.15


def test_sgd_rows_carry_learning_curves():
    learner = dict(
        kwargs=dict(
            depth=1,
            width=16,
            batch_size=64,
            steps=200,
            log_every=50,
            learning_rate=3e-3,
            regime="finite",
        )
    )
    cells = _cells(_config(F6, {"sgd": learner}, budgets=[512], learner_seeds=1))
    rows = runner.run_cell(cells["sgd"])
    for r in rows:
        curves = r["curves"]
        assert curves["step"] == [0, 50, 100, 150, 200]
        for name in ("train_loss", "weight_movement", "monitor/test_mse", "monitor/cosine_min"):
            assert len(curves[name]) == 5, name
        assert curves["weight_movement"][0] == 0.0 < curves["weight_movement"][-1]
        # the monitor's test MSE is measured on the cell's test set: it falls during training,
        # and ends near the row's test MSE (same predictor, a prefix of the same test rows)
        assert curves["monitor/test_mse"][-1] < curves["monitor/test_mse"][0]
        assert curves["monitor/test_mse"][-1] == pytest.approx(r["mse_all"], rel=0.3)
        json.dumps(to_jsonable(r), allow_nan=False)


_SHARDED = """
import json, sys
import jax
from hardnet.run import grid, runner
from hardnet.core.textio import to_jsonable
config = json.loads(sys.argv[1])
cells = {c.entry: c for c in grid.expand(config)}
rows = runner.run_cell(cells[sys.argv[2]])
print(json.dumps({"devices": jax.local_device_count(), "rows": to_jsonable(rows)}))
"""


@pytest.mark.parametrize("entry", ["poly", "oracle"])
def test_seed_axis_sharded_over_local_devices(entry):
    """On 2 (forced host) devices the pair axis is sharded (3 pairs, padded to 4): the rows equal
    the single-device run's."""
    import os
    import subprocess
    import sys

    config = _config(F6, {"poly": dict(kwargs=dict(degree=2)), "oracle": dict()})
    config["learner_seeds"] = 3
    config["instance_seeds"] = 1

    def run(devices):
        env = {**os.environ, "JAX_PLATFORMS": "cpu"}
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        done = subprocess.run(
            [sys.executable, "-c", _SHARDED, json.dumps(config), entry],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])

    one, two = run(1), run(2)
    assert (one["devices"], two["devices"]) == (1, 2)
    assert len(two["rows"]) == 3
    for a, b in zip(one["rows"], two["rows"], strict=True):
        assert (a["instance_seed"], a["learner_seed"]) == (b["instance_seed"], b["learner_seed"])
        assert not b["failed"]
        assert b["mse_all"] == pytest.approx(a["mse_all"], rel=1e-4, abs=1e-9)


def test_tensor_on_prg_is_flagged_not_failed():
    """learners.md: on non-F6 instances the tensor pipeline "finds no usable structure"; its
    finite predictions are scored, and its diagnosis is kept in `flags`."""
    cells = _cells(_config(F1, {"tensor": dict(kwargs=dict(m_max=4, starts=2, lm_steps=5))}))
    rows = runner.run_cell(cells["tensor"])
    _check_rows(cells["tensor"], rows)
    assert all(not r["failed"] and r["fail_reason"] is None for r in rows)
    assert all(np.isfinite(r["adv"]) and r["adv"] < 0.5 for r in rows)
    assert any(r["flags"] for r in rows), [r["flags"] for r in rows]


def test_fresh_pass_is_the_same_whatever_the_chunk_size(f1_cells, monkeypatch):
    cell = f1_cells["oracle"]
    inst = cell.make_instance()
    params, k_train, (_, _, meta), _ = runner.cell_data(inst, cell, 0, runner.Caches())
    pick = lambda t: jax.tree.map(lambda a: a[0], t)

    def stats(chunk):
        monkeypatch.setattr(fresh, "STATS_CHUNK", chunk)
        return fresh.train_stats(
            inst, pick(params), k_train[0], cell.budget, pick(meta), runner.Caches()
        )

    one, many = stats(cell.budget), stats(7)
    assert one["fresh_check"] == many["fresh_check"] == "exact"
    np.testing.assert_array_equal(one["fresh"], many["fresh"])
    assert one["y_mean"] == many["y_mean"]
    # the test rows seen in training are exactly those whose hyperedge hash is among the
    # informative training rows' hashes (an independent, materialized check)
    _, _, train_meta = inst.sample(pick(params), k_train[0], cell.budget)
    from hardnet.analysis import metrics

    inf = np.asarray(train_meta["informative"])
    want = np.asarray(pick(meta)["informative"]) & metrics.fresh_mask(
        np.asarray(train_meta["hyperedge_hash"])[inf], np.asarray(pick(meta)["hyperedge_hash"])
    )
    np.testing.assert_array_equal(one["fresh"], want)


def test_fresh_check_skipped_below_its_bound():
    """F3 with a 12-ary predicate at n=128: (n)_12 ≈ 1e25, so no test hyperedge can be expected
    among the training rows: the pass is skipped and the bound recorded."""
    cells = _cells(
        _config(
            {"f3": dict(family="prg_gauss3_smoothed", fixed=dict(n=128, predicate="xor_maj(5,7)"))},
            {"oracle": dict(learner_seeds=1)},
            instance_seeds=1,
        )
    )
    (row,) = runner.run_cell(cells["oracle"])
    assert row["fresh_check"] == "bound" and 0 < row["fresh_bound"] < 1e-6
    assert row["frac_test_seen"] == 0.0 and not row["failed"]


def test_online_sgd_memory_does_not_grow_with_the_budget():
    """The program of an online sgd cell holds no array with a budget-sized axis: the training
    rows are drawn batch by batch inside it."""
    learner = dict(kwargs=dict(depth=1, width=8, batch_size=64, log_every=10**6))
    small, large = 64 * 50, 64 * 5000
    cells = {
        budget: _cells(_config(F6, {"sgd": learner}, budgets=[budget]))["sgd"]
        for budget in (small, large)
    }
    sizes = {}
    for budget, cell in cells.items():
        inst = cell.make_instance()
        caches = runner.Caches()
        params, k_train, test, _ = runner.cell_data(inst, cell, 0, caches)
        learner_obj = cell.make_learner(inst)
        run = runner._one_run(cell, inst, learner_obj)
        keys = jax.random.split(jax.random.key(0), 4).reshape(2, 2)
        prog = jax.vmap(jax.vmap(run, in_axes=(None, None, 0, None, None)))
        compiled = jax.jit(prog).lower(params, k_train, keys, test[0], test[1]).compile()
        sizes[budget] = compiled.memory_analysis().temp_size_in_bytes
    assert sizes[large] <= 1.1 * sizes[small], sizes


U32 = 2.0**-24  # float32 unit roundoff


def _forward_rounding_bound(params, x):
    """Worst-case float32 rounding of the F6 teacher `f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j)` under any
    order of its sums: a reassociated sum of k products is off by at most `γ_k Σ|terms|` with
    `γ_k ≈ k·u` (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), σ is
    1-Lipschitz and `σ(t) ≤ |t|`, so `|Δf| ≤ 2 (d + m + 2) u |a|ᵀ (|x| |W| + |b|)` per row."""
    w, a, b = (np.abs(np.asarray(params[k], np.float64)) for k in ("W", "a", "b"))
    d, m = w.shape
    return 2 * (d + m + 2) * U32 * ((np.abs(np.asarray(x, np.float64)) @ w + b) @ a)


@pytest.mark.parametrize("chunk", [64, 999, 1000, 4096])
def test_training_rows_drawn_in_chunks_equal_one_draw(chunk):
    """Inputs are bit-identical whatever the chunk: row r is drawn from `fold_in(key, r)` alone
    (elementwise). Labels are a matmul whose summation order XLA may choose by batch shape (a
    second AMD EPYC differed by 4.8e-7 between chunk sizes), so they are compared within the
    rounding bound of the teacher's forward pass, per row."""
    inst = grid.expand(_config(F6, {"poly": {}}))[0].make_instance()
    params = inst.init(jax.random.key(0))
    x, y, _ = inst.sample(params, jax.random.key(1), 1000)

    def read(p, k):
        source = lambda start, num: inst.sample(p, k, num, start)[:2]
        return read_rows(source, 1000, chunk=chunk)

    xc, yc = jax.jit(read)(params, jax.random.key(1))
    np.testing.assert_array_equal(np.asarray(xc), np.asarray(x))
    bound = _forward_rounding_bound(params, x)
    assert np.all(bound < 1e-4 * (1 + np.abs(np.asarray(y))))  # the bound is not vacuous
    excess = np.abs(np.asarray(yc, np.float64) - np.asarray(y, np.float64)) - bound
    assert np.all(excess <= 0), f"{np.max(excess):.3g} above the rounding bound"


@pytest.mark.parametrize("chunk", [64, 999, 4096])
def test_prg_rows_in_chunks_keep_inputs_hyperedges_and_label_bits(chunk):
    """A PRG family (F3 `tsa` n=16): decoded hyperedges, hashes, informative flags and planted
    bits of rows drawn in chunks are bit-identical to one draw (integers from counter-based
    keys), every informative label rounds to the same bit, and the inputs (F3 adds Gaussian
    noise to constructed offsets: one rounding per coordinate, which a program compiled for
    another shape may do in another order) agree to a few units of float32 roundoff."""
    f3 = {"f3": dict(family="prg_gauss3_smoothed", fixed=dict(predicate="tsa", n=16))}
    inst = grid.expand(_config(f3, {"poly": {}}))[0].make_instance()
    params = inst.init(jax.random.key(0))
    key = jax.random.key(1)
    x, y, meta = inst.sample(params, key, 1000)
    parts = [inst.sample(params, key, min(chunk, 1000 - s), s) for s in range(0, 1000, chunk)]
    xc, yc, mc = jax.tree.map(lambda *a: np.concatenate(a), *parts)
    np.testing.assert_allclose(xc, np.asarray(x), rtol=0, atol=4 * U32 * np.abs(xc).max())
    for name in ("hyperedge", "hyperedge_hash", "informative", "planted_bit"):
        np.testing.assert_array_equal(mc[name], np.asarray(meta[name]), err_msg=name)
    inf = np.asarray(meta["informative"])
    assert inf.any()
    np.testing.assert_array_equal(yc[inf] > 0.5, np.asarray(y)[inf] > 0.5)
