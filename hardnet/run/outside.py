"""The harness of learners from any framework (learners/outside.py, docs/outside.md).

`run_cell(cell, seed_base)` runs an `outside` cell as the runner runs a built-in one, with the
same keys, test rows, calibration rows and scores (`hardnet.run.runner`):

    for each instance seed i and learner seed j:
        model  = make(input_dim, budget, seed_ij)     # seed_ij from learner_key(seed_base, i, j)
        model.fit(x, y)  or  model.partial_fit(x_c, y_c) over chunks   # exactly `budget` rows
        y_hat  = model.predict(x_eval)                # test rows, then calibration rows
        row    = metrics.score_run(y_hat[:test], y_test, fresh.calibrated(y_hat[test:]))

The training rows are the instance's training stream (`inst.sample(params, k_train, ...)`), drawn
in chunks of `chunk_rows` on the host and handed over as NumPy float32; the model never sees the
role, the family, `meta` or the params. What user code does wrong becomes a failed row with a
one-line `fail_reason`, and the next run goes on: an exception (in the factory, `fit` or
`predict`), predictions of the wrong shape, non-finite predictions. A run that hangs is the
watchdog's (`hardnet.run.worker`): the cell's rows fail with "timeout". `run_s` is each run's
own fit-and-predict time; `compile_s` is 0.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.analysis import metrics
from hardnet.core import streaming
from hardnet.core.base import Instance
from hardnet.core.rows import Row, error_reason, failed_rows, identity
from hardnet.core.textio import canonical
from hardnet.learners import outside
from hardnet.run import fresh
from hardnet.run.caches import Caches
from hardnet.run.grid import Cell
from hardnet.run.runner import cell_data, learner_key, trivial_predictions


class Misbehaved(Exception):
    """What a learner did wrong that is not an exception of its own (shape, NaN, protocol)."""


FRAMEWORKS = (("torch", "pytorch"), ("sklearn", "scikit-learn"), ("xgboost", "xgboost"),
              ("lightgbm", "lightgbm"), ("tensorflow", "tensorflow"))  # fmt: skip


def framework(factory: Any) -> str:
    """The framework of the factory's module: the first of `FRAMEWORKS` whose package one of
    its globals (a module, class or function) comes from, else "numpy"."""
    module = sys.modules.get(getattr(factory, "__module__", None) or "")
    found = set()
    for value in vars(module).values() if module is not None else ():
        name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(name, str):
            found.add(name.split(".")[0])
    return next((name for package, name in FRAMEWORKS if package in found), "numpy")


def learner_seed(seed_base: int, instance_seed: int, learner_seed: int) -> int:
    """The integer seed handed to the factory: 31 bits of the run's learner key."""
    data = np.asarray(jax.random.key_data(learner_key(seed_base, instance_seed, learner_seed)))
    return int(data.ravel()[-1] & 0x7FFFFFFF)


def training_chunks(
    inst: Instance, params: Any, k_train: Any, budget: int, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rows 0 .. budget of the training stream (`core.streaming.stream`: chunking does not
    change the rows) as NumPy float32 chunks of at most `chunk` rows, without their meta;
    writable copies, since user code may scale or shuffle in place."""
    for x, y, _ in streaming.stream(inst, params, k_train, budget, chunk):
        yield np.array(x, np.float32), np.array(y, np.float32)


def fit_predict(
    factory: outside.Factory,
    config: dict[str, Any],
    dims: tuple[int, int, int],
    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
    x_eval: np.ndarray,
) -> np.ndarray:
    """One run: make, fit (or partial_fit over chunks), predict `x_eval`; float predictions
    `[rows]`, or `Misbehaved` / the learner's own exception."""
    input_dim, budget, seed = dims
    model = factory(input_dim, budget, seed)
    fits_at_once = budget * input_dim * 4 <= config["max_fit_gib"] * 2**30
    if hasattr(model, "fit") and (fits_at_once or not hasattr(model, "partial_fit")):
        parts = list(chunks())
        model.fit(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    elif hasattr(model, "partial_fit"):
        for x, y in chunks():
            model.partial_fit(x, y)
    else:
        raise Misbehaved(f"the model ({type(model).__name__}) has neither fit nor partial_fit")
    if not hasattr(model, "predict"):
        raise Misbehaved(f"the model ({type(model).__name__}) has no predict")
    y_hat = np.asarray(model.predict(x_eval))
    rows = x_eval.shape[0]
    if y_hat.shape not in ((rows,), (rows, 1)):
        raise Misbehaved(
            f"predict returned shape {y_hat.shape} for {rows} rows; expected ({rows},)"
        )
    if not np.issubdtype(y_hat.dtype, np.number) or np.iscomplexobj(y_hat):
        raise Misbehaved(f"predict returned dtype {y_hat.dtype}; expected real numbers")
    return y_hat.reshape(rows).astype(np.float32)


def run_cell(cell: Cell, seed_base: int = 0, caches: Caches | None = None) -> list[Row]:
    """Every (instance seed, learner seed) of an `outside` cell; one row each, scored like the
    runner's (`metrics.score_run`)."""
    caches = Caches() if caches is None else caches
    inst = caches.get(
        ("instance", cell.family, canonical(cell.instance_kwargs)), cell.make_instance
    )
    facts = cell.facts(inst)
    config = dict(cell.make_learner(inst).config)
    try:
        factory = outside.load(config["factory"])
    except Exception as e:  # the module does not import: every run fails, the suite goes on
        return failed_rows(cell, seed_base, facts, f"cannot load the factory: {error_reason(e)}")
    params, k_train, test, calibration = cell_data(inst, cell, seed_base, caches)
    x_test, y_test, _ = test
    x_eval = x_test if calibration is None else jnp.concatenate([x_test, calibration[0]], axis=1)
    x_eval, y_test = np.array(x_eval, np.float32), np.asarray(y_test)
    num_test = y_test.shape[1]
    prg = calibration is not None
    trivial_hat = trivial_predictions(inst, cell, x_test, seed_base, caches) if prg else None
    base = identity(cell, seed_base, facts)
    base.update(compile_s=0.0, backend="host", device_kind="host", framework=framework(factory))
    rows = []
    for a, i in enumerate(cell.instance_seeds):
        pick = lambda t, a=a: t[a]
        p_i, k_i = jax.tree.map(pick, params), k_train[a]
        fresh_test, fresh_fields = None, {}
        if prg:
            fresh_test, fresh_fields = fresh.fresh_test(
                inst, cell.budget, params, k_train, test, trivial_hat, caches, a, calibration
            )
        for j in cell.learner_seeds:
            row = Row(**base, instance_seed=i, learner_seed=j)
            dims = (inst.input_dim, cell.budget, learner_seed(seed_base, i, j))
            chunks = lambda p_i=p_i, k_i=k_i: training_chunks(
                inst, p_i, k_i, cell.budget, config["chunk_rows"]
            )
            t0 = time.perf_counter()
            try:
                y_hat = fit_predict(factory, config, dims, chunks, x_eval[a].copy())
            except Exception as e:  # user code: a failed row, the next run goes on
                row.update(run_s=time.perf_counter() - t0, failed=True,
                           fail_reason=error_reason(e), flags=None)  # fmt: skip
                rows.append(row)
                continue
            row["run_s"] = time.perf_counter() - t0
            if not np.all(np.isfinite(y_hat)):
                row.update(failed=True, fail_reason="non-finite predictions", flags=None)
                rows.append(row)
                continue
            scored = fresh_test.calibrated(y_hat[num_test:]) if fresh_test is not None else None
            row.update(metrics.score_run(y_hat[:num_test], y_test[a], scored))
            row.update(fresh_fields, failed=False, fail_reason=None, flags=None)
            rows.append(row)
    return rows
