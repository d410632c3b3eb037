"""F3 prg_gauss3_smoothed and F4 prg_depth2_smoothed: clean labels, lazy = materialized,
no competitor active, margin rules, sigma_min records."""

import jax
import numpy as np
import pytest

from hardnet.core import prg
from hardnet.instances import make

TINY = dict(n=8, k=3, predicate="xor")


def _competitor_max(pre, hyperedges, n, k):
    """Largest pre-activation over units other than the decoded hyperedge's own."""
    edges = prg.all_hyperedges(n, k)
    index = {tuple(e): i for i, e in enumerate(edges)}
    own = np.array([index.get(tuple(h), -1) for h in np.asarray(hyperedges)])
    competitors = pre.copy()
    rows = np.nonzero(own >= 0)[0]
    competitors[rows, own[rows]] = -np.inf
    return competitors.max(axis=1)


@pytest.mark.parametrize("family", ["prg_gauss3_smoothed", "prg_depth2_smoothed"])
@pytest.mark.parametrize("null", [False, True])
def test_lazy_equals_materialized_with_noise(family, null):
    """Spec: n=8, k=3, τ=1e-4, agree to 1e-5; at most one active unit; competitors ≤ −0.5."""
    inst = make(family, **TINY, tau=1e-4, null=null)
    for seed in range(2):
        params = inst.init(jax.random.key(seed))
        x, y, meta = inst.sample(params, jax.random.key(10 + seed), 3000)
        y_ref, pre = inst.materialized(params, x)
        np.testing.assert_allclose(np.asarray(y, np.float64), y_ref, atol=1e-5)
        assert (pre > 0).sum(axis=1).max() <= 1
        assert _competitor_max(pre, meta["hyperedge"], 8, 3).max() <= -0.5


@pytest.mark.parametrize("family", ["prg_gauss3_smoothed", "prg_depth2_smoothed"])
@pytest.mark.parametrize("predicate,k", [("xor", 3), ("dictator", 3), ("tsa", None)])
def test_clean_labels_equal_predicate_without_noise(family, predicate, k):
    extra = {"omega": 0.0} if family == "prg_depth2_smoothed" else {}
    inst = make(family, n=8, k=k, predicate=predicate, tau=0.0, **extra)
    params = inst.init(jax.random.key(0))
    _, y, meta = inst.sample(params, jax.random.key(1), 5000)
    inf = np.asarray(meta["informative"])
    assert inf.sum() > 100
    np.testing.assert_allclose(np.asarray(y)[inf], np.asarray(meta["clean_label"])[inf], atol=1e-6)
    np.testing.assert_array_equal(
        meta["clean_label"],
        inst.encoding.predicate(prg.seed_bits(params["seed"], meta["hyperedge"])),
    )


def test_f3_clean_labels_at_the_hard_tier():
    inst = make("prg_gauss3_smoothed", n=128, predicate="xor_maj(5,7)", tau=0.0)
    params = inst.init(jax.random.key(0))
    _, y, meta = inst.sample(params, jax.random.key(1), 4000)
    inf = np.asarray(meta["informative"])
    # 1e-5: the float32 sums that feed the label, reassociated by XLA's fusion (measured under
    # jit: labels of 1 come out as 1 + 1.5e-6), with 6x room
    np.testing.assert_allclose(np.asarray(y)[inf], np.asarray(meta["clean_label"])[inf], atol=1e-5)
    # off the informative set the noise-free teacher stays in [0, 1]
    assert np.asarray(y).min() >= 0 and np.asarray(y).max() <= 1 + 1e-5


def test_f3_default_noise_is_about_005():
    """Spec: τ=1e-5 at n=128, k=12 gives a pre-activation noise std of about 0.05."""
    inst = make("prg_gauss3_smoothed")
    params = inst.init(jax.random.key(0))
    _, y, meta = inst.sample(params, jax.random.key(1), 20000)
    inf = np.asarray(meta["informative"])
    on = inf & (np.asarray(meta["planted_bit"]) == 1)
    err = np.asarray(y)[on] - 1
    assert 0.01 < err.std() < 0.08
    # P(s_S) = 0: only the output-weight noise τξ remains
    off = np.asarray(y)[inf & ~on] - float(params["b_out"])
    assert np.abs(off).max() < 1e-4


def test_f4_label_deviation_within_omega_bound():
    inst = make("prg_depth2_smoothed", n=16, k=3, predicate="xor", tau=0.0, omega=1e-3)
    params = inst.init(jax.random.key(0))
    _, y, meta = inst.sample(params, jax.random.key(1), 4000)
    inf = np.asarray(meta["informative"])
    dev = np.abs(np.asarray(y) - np.asarray(meta["clean_label"]))[inf]
    assert dev.max() <= 6 * 1e-3 * np.sqrt(12)


def test_margin_rule_examples_from_the_spec():
    make("prg_gauss3_smoothed", n=8, k=3, predicate="xor", tau=1e-4)  # safe
    with pytest.raises(ValueError, match=r"tau=0.0001 is unsafe.*largest safe tau"):
        make("prg_gauss3_smoothed", n=16, k=5, predicate="xor", tau=1e-4)
    inst = make("prg_gauss3_smoothed", n=16, k=5, predicate="xor", tau=1e-4, allow_unsafe_tau=True)
    assert "unsafe tau" in inst.notes
    make("prg_gauss3_smoothed", n=128, predicate="xor_maj(5,7)", tau=1e-5)  # the default is safe
    with pytest.raises(ValueError, match="omega"):
        make("prg_depth2_smoothed", omega=1e-2)
    with pytest.raises(ValueError, match="tau"):
        make("prg_depth2_smoothed", tau=1e-2)
    assert "unsafe omega" in make("prg_depth2_smoothed", omega=1e-2, allow_unsafe=True).notes


def test_f3_records_sigma_min():
    inst = make("prg_gauss3_smoothed", **TINY, tau=1e-4)
    stats = inst.describe(inst.init(jax.random.key(0)))
    # clean layer 1 has orthogonal columns of norm 2α = 20; noise barely moves it
    assert abs(stats["sigma_min_layer1"] - 20) < 0.1
    # the clean layer 2 repeats columns (u_0 and u_3 weights are −2 for every unit):
    # only the noise makes it non-degenerate, so sigma_min is of order τ·√units
    assert 0 < stats["sigma_min_layer2"] < 1e-2


def test_materialized_refuses_large_sizes():
    inst = make("prg_gauss3_smoothed", n=32, k=5, predicate="xor", tau=0.0)
    with pytest.raises(ValueError, match=r"\(n\)_k"):
        inst.materialized(inst.init(jax.random.key(0)), np.zeros((1, inst.input_dim)))


def test_unit_noise_is_standard_normal_and_independent():
    """The hashed unit noise (smoothing.hashed_normal): N(0, 1) moments and tails, no
    correlation across positions t or across units whose hyperedges differ in one index."""
    from scipy import stats

    from hardnet.instances import smoothing

    edges = np.asarray(jax.random.randint(jax.random.key(0), (4000, 5), 0, 64), np.int32)
    neighbours = edges.copy()
    neighbours[:, -1] = (neighbours[:, -1] + 1) % 64
    key = jax.random.key_data(jax.random.key(7))
    xi = np.asarray(smoothing.unit_noise(key, edges, 250), np.float64)
    xi2 = np.asarray(smoothing.unit_noise(key, neighbours, 250), np.float64)
    z = xi.ravel()  # 1e6 draws
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 5 * se
    assert abs(z.var() - 1) < 5 * np.sqrt(2) * se
    assert abs(np.mean(z**4) - 3) < 5 * np.sqrt(96) * se
    assert abs(np.mean(np.abs(z) > 3) - 2 * stats.norm.sf(3)) < 5 * np.sqrt(0.0027) * se
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-4
    # lag-1 correlation along t, and between units one index apart
    for a, b in ((xi[:, :-1], xi[:, 1:]), (xi, xi2)):
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 5 / np.sqrt(a.size)
    assert np.array_equal(xi, np.asarray(smoothing.unit_noise(key, edges, 250)))  # deterministic
