"""The report's statistics come from scipy (docs/metrics.md, "Across seeds") and keep the numbers
of the hand-written versions they replaced: the values below were computed by those (git
7d31f96^: `hardnet/analysis/stats.py`, `hardnet/run/tuning.py`) on the same inputs and seeds."""

import numpy as np
import pytest

from hardnet.analysis import stats
from hardnet.run import tuning


def _halton_by_hand(index: int, dims: int) -> list[float]:
    """The radical inverse of `index` in the first `dims` primes, as it was written by hand."""
    out = []
    for base in (2, 3, 5, 7, 11)[:dims]:
        i, f, r = index, 1.0, 0.0
        while i > 0:
            f /= base
            r += f * (i % base)
            i //= base
        out.append(r)
    return out


def test_halton_points_equal_the_hand_written_sequence_exactly():
    for index in range(1, 65):
        assert tuning.halton(index, 3) == _halton_by_hand(index, 3), index


# (successes, trials, confidence) -> the hand-written interval; its z came from a float32 ppf,
# so the two agree to 1e-6, not to the last bit
WILSON = {
    (0, 10, 0.95): (0.0, 0.27753285936586736),
    (3, 10, 0.95): (0.1077912514185356, 0.6032218923278112),
    (7, 20, 0.999): (0.11514286019757897, 0.6902255916972955),
    (50, 100, 0.999): (0.34371764184344766, 0.6562823581565523),
    (99, 100, 0.95): (0.9455137930932438, 0.9982325683032607),
    (1, 1, 0.95): (0.20654926574212973, 1.0),
}


@pytest.mark.parametrize("args", list(WILSON))
def test_wilson_interval_equals_the_hand_written_one(args):
    np.testing.assert_allclose(stats.wilson_interval(*args), WILSON[args], rtol=0, atol=2e-6)


def _samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 0.1, 12), rng.normal(0.55, 0.1, 12)
    return a, b, rng.normal(1.0, 2.0, 30)


def test_bootstrap_interval_equals_the_hand_written_one():
    a, _, v = _samples()
    want = {
        "v": (1.5993485513008194, 0.9652113527163716, 2.2569361189482473),
        "a": (0.5022070802113584, 0.46233807956537865, 0.5433245044081487),
        "three": (0.5033333333333333, 0.49, 0.52),
    }
    for name, values in (("v", v), ("a", a), ("three", [0.5, 0.52, 0.49])):
        np.testing.assert_allclose(stats.bootstrap_mean_ci(values), want[name], rtol=1e-12)


def test_permutation_pvalue_equals_the_hand_written_one():
    """Same resamples and seed, the same p-value; with 3 + 3 values scipy enumerates the 20
    relabellings (exact: 6/20 = 0.3) where the hand-written test drew 5000 (0.3029)."""
    a, b, v = _samples()
    assert stats.permutation_pvalue(a, b) == pytest.approx(0.5290941811637673, rel=1e-12)
    assert stats.permutation_pvalue(v[:10], v[10:20] + 1) == pytest.approx(
        0.007998400319936013, rel=1e-12
    )
    # the hand-written 0.3029 is within its Monte Carlo error (0.0065) of the exact 0.3
    assert stats.permutation_pvalue(a[:3], b[:3]) == pytest.approx(0.3, abs=1e-12)
