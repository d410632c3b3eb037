"""The workdir store (hardnet.run.results) and the TensorFlow-free TensorBoard writer
(hardnet.run.tblog).

Crash safety is tested with real SIGKILLs of writer subprocesses, concurrency with two processes
writing disjoint cells into one workdir at once; both must give results.jsonl byte-identical to an
uninterrupted single-process run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hardnet.run import provenance, results
from hardnet.run.tblog import CellWriter

REPO = Path(__file__).resolve().parents[1]
# A safety net, not a measurement: what it waits for took at most a few seconds on one core of a
# 2-core AMD EPYC (taskset -c 0); the limit sits over 10× above that.
RUN_TIMEOUT = 1800
NUM_CELLS = 60
CELLS = [f"c{i:03d}" for i in range(NUM_CELLS)]
ORDER = CELLS[::-1]  # a grid order that is not the id order
CONFIG = {"name": "t", "instance_seeds": [0, 1], "learner_seeds": [0, 1, 2], "lr": 0.1}

# Shared by this module and the writer subprocesses: deterministic rows for cell i.
ROWS_SRC = """
import numpy as np

def make_rows(i):
    rng = np.random.default_rng(i)
    rows = []
    for s in range(6):
        v = rng.normal(size=8).astype(np.float32)
        if (i + s) % 7 == 0:
            v[2] = np.nan
        rows.append({"cell": int(i), "instance_seed": s // 3, "learner_seed": np.int32(s % 3),
                     "adv": np.float32(v[0]), "curve": v, "ok": np.bool_(v[1] > 0),
                     "pad": "x" * 2000})
    return rows
"""
_ns: dict = {}
exec(ROWS_SRC, _ns)
make_rows = _ns["make_rows"]

WRITER_SRC = (
    ROWS_SRC
    + f"NUM_CELLS = {NUM_CELLS}\n"
    + """
import sys
from hardnet.run import provenance, results
wd, shard, num_shards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = {"name": "t", "instance_seeds": [0, 1], "learner_seeds": [0, 1, 2], "lr": 0.1}
cells = [f"c{i:03d}" for i in range(NUM_CELLS)]
store = results.open_workdir(wd, config, cell_order=cells[::-1], probe_devices=False)
for i, c in enumerate(cells):
    if i % num_shards != shard or store.done(c):
        continue
    store.write_cell(c, make_rows(i))
"""
)


def _spawn(wd: Path, shard: int = 0, num_shards: int = 1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_SRC, str(wd), str(shard), str(num_shards)], env=env
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> bytes:
    """results.jsonl of an uninterrupted single-process run over all cells."""
    wd = tmp_path_factory.mktemp("ref")
    store = results.open_workdir(wd, CONFIG, cell_order=ORDER, probe_devices=False)
    for i, c in enumerate(CELLS):
        store.write_cell(c, make_rows(i))
    data = (wd / "results.jsonl").read_bytes()
    assert data.count(b"\n") == 6 * NUM_CELLS
    return data


def _strict_lines(data: bytes) -> list[dict]:
    def bad(tok):
        raise AssertionError(f"non-standard JSON constant {tok}")

    return [json.loads(x, parse_constant=bad) for x in data.decode().splitlines()]


def test_reference_order_and_plain_json(reference):
    rows = _strict_lines(reference)
    assert [r["cell"] for r in rows[::6]] == list(range(NUM_CELLS))[::-1]  # ORDER, then row order
    assert [(r["instance_seed"], r["learner_seed"]) for r in rows[:6]] == [
        (s // 3, s % 3) for s in range(6)
    ]
    assert all(r["cell_id"] == f"c{r['cell']:03d}" for r in rows)


def test_sigkill_and_restart_gives_identical_results(tmp_path, reference):
    wd = tmp_path / "wd"
    for stop_at in (5, 25):  # kill twice, at different points
        p = _spawn(wd)
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            if len(list((wd / "cells").glob("*.json"))) >= stop_at:
                break
            time.sleep(0.002)
        assert p.poll() is None, "writer finished before it could be killed"
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
        done = list((wd / "cells").glob("*.json"))
        assert stop_at <= len(done) < NUM_CELLS
        for f in done:  # every visible cell file is complete
            assert len(json.loads(f.read_text())["rows"]) == 6
        for line in (wd / "results.jsonl").read_text().splitlines():  # and results.jsonl too
            json.loads(line)
    p = _spawn(wd)  # restart: finish the remaining cells
    assert p.wait(timeout=RUN_TIMEOUT) == 0
    assert (wd / "results.jsonl").read_bytes() == reference
    assert len(json.loads((wd / "meta.json").read_text())["sessions"]) == 3


def test_kill_between_cell_write_and_rebuild_loses_nothing(tmp_path, reference, monkeypatch):
    wd = tmp_path / "wd"
    store = results.open_workdir(wd, CONFIG, cell_order=ORDER, probe_devices=False)
    for i, c in enumerate(CELLS[:-1]):
        store.write_cell(c, make_rows(i))
    monkeypatch.setattr(results.Store, "rebuild", lambda self: 0)  # "killed" before rebuild
    store.write_cell(CELLS[-1], make_rows(NUM_CELLS - 1))
    assert (wd / "results.jsonl").read_bytes() != reference
    monkeypatch.undo()
    store = results.open_workdir(wd, CONFIG, cell_order=ORDER, probe_devices=False)
    assert all(store.done(c) for c in CELLS)
    assert (wd / "results.jsonl").read_bytes() == reference


def test_concurrent_shards_into_one_workdir(tmp_path, reference):
    wd = tmp_path / "shared"
    procs = [_spawn(wd, shard, 2) for shard in range(2)]
    assert [p.wait(timeout=RUN_TIMEOUT) for p in procs] == [0, 0]
    assert (wd / "results.jsonl").read_bytes() == reference  # as left by the last rebuild
    assert len(json.loads((wd / "meta.json").read_text())["sessions"]) == 2


def test_racing_rebuilds_do_not_lose_rows(tmp_path):
    """Deterministic race: a rebuild that listed the cells before another process wrote one must
    not overwrite the newer results.jsonl (the lock orders the two rebuilds)."""
    a = results.open_workdir(tmp_path, CONFIG, probe_devices=False)
    b = results.open_workdir(tmp_path, CONFIG, probe_devices=False)  # another "process"
    for i in range(4):
        a.write_cell(CELLS[i], make_rows(i))
    listed = threading.Event()

    def slow_listing():
        cells = results.Store.done_cells(a)
        listed.set()
        time.sleep(0.3)
        return cells

    a.done_cells = slow_listing
    t = threading.Thread(target=a.rebuild)
    t.start()
    assert listed.wait(10)
    b.write_cell(CELLS[4], make_rows(4))
    t.join()
    assert len(b.rows()) == 5 * 6


def test_merge_shard_workdirs(tmp_path, reference):
    srcs = [tmp_path / f"shard{k}" for k in range(2)]
    for k, src in enumerate(srcs):
        store = results.open_workdir(src, CONFIG, probe_devices=False)
        for i, c in enumerate(CELLS):
            if i % 2 == k:
                store.write_cell(c, make_rows(i))
    merged = results.merge_workdirs(
        tmp_path / "merged", srcs, cell_order=ORDER, probe_devices=False
    )
    assert (merged.root / "results.jsonl").read_bytes() == reference
    # merging again is idempotent; a conflicting cell is an error
    results.merge_workdirs(tmp_path / "merged", srcs, cell_order=ORDER, probe_devices=False)
    results.open_workdir(srcs[0], CONFIG, probe_devices=False).write_cell(CELLS[1], make_rows(0))
    with pytest.raises(ValueError, match="c001 differs"):
        results.merge_workdirs(tmp_path / "merged", srcs, probe_devices=False)
    other = tmp_path / "other"
    results.open_workdir(other, {**CONFIG, "lr": 0.2}, probe_devices=False)
    with pytest.raises(ValueError, match="another config"):
        results.merge_workdirs(tmp_path / "m2", [srcs[1], other], probe_devices=False)


def test_config_mismatch_raises(tmp_path):
    results.open_workdir(tmp_path, CONFIG, probe_devices=False)
    results.open_workdir(tmp_path, dict(reversed(CONFIG.items())), probe_devices=False)  # same
    with pytest.raises(ValueError, match=r"belongs to another config.*lr"):
        results.open_workdir(tmp_path, {**CONFIG, "lr": 0.2}, probe_devices=False)
    with pytest.raises(ValueError, match="another config"):
        results.open_workdir(tmp_path, {**CONFIG, "extra": 1}, probe_devices=False)
    assert json.loads((tmp_path / "config.json").read_text()) == CONFIG


def test_meta_fields(tmp_path):
    store = results.open_workdir(tmp_path, CONFIG)
    meta = json.loads((tmp_path / "meta.json").read_text())
    for pkg in ("jax", "jaxlib", "flax", "optax", "numpy", "hardnet"):
        assert isinstance(meta["versions"][pkg], str), pkg
    for key in ("platform", "python", "start_time", "host", "backend"):
        assert isinstance(meta[key], str), key
    assert meta["devices"] and all(isinstance(d, str) for d in meta["devices"])
    assert meta["seeds"] == {"instance_seeds": [0, 1], "learner_seeds": [0, 1, 2]}
    rev = meta["git_revision"]
    assert rev is None or (len(rev) == 40 and int(rev, 16) >= 0)
    assert store.rows() == []
    assert provenance.git_revision(tmp_path) is None  # not a repository: None, no crash


def test_git_missing_never_crashes(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert provenance.git_revision() is None
    assert provenance.collect_meta(probe_devices=False)["git_revision"] is None


def test_nonfinite_and_array_round_trip(tmp_path):
    store = results.open_workdir(tmp_path, CONFIG, probe_devices=False)
    row = {
        "np_nan": np.float32("nan"),
        "inf": float("inf"),
        "jax_neg_inf": jnp.float32(-jnp.inf),
        "jax_vec": jnp.array([1.5, jnp.nan, jnp.inf]),
        "bf16": jnp.array([0.5, 2.0], dtype=jnp.bfloat16),
        "i64": np.int64(7),
        "b": jnp.bool_(True),
        "nested": {"t": (1, np.float64(2.5)), "m": np.eye(2, dtype=np.float32)},
        "reason": None,
        "s": "nanx",
    }
    store.write_cell("cell.a", [row])
    line = (tmp_path / "results.jsonl").read_bytes()
    raw = _strict_lines(line)[0]
    assert raw["np_nan"] == "nan" and raw["inf"] == "inf" and raw["jax_neg_inf"] == "-inf"
    (back,) = store.rows()
    assert store.read_cell("cell.a")[0].keys() == back.keys()
    assert math.isnan(back["np_nan"]) and back["inf"] == math.inf
    assert back["jax_neg_inf"] == -math.inf
    assert back["jax_vec"][0] == 1.5 and math.isnan(back["jax_vec"][1])
    assert back["jax_vec"][2] == math.inf
    assert back["bf16"] == [0.5, 2.0] and back["i64"] == 7 and back["b"] is True
    assert back["nested"] == {"t": [1, 2.5], "m": [[1.0, 0.0], [0.0, 1.0]]}
    assert back["reason"] is None and back["s"] == "nanx" and back["cell_id"] == "cell.a"
    with pytest.raises(ValueError, match="reserved"):
        store.write_cell("cell.b", [{"reason": "nan"}])
    with pytest.raises(TypeError, match=r"cell\.b\[0\]\.obj"):
        store.write_cell("cell.b", [{"obj": object()}])
    with pytest.raises(ValueError, match="cell_id"):
        store.write_cell("../evil", [{}])
    with pytest.raises(ValueError, match="has cell_id"):
        store.write_cell("cell.b", [{"cell_id": "other"}])
    assert not store.done("cell.b") and store.done("cell.a")


def test_tensorboard_round_trip(tmp_path):
    steps = np.array([100, 200, 300, 400])
    loss = np.array([[4.0, 3.0, 2.0, 1.0], [2.0, np.nan, 1.0, 0.5], [3.0, 2.0, np.inf, 0.0]])
    with CellWriter(tmp_path, "f6-d16", "sgd", enabled=True) as w:
        w.scalars("train", {"loss": loss, "mean_only": jnp.arange(4.0)}, steps, per_seed=True)
        w.hparams({"lr": 0.1, "n": 32, "family": "tsa", "widths": [8, 8]}, {"adv": 0.25})
    logdir = tmp_path / "tb" / "f6-d16" / "sgd"
    ea = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    ea.Reload()
    assert {"train/loss", "train/mean_only", "hparam/adv"} <= set(ea.Tags()["scalars"])
    got = [(e.step, e.value) for e in ea.Scalars("train/loss")]
    assert got == [(100, 3.0), (200, 2.5), (300, 1.5), (400, 0.5)]  # mean over finite seeds
    assert [e.value for e in ea.Scalars("train/mean_only")] == [0.0, 1.0, 2.0, 3.0]
    assert ea.Scalars("hparam/adv")[0].value == 0.25
    assert "_hparams_/experiment" in ea.PluginTagToContent("hparams")
    seed1 = EventAccumulator(str(logdir / "seed_1"))
    seed1.Reload()
    assert [(e.step, e.value) for e in seed1.Scalars("train/loss")] == [
        (100, 2.0),
        (300, 1.0),
        (400, 0.5),
    ]
    assert sorted(p.name for p in logdir.iterdir() if p.is_dir()) == ["seed_0", "seed_1", "seed_2"]
    # a restarted cell starts from an empty log directory; a disabled writer writes nothing
    CellWriter(tmp_path, "f6-d16", "sgd", enabled=True).close()
    assert not (logdir / "seed_0").exists()
    off = CellWriter(tmp_path, "other", "sgd", enabled=False)
    off.scalars("train", {"loss": loss}, steps, per_seed=True)
    off.hparams({"lr": 0.1}, {"adv": 0.0})
    off.close()
    assert not (tmp_path / "tb" / "other").exists()
    with pytest.raises(ValueError, match="len\\(steps\\)=4"):
        CellWriter(tmp_path, "x", enabled=False).scalars("t", {"a": np.zeros(3)}, steps)


def test_curves_from_rows_and_samples_points(tmp_path):
    from hardnet.run import tblog

    rows = [
        {"curves": {"step": [0, 10, 20], "train_loss": [3.0, 2.0, 1.0]}},
        {"curves": {"step": [0, 10, 20], "train_loss": [1.0, 1.0, 0.0]}},
        {"failed": True},  # no curves: skipped
    ]
    with CellWriter(tmp_path, "c1", "sgd", enabled=True) as w:
        w.curves_from_rows(rows)
    ea = EventAccumulator(str(tmp_path / "tb" / "c1" / "sgd"))
    ea.Reload()
    assert [(e.step, e.value) for e in ea.Scalars("train/train_loss")] == [
        (0, 2.0),
        (10, 1.5),
        (20, 0.5),
    ]
    # one point per cell at step = samples; logging a cell again replaces its point
    tblog.samples_point(tmp_path, "series", "cell-b100", 100, {"adv": 0.1}, enabled=True)
    tblog.samples_point(tmp_path, "series", "cell-b1000", 1000, {"adv": 0.5}, enabled=True)
    tblog.samples_point(tmp_path, "series", "cell-b1000", 1000, {"adv": 0.7}, enabled=True)
    run = tmp_path / "tb" / "by_samples" / "series"
    assert len(list(run.glob("events.out.tfevents.*"))) == 2
    ea = EventAccumulator(str(run))
    ea.Reload()
    points = sorted((e.step, round(e.value, 6)) for e in ea.Scalars("adv"))
    assert points == [(100, 0.1), (1000, 0.7)]


def test_merge_accepts_a_cell_run_twice_whose_rows_differ_only_in_timings(tmp_path):
    srcs = [tmp_path / f"shard{k}" for k in range(2)]
    for k, src in enumerate(srcs):
        timed = [{**r, "compile_s": 1.0 + k, "run_s": 2.0 * k} for r in make_rows(0)]
        results.open_workdir(src, CONFIG, probe_devices=False).write_cell(CELLS[0], timed)
    merged = results.merge_workdirs(tmp_path / "merged", srcs, probe_devices=False)
    assert [r["compile_s"] for r in merged.rows()] == [1.0] * 6  # the first workdir's copy
    other = [{**r, "adv": r["adv"] + 1e-3} for r in make_rows(0)]
    results.open_workdir(srcs[1], CONFIG, probe_devices=False).write_cell(CELLS[0], other)
    with pytest.raises(ValueError, match="c000 differs"):
        results.merge_workdirs(tmp_path / "m2", srcs, probe_devices=False)
