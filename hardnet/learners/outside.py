"""Learners from any framework: the protocol, and the factory a config names (docs/outside.md).

A learner written in PyTorch, scikit-learn, XGBoost or plain NumPy joins hardnet through a
factory, with no JAX in sight:

    model = make(input_dim, budget, seed)   # ints; seed in [0, 2^31): the learner's randomness
    model.fit(x, y)                         # x float32 [budget, input_dim], y float32 [budget]
      or model.partial_fit(x, y)            #   ... or over chunks of the same rows, in order
    y_hat = model.predict(x)                # float32 [rows] (or [rows, 1]): a real-valued score

The harness (`hardnet.run.outside`) streams exactly `budget` training rows of the instance, never
the role (planted, null or dictator), the family or `meta`, predicts the test and calibration
rows, and scores the predictions with `analysis.metrics.score_run` like every built-in learner:
`auc` and `acc01_cal` on PRG families are computed by the harness, never by the learner. It calls
`fit` once on all rows when the model has `fit` and the rows take at most `max_fit_gib`, and
`partial_fit` over chunks of `chunk_rows` rows otherwise.

A config names the factory as `module:factory` or `path/to/file.py:factory` (relative to the
working directory), in the `outside` entry's `factory` keyword:

    config.learners.hgb = dict(name="outside", kwargs=dict(factory="examples/sklearn_hgb.py:make"))

Such learners are not tuned by the protocol: results are "as submitted".
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hardnet.core.base import Learner

NAME = "outside"
SPEC = re.compile(r"^(?P<target>[^:]+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*)$")


class Model(Protocol):
    """What a factory returns: `fit` or `partial_fit`, and `predict` (module docstring)."""

    def predict(self, x: Any) -> Any: ...


Factory = Callable[[int, int, int], Model]


def check_spec(factory: str) -> tuple[str, str]:
    """(module or file, attribute) of `factory`; ValueError naming the rule where it is not
    `module:factory` or `path/to/file.py:factory`, or the file or module cannot be found.
    Nothing is imported: user code runs in the cell's worker only."""
    if not isinstance(factory, str) or not (m := SPEC.match(factory.strip())):
        raise ValueError(
            f"factory must be 'module:factory' or 'path/to/file.py:factory', got {factory!r}"
        )
    target, attr = m["target"], m["attr"]
    if target.endswith(".py"):
        if not Path(target).is_file():
            raise ValueError(f"factory {factory!r}: no file {target} (from {Path.cwd()})")
    elif not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", target):
        raise ValueError(f"factory {factory!r}: {target!r} is neither a .py file nor a module")
    else:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise ValueError(f"factory {factory!r}: no module {target!r} on the Python path")
    return target, attr


def load(factory: str) -> Factory:
    """The factory callable named by `factory` (imports user code: call it in a worker)."""
    target, attr = check_spec(factory)
    if target.endswith(".py"):
        path = Path(target).resolve()
        name = f"_hardnet_outside_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pickling and dataclasses inside the file need it
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    made = getattr(module, attr, None)
    if not callable(made):
        raise ValueError(f"factory {factory!r}: {target} has no callable {attr!r}")
    return made


def _run_by_the_harness(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "an outside learner runs through hardnet.run.outside (hardnet-bench, hardnet-score), "
        "not as a JAX fit"
    )


def make(factory: str, chunk_rows: int = 65536, max_fit_gib: float = 4.0) -> Learner:
    """The `outside` registry entry: the factory, validated without importing it.

    Args:
      factory: `module:factory` or `path/to/file.py:factory` (module docstring).
      chunk_rows: rows per `partial_fit` call, and per sampler call while streaming.
      max_fit_gib: largest training set (float32 x) handed to `fit` in one call; above it the
        model must have `partial_fit`.
    """
    check_spec(factory)
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    if not isinstance(max_fit_gib, int | float) or not max_fit_gib > 0:
        raise ValueError(f"max_fit_gib must be positive, got {max_fit_gib!r}")

    def estimate(rows: int, d: int) -> tuple[float, float]:
        held = rows if rows * d * 4 <= max_fit_gib * 2**30 else min(rows, chunk_rows)
        return 4.0 * held * (d + 1), float(rows * d)  # the data handed over; the model's own: ?

    config = dict(factory=factory, chunk_rows=chunk_rows, max_fit_gib=max_fit_gib)
    return Learner(NAME, config, _run_by_the_harness, vmappable=False, estimate=estimate)
