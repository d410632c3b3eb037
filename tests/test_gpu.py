"""On the accelerator, the same cells as on the CPU: one cell per learner of the `:rehearsal` grid
(the `:gpu` grid shrunk), run in this process on the default device and again on the CPU.

Marked `gpu`: runs with `pytest -m gpu` (`scripts/gpu-check`), on the platform named by
`HARDNET_GPU_TEST_PLATFORM` (default: the GPU; "cpu" for the check's CPU mode, where both sides
are the CPU and the comparison is exact). Tolerances, by what the two sides share:
- sampled data: the same threefry bits on both sides; integers and bits equal, floats within
  `DATA_RTOL` (the Gaussian's inverse error function may differ by a few ulps);
- exact learners (oracle, gf2, brute force) and the closed-form ones (poly, kernel): their scores
  within `EXACT_ATOL` (a few test rows of 0-1 accuracy, or 1e-3 of nmse);
- trained learners (sgd, tensor): float32 training is not reproducible across devices, so their
  mean scores must only be statistically compatible: within `TRAINED_ATOL` of each other.
"""

import math

import jax
import numpy as np
import pytest

from hardnet import instances
from hardnet.configs import headline
from hardnet.run import grid, runner

pytestmark = pytest.mark.gpu

DATA_RTOL = 1e-5
EXACT_ATOL = 2e-2
TRAINED_ATOL = 0.15
SCORES = ("acc01_cal", "auc", "nmse")


def _cells() -> list:
    """One cell per learner of the rehearsal grid (the first planned)."""
    out = {}
    for cell in grid.plan(headline.get_config("rehearsal")).cells:
        out.setdefault(cell.learner, cell)
    return list(out.values())


@pytest.mark.parametrize("family", ["prg_gauss3_smoothed", "natural_depth2", "easy_depth2"])
def test_sampled_data_match_the_cpu(family):
    inst = instances.make(family)
    key = jax.random.key(0)

    def draw():
        params = inst.init(key)
        x, y, _ = jax.jit(lambda p: inst.sample(p, jax.random.fold_in(key, 1), 512))(params)
        return np.asarray(x), np.asarray(y)

    x_dev, y_dev = draw()
    with jax.default_device(jax.devices("cpu")[0]):
        x_cpu, y_cpu = draw()
    np.testing.assert_allclose(x_dev, x_cpu, rtol=DATA_RTOL, atol=1e-6)
    np.testing.assert_allclose(y_dev, y_cpu, rtol=1e-4, atol=1e-5)


def _mean(rows, name):
    values = [r[name] for r in rows if isinstance(r.get(name), float) and math.isfinite(r[name])]
    return float(np.mean(values)) if values else math.nan


@pytest.mark.parametrize("cell", _cells(), ids=lambda c: c.learner)
def test_rows_match_the_cpu(cell):
    on_device = runner.run_cell(cell)
    with jax.default_device(jax.devices("cpu")[0]):
        on_cpu = runner.run_cell(cell)
    assert not any(r.get("failed") for r in on_device), on_device[0].get("fail_reason")
    assert not any(r.get("failed") for r in on_cpu), on_cpu[0].get("fail_reason")
    atol = TRAINED_ATOL if cell.learner in ("sgd", "tensor") else EXACT_ATOL
    for name in SCORES:
        a, b = _mean(on_device, name), _mean(on_cpu, name)
        if math.isnan(a) and math.isnan(b):
            continue
        scale = 1.0 if name != "nmse" else max(1.0, abs(b))
        assert abs(a - b) <= atol * scale, (cell.cell_id, name, a, b)
