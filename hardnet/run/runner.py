"""Run one benchmark cell (instance × learner × budget, all seeds) and measure it (docs/metrics.md).

`run_cell(cell, seed_base)` returns one row per (instance seed i, learner seed j). Every key is
derived from the run seed `seed_base`:

    root      = jax.random.key(seed_base)
    k_i       = fold_in(fold_in(root, 0), i)           # instance seed i
    params_i  = inst.init(fold_in(k_i, 0))
    train_i   = inst.sample(params_i, fold_in(k_i, 1), cell.budget)      # training rows
    test_i    = inst.sample(params_i, fold_in(k_i, 2), cell.test_size)   # disjoint stream
    valid_i   = inst.sample(params_i, fold_in(k_i, 4), cell.test_size)   # tuning trials
    cal_i     = inst.sample(params_i, fold_in(k_i, 5), cell.test_size)   # a trial's calibration
    key_ij    = fold_in(fold_in(k_i, 3), j)            # learner seed j
    k_trivial = fold_in(root, 1)                       # the trivial predictor (seed-agnostic)

Rows of a stream come from `fold_in(key, row)`, so the training set at a budget is a prefix of the
one at a larger budget, and the test set is the same for every learner and budget of an instance
seed (paired comparisons).

Streams. The training rows are never held for the
whole budget outside the program: the test set is sampled on the host, and the cell's program,
one jitted `vmap` over instance seeds of a `vmap` over learner seeds, draws its training data
itself from `train_i`. Every built-in learner has `fit_online` and reads the stream through a
`Source` (rows `start .. start+num`, drawn from their keys), in chunks of its own choosing and as
many times as it needs, so a cell's memory is O(chunk × d + the learner's state + the test set)
whatever its budget (the learners' docstrings say what each holds). A learner without
`fit_online` (one registered by a user) gets the first `budget` rows, drawn inside the program
`SAMPLE_CHUNK` rows at a time (`learners.source.read_rows`: the sampler's temporaries, up to
~9 KB a row on F3 at n=128, stay bounded). Either way the data
of an instance seed are not batched over its learner seeds: they are drawn once and shared,
never copied per learner seed. With several local devices the instance-seed axis is sharded over
a one-axis `jax.sharding.Mesh` (`seeds`; padded to a multiple of the device count by repeating
the last instance seed, whose copies are dropped); on one device it is plain `jit`.
Non-vmappable learners loop in Python over one compiled program. `oracle` is built inside the
program from the params of its instance seed; `trivial`, brute force and gf2 from the instance.

Metrics per row (docs/metrics.md): `mse_all`, `nmse = mse_all / Var(y_test)`; PRG families (meta
has `hyperedge_hash`) add `mse_inf` (informative test rows), `mse_fresh` (informative test rows
whose hyperedge never occurs among the informative training rows of that instance seed:
`fresh.train_stats`, a streamed pass over the training rows, or skipped with its bound recorded in
`fresh_check` / `fresh_bound`), `frac_test_seen` (the complementary fraction), `adv = 1 −
mse_fresh(h) / mse_fresh(trivial)` with `trivial` fitted once per cell with `k_trivial`, `adv_mean`
the same against the mean label of the first `fresh.MEAN_ROWS` training rows, and `acc01` of `1[h >
1/2]` against `meta["planted_bit"]` on the same rows, `auc` (threshold-free) on the same rows,
and `acc01_cal`, the accuracy of `1[h > threshold_cal]` with the threshold chosen on the fresh
informative rows of a held-out calibration set (the validation stream; for a tuning trial, whose
scored rows are the validation stream, the calibration stream `cal_i`): the program predicts on
the test rows and the calibration rows together, and the calibration rows' fresh mask comes from
the same fresh-hyperedge pass; `easy_depth2` adds `cosine_min` and
`cosine_mean` of `metrics.best_cosines(first_layer_rows, params["W"])` for `tensor` (rows `W.T`)
and `sgd` (its first layer). `failed` / `fail_reason`: non-finite predictions, `info["diverged"]`,
`info["failed"]` (tensor: only its non-finite bit), or an exception while compiling or running
(recorded, never raised). `flags`: the learner's own diagnosis when its predictions are finite and
scored anyway (tensor's other failure bits, decoded: "no eigengap", ... — the design's "finds no
usable structure" on non-F6 instances).

`curves`: every learner gets a `monitor` that returns `test_mse` on the first `MONITOR_ROWS` test
rows (and `cosine_min` of the first layer on `easy_depth2`); the info entries logged along training
(`CURVES`: one value per log point, x-axis `step` where the learner logs it, else the index) go into
`row["curves"]`. Cost: `compile_s` (lowering + compilation) and `run_s` (execution) of the cell's
program, shared by all its rows, `num_runs`, `samples` (= budget). Each row carries `cell`
(`Cell.to_json()`), `cell_id`, `seed_base`, `instance_seed`, `learner_seed`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hardnet import learners
from hardnet.analysis import metrics
from hardnet.core.base import Array, Instance, Learner, Params
from hardnet.core.rows import Row, error_reason, failed_rows, identity
from hardnet.core.source import read_rows
from hardnet.core.textio import canonical
from hardnet.run import fresh
from hardnet.run.caches import Caches
from hardnet.run.grid import Cell

__all__ = ["Caches", "keys_for", "learner_key", "run_cell"]

MONITOR_ROWS = 1024
SAMPLE_CHUNK = 8192  # rows per sampler call when a program draws a training set


def keys_for(seed_base: int, instance_seed: int) -> dict[str, Array]:
    """The keys of one instance seed (module docstring): init, train, test, validation."""
    k_i = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed_base), 0), instance_seed)
    names = {"init": 0, "train": 1, "test": 2, "validation": 4, "calibration": 5}  # 3: learners
    return {name: jax.random.fold_in(k_i, t) for name, t in names.items()}


def learner_key(seed_base: int, instance_seed: int, learner_seed: int) -> Array:
    k_i = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed_base), 0), instance_seed)
    return jax.random.fold_in(jax.random.fold_in(k_i, 3), learner_seed)


CALIBRATION = {"test": "validation", "validation": "calibration"}  # scored split -> threshold's


def cell_data(
    inst: Instance, cell: Cell, seed_base: int, caches: Caches
) -> tuple[Params, Array, tuple, tuple | None]:
    """Params, training-stream keys, the test set (x, y, meta) and, for PRG families, the
    calibration set (`CALIBRATION[cell.split]`), stacked over instance seeds. The training rows
    are never drawn here: the cell's program draws them from the keys."""
    ks = [keys_for(seed_base, i) for i in cell.instance_seeds]
    stack = lambda name: jnp.stack([k[name] for k in ks])
    init = caches.get(("init", inst.id), lambda: jax.jit(jax.vmap(inst.init)))
    num = cell.test_size
    sampler = caches.get(
        ("sample", inst.id, num),
        lambda: jax.jit(jax.vmap(lambda p, k: inst.sample(p, k, num))),
    )
    params = init(stack("init"))
    test = sampler(params, stack(cell.split))
    prg = inst.encoding is not None
    calibration = sampler(params, stack(CALIBRATION[cell.split])) if prg else None
    return params, stack("train"), test, calibration


def _monitor(teacher: Array | None, x_test: Array, y_test: Array) -> Callable:
    """`monitor(predict, first_layer)`: test MSE on the first MONITOR_ROWS test rows, and the
    worst best-match cosine of the first layer to the teacher's directions where the instance
    has them (`Instance.teacher_directions`)."""
    rows = min(MONITOR_ROWS, y_test.shape[0])  # x_test may hold calibration rows after these
    xm, ym = x_test[:rows], y_test[:rows]

    def monitor(predict: Callable, first_layer: Array) -> dict[str, Array]:
        out = {"test_mse": jnp.mean((predict(xm) - ym) ** 2)}
        if teacher is not None and first_layer is not None:
            out["cosine_min"] = jnp.min(metrics.best_cosines(first_layer, teacher))
        return out

    return monitor


def _curves(names: tuple[str, ...], info: dict[str, Any]) -> dict[str, Array]:
    """The curves `names` (`Learner.curves`) found in `info` (a monitor output may sit in info
    under its plain name; it is renamed `monitor/<name>`), with `step` when the learner logs
    it."""
    out = {}
    for name in names:
        plain = name.removeprefix("monitor/")
        if name in info:
            out[name] = info[name]
        elif plain in info and plain != name:
            out[name] = info[plain]
    if out and "step" in info:
        out["step"] = info["step"]
    return out


def _one_run(cell: Cell, inst: Instance, learner: Any) -> Callable:
    """`(params, k_train, key, x_test, y_test) -> outputs` of one (instance seed, learner seed).

    The training data are drawn inside: a learner with `fit_online` reads the instance's
    training stream batch by batch (`source(start, num)`: memory O(batch), the budget is the
    number of samples seen); any other learner gets the first `budget` rows of the same stream."""

    def run(params, k_train, key, x_test, y_test):
        lrn = cell.make_learner(inst, params) if learner is None else learner
        teacher = None if inst.teacher_directions is None else inst.teacher_directions(params)
        monitor = _monitor(teacher, x_test, y_test)
        source = functools.partial(_stream_rows, inst.sample, params, k_train)
        if lrn.fit_online is not None:
            pred = lrn.fit_online(key, source, cell.budget, monitor=monitor)
        else:
            x, y = read_rows(source, cell.budget, chunk=SAMPLE_CHUNK)
            pred = lrn.fit(key, x, y, monitor=monitor)
        out = {"y_hat": pred(x_test)}
        info = pred.info
        curves = _curves(lrn.curves, info)
        if curves:
            out["curves"] = curves
        if "diverged" in info:
            out["diverged"] = jnp.any(info["diverged"])
        if "failed" in info:
            out["info_failed"] = jnp.any(info["failed"])
        if "failure_reason" in info:
            out["failure_reason"] = jnp.asarray(info["failure_reason"]).astype(jnp.int32)
        if teacher is not None and lrn.first_layer is not None:
            cos = metrics.best_cosines(lrn.first_layer(pred.state), teacher)
            out["cosine_min"], out["cosine_mean"] = jnp.min(cos), jnp.mean(cos)
        return out

    return run


def _stream_rows(sample: Callable, params: Params, key: Array, start: Array, num: int):
    """Rows `start .. start+num` of a training stream, without their meta (`base.Source`)."""
    x, y, _ = sample(params, key, num, start)
    return x, y


def _timed(fn: Callable, *args: Any) -> tuple[Any, float, float]:
    """(outputs as NumPy, compile seconds, run seconds) of `jax.jit(fn)(*args)`."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    t2 = time.perf_counter()
    return jax.tree.map(np.asarray, out), t1 - t0, t2 - t1


def _seed_sharding(num: int) -> tuple[Any, int]:
    """(NamedSharding of the instance-seed axis over a `seeds` mesh of the local devices, padded
    instance-seed count), or (None, num) on one device (plain jit)."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return None, num
    mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
    padded = -(-num // len(devices)) * len(devices)
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds")), padded


def _shared_learner(cell: Cell, inst: Instance) -> Learner | None:
    """The cell's learner, or None for one that needs the planted params (an entry that
    `needs` "params" is built inside the program, per instance seed)."""
    if "params" in learners.entry(cell.learner).needs:
        return None
    return cell.make_learner(inst)


def _fit_all(cell: Cell, inst: Instance, learner: Learner | None, params, k_train, test, seed_base):
    """Outputs stacked over the flat pair axis (i major, j minor), compile and run seconds.
    `test` is (x, y) of the rows to predict: the test rows first (the monitor reads its first
    rows), then the calibration rows where there are any.

    One program: `vmap` over instance seeds of `vmap` over learner seeds. The training rows and
    the params of an instance seed are not batched over its learner seeds, so they are drawn
    once per instance seed, never copied per learner seed. With several local devices the
    instance-seed axis is sharded (padded by repeating the last instance seed; copies dropped)."""
    precision = None if learner is None else learner.matmul_precision
    with jax.default_matmul_precision(precision):  # traced, lowered and run under it
        return _fit_programs(cell, inst, learner, params, k_train, test, seed_base)


def _fit_programs(cell: Cell, inst: Instance, learner: Learner | None, params, k_train, test,
                  seed_base):  # fmt: skip
    """`_fit_all` under the learner's matmul precision."""
    n_i, n_j = len(cell.instance_seeds), len(cell.learner_seeds)
    keys = jnp.stack(
        [jnp.stack([learner_key(seed_base, i, j) for j in cell.learner_seeds])
         for i in cell.instance_seeds]
    )  # fmt: skip
    run = _one_run(cell, inst, learner)
    x_test, y_test = test
    args = (params, k_train, keys, x_test, y_test)
    if learner is None or learner.vmappable:
        sharding, padded = _seed_sharding(n_i)
        if sharding is not None:
            pad = lambda a: jnp.concatenate([a] + [a[-1:]] * (padded - n_i))
            args = jax.device_put(jax.tree.map(pad, args), sharding)
        over_learner_seeds = jax.vmap(run, in_axes=(None, None, 0, None, None))
        out, compile_s, run_s = _timed(jax.vmap(over_learner_seeds), *args)
        flat = lambda a: a[:n_i].reshape(n_i * n_j, *a.shape[2:])
        return jax.tree.map(flat, out), compile_s, run_s

    def one(a: int, b: int) -> tuple:
        pick = lambda t: t[a]
        return (*jax.tree.map(pick, (params, k_train)), keys[a, b], x_test[a], y_test[a])

    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(*one(0, 0)).compile()
    t1 = time.perf_counter()
    outs = [jax.block_until_ready(compiled(*one(a, b))) for a in range(n_i) for b in range(n_j)]
    t2 = time.perf_counter()
    stacked = jax.tree.map(lambda *a: np.stack([np.asarray(v) for v in a]), *outs)
    return stacked, t1 - t0, t2 - t1


def trivial_predictions(
    inst: Instance, cell: Cell, x_test: Array, seed_base: int, caches: Caches
) -> np.ndarray:
    """The trivial predictor (fitted once with `k_trivial`) on each instance seed's test set,
    once per (instance, seed_base, instance seeds, test size): every learner and budget of an
    instance shares the same test set and baseline, and the baseline (a Monte Carlo average of
    the teacher over `draws` seeds) costs more than most cells' training."""

    def compute() -> np.ndarray:
        trivial = learners.make_for(learners.BASELINE, {}, inst)

        def predict(key, x_test):
            pred = trivial.fit(key, x_test[0, :1], jnp.zeros((1,), jnp.float32))
            return jax.vmap(pred)(x_test)

        key = jax.random.fold_in(jax.random.key(seed_base), 1)
        return np.asarray(jax.jit(predict)(key, x_test))

    key = ("baseline", inst.id, seed_base, tuple(cell.instance_seeds), cell.test_size, cell.split)
    return caches.get(key, compute)


def _fail_reasons(
    describe: Callable[[int], tuple[list[str], list[str]]] | None,
    out: dict[str, np.ndarray],
    p: int,
) -> tuple[list[str], list[str]]:
    """(failures, flags) of run p. A failure leaves no usable predictions (non-finite, diverged,
    or what the learner's `describe_failure` says voids them); a flag is the learner's own
    diagnosis with finite predictions that are still scored (e.g. tensor on a PRG instance
    "finds no usable structure", docs/learners.md)."""
    reasons, flags = [], []
    if not np.all(np.isfinite(out["y_hat"][p])):
        reasons.append("non-finite predictions")
    if "diverged" in out and bool(out["diverged"][p]):
        reasons.append("diverged (info['diverged'])")
    if "info_failed" in out and bool(out["info_failed"][p]):
        if "failure_reason" in out and describe is not None:
            failures, diagnoses = describe(int(np.max(out["failure_reason"][p])))
            reasons += failures
            flags += diagnoses
        else:
            reasons.append("failed (info['failed'])")
    return reasons, flags


def _learner_fields(out: dict[str, Any], p: int, describe: Callable | None) -> dict[str, Any]:
    """Run p's teacher alignment, curves and failure fields, read from the program's outputs."""
    fields: dict[str, Any] = {}
    for name in ("cosine_min", "cosine_mean"):
        if name in out:
            fields[name] = float(out[name][p])
    if "curves" in out:
        fields["curves"] = {k: np.asarray(v[p]).tolist() for k, v in out["curves"].items()}
    reasons, flags = _fail_reasons(describe, out, p)
    fields["failed"] = bool(reasons)
    fields["fail_reason"] = "; ".join(reasons) if reasons else None
    fields["flags"] = "; ".join(flags) if flags else None
    return fields


def run_cell(cell: Cell, seed_base: int = 0, caches: Caches | None = None) -> list[Row]:
    """Train and evaluate every (instance seed, learner seed) of `cell`; one row per run
    (`core.rows.Row`), scored by `metrics.score_run`."""
    if cell.learner == learners.OUTSIDE:  # any framework: the harness of run/outside.py
        from hardnet.run import outside  # imports this module

        return outside.run_cell(cell, seed_base, caches)
    caches = Caches() if caches is None else caches
    # one Instance object per configuration: the jitted samplers keyed on its functions (the
    # test set, the fresh-hyperedge pass) then compile once per block, not once per cell
    inst = caches.get(
        ("instance", cell.family, canonical(cell.instance_kwargs)), cell.make_instance
    )
    facts = cell.facts(inst)
    params, k_train, test, calibration = cell_data(inst, cell, seed_base, caches)
    x_test, y_test, _ = test
    x_eval = x_test
    if calibration is not None:
        x_eval = jnp.concatenate([x_test, calibration[0]], axis=1)
    try:
        learner = _shared_learner(cell, inst)
        evaluate = (x_eval, y_test)
        out, compile_s, run_s = _fit_all(cell, inst, learner, params, k_train, evaluate, seed_base)
    except Exception as e:  # recorded as failed runs; the benchmark goes on
        return failed_rows(cell, seed_base, facts, error_reason(e))

    y_test = np.asarray(y_test)
    num_test = y_test.shape[1]
    prg = calibration is not None
    if prg:
        trivial_hat = trivial_predictions(inst, cell, x_test, seed_base, caches)
    describe = None if learner is None else learner.describe_failure
    base = identity(cell, seed_base, facts)
    device = jax.local_devices()[0]  # where this process ran the cell (run/probe.py)
    base.update(
        compile_s=compile_s, run_s=run_s, backend=jax.default_backend(),
        device_kind=device.device_kind,
    )  # fmt: skip
    rows, n_j = [], len(cell.learner_seeds)
    for a, i in enumerate(cell.instance_seeds):
        fresh_test, fresh_fields = None, {}
        if prg:
            fresh_test, fresh_fields = fresh.fresh_test(
                inst, cell.budget, params, k_train, test, trivial_hat, caches, a, calibration
            )
        for b, j in enumerate(cell.learner_seeds):
            p = a * n_j + b
            row = Row(**base, instance_seed=i, learner_seed=j)
            y_hat = out["y_hat"][p]
            scored = fresh_test
            if fresh_test is not None:
                scored = fresh_test.calibrated(y_hat[num_test:])
            row.update(metrics.score_run(y_hat[:num_test], y_test[a], scored))
            row.update(fresh_fields)
            row.update(_learner_fields(out, p, describe))
            rows.append(row)
    return rows
