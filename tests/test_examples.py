"""The shipped outside learners (examples/): each learns F1's dictator control through the
harness, and stays at chance on its PRG and null at this budget (docs/outside.md)."""

from pathlib import Path

import numpy as np
import pytest

from hardnet.learners import outside as protocol
from hardnet.run import outside
from hardnet.run.grid import plan

ROOT = Path(__file__).resolve().parents[1]


def _cells(factory: str):
    entry = dict(name=protocol.NAME, kwargs=dict(factory=str(ROOT / factory)), budgets=[2000])
    config = dict(
        instances=dict(f1=dict(family="prg_boolean", fixed=dict(predicate="tsa", n=8),
                               null_control=True, dictator_control=True)),
        learners=dict(ex=entry), budgets=[2000], test_size=512, instance_seeds=2,
        learner_seeds=1,
    )  # fmt: skip
    return plan(config).cells


@pytest.mark.parametrize(
    "factory,framework",
    [("examples/numpy_features.py:make", "numpy"),
     ("examples/sklearn_hgb.py:make", "scikit-learn"),
     ("examples/torch_mlp.py:make", "pytorch")],
)  # fmt: skip
def test_an_example_learns_the_dictator_control(factory, framework):
    rows = {c.variant: outside.run_cell(c, 0) for c in _cells(factory)}
    assert not any(r["failed"] for rs in rows.values() for r in rs)
    acc = {v: float(np.mean([r["acc01_cal"] for r in rs])) for v, rs in rows.items()}
    assert acc["dictator"] > 0.9, acc
    assert abs(acc["null"] - 0.5) < 0.1, acc
    assert {r["framework"] for rs in rows.values() for r in rs} == {framework}
