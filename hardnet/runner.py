"""Run one benchmark cell (instance × learner × budget, all seeds) and measure it (metrics.md).

`run_cell(cell, seed_base)` returns one row per (instance seed i, learner seed j). Every key is
derived from the run seed `seed_base`:

    root      = jax.random.key(seed_base)
    k_i       = fold_in(fold_in(root, 0), i)           # instance seed i
    params_i  = inst.init(fold_in(k_i, 0))
    train_i   = inst.sample(params_i, fold_in(k_i, 1), cell.budget)      # training rows
    test_i    = inst.sample(params_i, fold_in(k_i, 2), cell.test_size)   # disjoint stream
    key_ij    = fold_in(fold_in(k_i, 3), j)            # learner seed j
    k_trivial = fold_in(root, 1)                       # the trivial predictor (seed-agnostic)

Rows of a stream come from `fold_in(key, row)`, so the training set at a budget is a prefix of the
one at a larger budget, and the test set is the same for every learner and budget of an instance
seed (paired comparisons).

Vmappable learners train all pairs in one jitted program: the data of instance seed i are
repeated over the learner seeds, and `fit(key_ij, x_i, y_i)` (budget None: the learner's own
default work; the cell's budget is the number of training rows) and the predictor on the test
inputs are `jax.vmap`-ed over the flat pair axis. With several local devices the pair axis is
sharded over a one-axis `jax.sharding.Mesh` (`seeds`; padded to a multiple of the device count
by repeating the last pair, whose copies are dropped); on one device it is plain `jit`. Other
learners loop in Python over one compiled program. `oracle` is built inside the program from
the params of its instance seed; `trivial`, brute force and gf2 from the instance.

Metrics per row (spec metrics.md): `mse_all`, `nmse = mse_all / Var(y_test)`; PRG families (meta
has `hyperedge_hash`) add `mse_inf` (informative test rows), `mse_fresh` (informative test rows
whose hyperedge never occurs among the informative training rows of that instance seed:
`metrics.fresh_mask`), `frac_test_seen` (the complementary fraction), `adv = 1 − mse_fresh(h) /
mse_fresh(trivial)` with `trivial` fitted once per cell with `k_trivial`, and `acc01` of
`1[h > 1/2]` against `meta["planted_bit"]` on the same rows; `easy_depth2` adds `cosine_min` and
`cosine_mean` of `metrics.best_cosines(first_layer_rows, params["W"])` for `tensor` (rows
`W.T`) and `sgd` (its first layer). `failed` / `fail_reason`: non-finite predictions,
`info["diverged"]`, `info["failed"]` (tensor: only its non-finite bit), or an exception while
compiling or running (recorded, never raised). `flags`: the learner's own diagnosis when its
predictions are finite and scored anyway (tensor's other failure bits, decoded: "no eigengap",
... — the spec's "finds no usable structure" on non-F6 instances).

`curves`: every learner gets a `monitor` that returns `test_mse` on the first `MONITOR_ROWS` test
rows (and `cosine_min` of the first layer on `easy_depth2`); the info entries logged along training
(`CURVES`: one value per log point, x-axis `step` where the learner logs it, else the index) go into
`row["curves"]`. Cost: `compile_s` (lowering + compilation) and `run_s` (execution) of the cell's
program, shared by all its rows, `num_runs`, `samples` (= budget). Each row carries `cell`
(`Cell.to_json()`), `cell_id`, `seed_base`, `instance_seed`, `learner_seed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hardnet import learners, metrics
from hardnet.base import Array, Instance, Params
from hardnet.grid import Cell
from hardnet.learners.mlp import Network

FIRST_LAYER: dict[str, Callable[[Any], Array]] = {
    "tensor": lambda state: state["W"].T,
    "sgd": Network.first_layer,
}
MONITOR_ROWS = 1024
# Per learner: the info entries that are curves along training (one value per log point).
CURVES: dict[str, tuple[str, ...]] = {
    "sgd": ("train_loss", "weight_movement", "monitor/test_mse", "monitor/cosine_min"),
    "tensor": ("lm_loss",),
}


def keys_for(seed_base: int, instance_seed: int) -> dict[str, Array]:
    """The keys of one instance seed (module docstring): init, train, test, learner base."""
    k_i = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed_base), 0), instance_seed)
    return {name: jax.random.fold_in(k_i, t) for t, name in enumerate(("init", "train", "test"))}


def learner_key(seed_base: int, instance_seed: int, learner_seed: int) -> Array:
    k_i = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed_base), 0), instance_seed)
    return jax.random.fold_in(jax.random.fold_in(k_i, 3), learner_seed)


_JITTED: dict[tuple, Callable] = {}


def _jitted(key: tuple, make: Callable[[], Callable]) -> Callable:
    """A jitted function cached per (purpose, instance id, sizes): cells that share an instance
    (other learners, budgets, seed_base) reuse its compilation."""
    if key not in _JITTED:
        _JITTED[key] = jax.jit(make())
    return _JITTED[key]


def _data(inst: Instance, cell: Cell, seed_base: int) -> tuple[Params, tuple, tuple]:
    """Params, train (x, y, meta) and test (x, y, meta), stacked over instance seeds."""
    ks = [keys_for(seed_base, i) for i in cell.instance_seeds]
    stack = lambda name: jnp.stack([k[name] for k in ks])
    init = _jitted(("init", inst.id), lambda: jax.vmap(inst.init))

    def sampler(num: int) -> Callable:
        return _jitted(
            ("sample", inst.id, num), lambda: jax.vmap(lambda p, k: inst.sample(p, k, num))
        )

    params = init(stack("init"))
    train = sampler(cell.budget)(params, stack("train"))
    test = sampler(cell.test_size)(params, stack("test"))
    return params, train, test


def _monitor(params: Params, x_test: Array, y_test: Array, cosines: bool) -> Callable:
    """`monitor(predict, first_layer)`: test MSE on the first MONITOR_ROWS test rows, and the
    worst best-match cosine to the teacher's directions on F6."""
    xm, ym = x_test[:MONITOR_ROWS], y_test[:MONITOR_ROWS]

    def monitor(predict: Callable, first_layer: Array) -> dict[str, Array]:
        out = {"test_mse": jnp.mean((predict(xm) - ym) ** 2)}
        if cosines:
            out["cosine_min"] = jnp.min(metrics.best_cosines(first_layer, params["W"]))
        return out

    return monitor


def _curves(learner: str, info: dict[str, Any]) -> dict[str, Array]:
    """The curves of `CURVES[learner]` found in `info` (sgd: the monitor outputs are plain names
    in info; they are renamed `monitor/<name>`), with `step` when the learner logs it."""
    out = {}
    for name in CURVES.get(learner, ()):
        plain = name.removeprefix("monitor/")
        if name in info:
            out[name] = info[name]
        elif plain in info and plain != name:
            out[name] = info[plain]
    if out and "step" in info:
        out["step"] = info["step"]
    return out


def _one_run(cell: Cell, inst: Instance, learner: Any, cosines: bool) -> Callable:
    """`(params, key, x, y, x_test, y_test) -> outputs` of one (instance seed, learner seed)."""

    def run(params, key, x, y, x_test, y_test):
        lrn = cell.make_learner(inst, params) if learner is None else learner
        monitor = _monitor(params, x_test, y_test, cosines)
        pred = lrn.fit(key, x, y, monitor=monitor)
        out = {"y_hat": pred(x_test)}
        info = pred.info
        curves = _curves(cell.learner, info)
        if curves:
            out["curves"] = curves
        if "diverged" in info:
            out["diverged"] = jnp.any(info["diverged"])
        if "failed" in info:
            out["info_failed"] = jnp.any(info["failed"])
        if "failure_reason" in info:
            out["failure_reason"] = jnp.asarray(info["failure_reason"]).astype(jnp.int32)
        if cosines:
            cos = metrics.best_cosines(FIRST_LAYER[cell.learner](pred.state), params["W"])
            out["cosine_min"], out["cosine_mean"] = jnp.min(cos), jnp.mean(cos)
        return out

    return run


def _timed(fn: Callable, *args: Any) -> tuple[Any, float, float]:
    """(outputs as NumPy, compile seconds, run seconds) of `jax.jit(fn)(*args)`.

    Each cell compiles its own program. Reusing a compiled generic-learner program across cells
    with the same shapes (e.g. an instance's null and dictator variants) saved about a fifth of
    the headline run, but a reused `tensor` program hung in `block_until_ready` (jax 0.10.2,
    CPU), so it is not done."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    t2 = time.perf_counter()
    return jax.tree.map(np.asarray, out), t1 - t0, t2 - t1


def _pair_sharding(num_pairs: int) -> tuple[Any, int]:
    """(NamedSharding of the pair axis over a `seeds` mesh of the local devices, padded pair
    count), or (None, num_pairs) on one device (plain jit)."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return None, num_pairs
    mesh = jax.sharding.Mesh(np.array(devices), ("seeds",))
    padded = -(-num_pairs // len(devices)) * len(devices)
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("seeds")), padded


def _fit_all(cell: Cell, inst: Instance, params, train, test, seed_base: int):
    """Outputs stacked over the flat pair axis (i major, j minor), compile and run seconds."""
    n_i, n_j = len(cell.instance_seeds), len(cell.learner_seeds)
    pairs = [(a, learner_key(seed_base, i, j)) for a, i in enumerate(cell.instance_seeds)
             for j in cell.learner_seeds]  # fmt: skip
    learner = None if cell.learner == "oracle" else cell.make_learner(inst)
    cosines = cell.family == "easy_depth2" and cell.learner in FIRST_LAYER
    run = _one_run(cell, inst, learner, cosines)
    (x, y, _), (x_test, y_test, _) = train, test
    if learner is None or learner.vmappable:
        sharding, padded = _pair_sharding(len(pairs))
        pairs += [pairs[-1]] * (padded - len(pairs))
        index = jnp.asarray([a for a, _ in pairs], jnp.int32)  # instance position of each pair
        keys = jnp.stack([k for _, k in pairs])
        if sharding is not None:
            index, keys = jax.device_put((index, keys), sharding)

        def program(params, index, keys, x, y, x_test, y_test):
            pick = lambda a: a[index]
            batch = jax.tree.map(pick, (params, x, y, x_test, y_test))
            if sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, sharding)
            return jax.vmap(run)(batch[0], keys, *batch[1:])

        out, compile_s, run_s = _timed(program, params, index, keys, x, y, x_test, y_test)
        return jax.tree.map(lambda a: a[: n_i * n_j], out), compile_s, run_s

    def args(p: int) -> tuple:
        a, key = pairs[p]
        return (jax.tree.map(lambda t: t[a], params), key, x[a], y[a], x_test[a], y_test[a])

    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(*args(0)).compile()
    t1 = time.perf_counter()
    outs = [jax.block_until_ready(compiled(*args(p))) for p in range(n_i * n_j)]
    t2 = time.perf_counter()
    stacked = jax.tree.map(lambda *a: np.stack([np.asarray(v) for v in a]), *outs)
    return stacked, t1 - t0, t2 - t1


_TRIVIAL: dict[tuple, np.ndarray] = {}
_TRIVIAL_CACHE = 32  # entries (one per instance × seeds × test size); each is S × test_size floats


def _trivial_cached(inst: Instance, cell: Cell, x_test: Array, seed_base: int) -> np.ndarray:
    """`_trivial_predictions`, computed once per (instance, seed_base, instance seeds, test size):
    every learner and budget of an instance shares the same test set and baseline, and the
    baseline (a Monte Carlo average of the teacher over `draws` seeds) costs more than most
    cells' training."""
    key = (inst.id, seed_base, tuple(cell.instance_seeds), cell.test_size)
    if key not in _TRIVIAL:
        if len(_TRIVIAL) >= _TRIVIAL_CACHE:
            _TRIVIAL.pop(next(iter(_TRIVIAL)))
        _TRIVIAL[key] = _trivial_predictions(inst, x_test, seed_base)
    return _TRIVIAL[key]


def _trivial_predictions(inst: Instance, x_test: Array, seed_base: int) -> np.ndarray:
    """The trivial predictor (fitted once with `k_trivial`) on each instance seed's test set."""

    def make() -> Callable:
        trivial = learners.make("trivial", instance=inst)

        def predict(key, x_test):
            pred = trivial.fit(key, x_test[0, :1], jnp.zeros((1,), jnp.float32))
            return jax.vmap(pred)(x_test)

        return predict

    predict = _jitted(("trivial", inst.id), make)
    return np.asarray(predict(jax.random.fold_in(jax.random.key(seed_base), 1), x_test))


def _mse(y_hat: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = (y_hat.astype(np.float64) - y.astype(np.float64)) ** 2
    if mask is None:
        return float(np.mean(err))
    return float(np.sum(err * mask) / np.sum(mask)) if np.any(mask) else float("nan")


def _fail_reasons(cell: Cell, out: dict[str, np.ndarray], p: int) -> tuple[list[str], list[str]]:
    """(failures, flags) of run p. A failure leaves no usable predictions (non-finite, diverged,
    tensor's non-finite bit); a flag is the learner's own diagnosis with finite predictions that
    are still scored (tensor on a PRG instance "finds no usable structure", learners.md)."""
    reasons, flags = [], []
    if not np.all(np.isfinite(out["y_hat"][p])):
        reasons.append("non-finite predictions")
    if "diverged" in out and bool(out["diverged"][p]):
        reasons.append("diverged (info['diverged'])")
    if "info_failed" in out and bool(out["info_failed"][p]):
        if "failure_reason" in out and cell.learner == "tensor":
            from hardnet.learners.tensor import describe_failure

            code = int(np.max(out["failure_reason"][p]))
            texts = describe_failure(code)
            if code & 1:
                reasons.append(f"failed (info['failed']): {texts[0]}")
            flags += texts[1:] if code & 1 else texts
        else:
            reasons.append("failed (info['failed'])")
    return reasons, flags


def run_cell(cell: Cell, seed_base: int = 0) -> list[dict[str, Any]]:
    """Train and evaluate every (instance seed, learner seed) of `cell`; one row per run."""
    inst = cell.make_instance()
    params, train, test = _data(inst, cell, seed_base)
    _, _, meta_train = train
    _, y_test, meta_test = test
    prg = "hyperedge_hash" in meta_test
    n_j = len(cell.learner_seeds)
    error = None
    try:
        out, compile_s, run_s = _fit_all(cell, inst, params, train, test, seed_base)
    except Exception as e:  # recorded as failed runs; the benchmark goes on
        error = f"{type(e).__name__}: {' '.join(str(e).split())}"[:500]
        out, compile_s, run_s = None, float("nan"), float("nan")

    y_test = np.asarray(y_test)
    y_mean = np.asarray(train[1], np.float64).mean(axis=1)  # per instance seed
    if prg:
        trivial_hat = _trivial_cached(inst, cell, test[0], seed_base)
        inf_test = np.asarray(meta_test["informative"])
        inf_train = np.asarray(meta_train["informative"])
        h_train, h_test = (
            np.asarray(meta_train["hyperedge_hash"]),
            np.asarray(meta_test["hyperedge_hash"]),
        )
        bits = np.asarray(meta_test["planted_bit"])

    rows = []
    base = {"cell_id": cell.cell_id, "cell": cell.to_json(), "seed_base": seed_base}
    for a, i in enumerate(cell.instance_seeds):
        if prg:
            fresh = inf_test[a] & metrics.fresh_mask(h_train[a][inf_train[a]], h_test[a])
            seen = 1.0 - fresh.sum() / max(int(inf_test[a].sum()), 1)
        for b, j in enumerate(cell.learner_seeds):
            p = a * n_j + b
            row: dict[str, Any] = {**base, "instance_seed": i, "learner_seed": j}
            row.update(samples=cell.budget, num_runs=len(cell.instance_seeds) * n_j)
            row.update(compile_s=compile_s, run_s=run_s)
            if out is None:
                rows.append({**row, "failed": True, "fail_reason": error})
                continue
            y_hat = out["y_hat"][p]
            row["mse_all"] = _mse(y_hat, y_test[a])
            row["nmse"] = row["mse_all"] / float(np.var(y_test[a].astype(np.float64)))
            if prg:
                row["mse_inf"] = _mse(y_hat, y_test[a], inf_test[a])
                row["mse_fresh"] = _mse(y_hat, y_test[a], fresh)
                row["frac_test_seen"] = float(seen)
                row["num_fresh"] = int(fresh.sum())
                row["adv"] = 1.0 - row["mse_fresh"] / _mse(trivial_hat[a], y_test[a], fresh)
                const = np.full_like(y_test[a], y_mean[a], dtype=np.float64)
                row["adv_mean"] = 1.0 - row["mse_fresh"] / _mse(const, y_test[a], fresh)
                right = (y_hat > 0.5) == (bits[a] > 0.5)
                row["acc01"] = float(np.mean(right[fresh])) if fresh.any() else float("nan")
            for name in ("cosine_min", "cosine_mean"):
                if name in out:
                    row[name] = float(out[name][p])
            if "curves" in out:
                row["curves"] = {k: np.asarray(v[p]).tolist() for k, v in out["curves"].items()}
            reasons, flags = _fail_reasons(cell, out, p)
            row["failed"] = bool(reasons)
            row["fail_reason"] = "; ".join(reasons) if reasons else None
            row["flags"] = "; ".join(flags) if flags else None
            rows.append(row)
    return rows
