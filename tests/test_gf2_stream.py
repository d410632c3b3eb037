"""The streamed `gf2` learner (`fit_online`): chunked Gauss-Jordan elimination keeps the reduced
row echelon form of the augmented system, which is unique given its row space, so the result
equals the elimination of all rows at once (and a NumPy reference) whatever the chunk, memory
does not grow with the budget, and it vmaps over instance seeds."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import instances
from hardnet.core.base import Public
from hardnet.core.source import array_source
from hardnet.learners import gf2

TEST_ROWS = 1000


def _instance(seed=0, **kw):
    inst = instances.make("prg_boolean", **kw)
    return inst, inst.init(jax.random.key(seed))


def _stream(inst, params, key):
    """The instance's training stream as a `Source` (rows keyed by their index)."""
    return lambda start, num: inst.sample(params, key, num, start)[:2]


def _draw(num, seed=0, **kw):
    """`(inst, params, (x, y), (x_test, meta_test))`: rows 0..num of a stream and fresh rows."""
    inst, params = _instance(seed, **kw)
    x, y, _ = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(100 + seed), num)
    xt, _, meta = jax.jit(inst.sample, static_argnums=2)(
        params, jax.random.key(200 + seed), TEST_ROWS
    )
    return inst, params, (x, y), (xt, meta)


def _online(learner, x, y):
    return jax.jit(lambda: learner.fit_online(None, array_source(x, y), x.shape[0]))()


def _assert_same(a, b):
    """Two predictors agree on every state and info entry (`fill` up to summation order)."""
    assert set(a.state) == set(b.state) and set(a.info) == set(b.info)
    for name in ("solution", "determined", "seed"):
        np.testing.assert_array_equal(a.state[name], b.state[name], err_msg=name)
    np.testing.assert_allclose(a.state["fill"], b.state["fill"], rtol=1e-6)
    for name in a.info:
        np.testing.assert_array_equal(a.info[name], b.info[name], err_msg=name)


CASES = {
    "tsa": (300, dict(n=16, predicate="tsa")),  # consistent, seed identified
    "null": (300, dict(n=16, predicate="tsa", null=True)),  # inconsistent
    "xor4": (40, dict(n=16, predicate="xor", k=4)),  # complement tie, unique solution
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_streamed_fit_equals_the_fit_on_all_rows(case):
    """Chunks of 37 rows (N = 300 or 40, not a multiple: a partial last chunk) give the state
    and info of `fit`, which reduces all rows at once; on the null too (inconsistent)."""
    num, kw = CASES[case]
    inst, _, (x, y), _ = _draw(num, **kw)
    public = Public.of(inst)
    held = gf2.make(public=public).fit(None, x, y)
    streamed = _online(gf2.make(public=public, chunk=37), x, y)
    _assert_same(streamed, held)
    assert int(held.info["equations"]) > 0
    assert bool(held.info["consistent"]) == (case != "null")
    if case == "tsa":
        assert 0 < int(held.info["rank"]) < int(held.info["num_variables"])


def test_result_does_not_depend_on_the_chunk():
    """Chunks of 5 and of 64 rows over 203 rows (neither divides it): the same predictor, and
    the same predictions on fresh rows."""
    inst, _, (x, y), (xt, _) = _draw(203, seed=1, n=16, predicate="tsa")
    public = Public.of(inst)
    small = _online(gf2.make(public=public, chunk=5), x, y)
    large = _online(gf2.make(public=public, chunk=64), x, y)
    _assert_same(small, large)
    np.testing.assert_array_equal(small(xt), large(xt))


def _reference_rref(public, x, y, n, num_vars):
    """NumPy: the augmented tsa system `x_a ⊕ x_b ⊕ x_c ⊕ x_{de} = bit` over decodable,
    informative rows, reduced by Gauss-Jordan over all M + 1 columns: (rank among the M
    unknowns, consistent, solution at pivots, determined)."""
    hyperedges, valid = (np.asarray(a) for a in public.encoding.decode(jnp.asarray(x)))
    informative = public.encoding.informative  # None: every decodable row
    use = valid if informative is None else valid & np.asarray(informative(jnp.asarray(x)))
    bits = np.asarray(y) > 0.5
    a = np.zeros((int(use.sum()), num_vars + 1), bool)
    for row, (h, b) in enumerate(zip(hyperedges[use], bits[use], strict=True)):
        for i in h[:3]:
            a[row, i] ^= True
        lo, hi = sorted(h[3:5])
        a[row, n + lo + math.comb(hi, 2)] ^= True  # C(c1, 1) + C(c2, 2)
        a[row, num_vars] = b
    pivots, r = {}, 0
    for c in range(num_vars + 1):
        hits = np.nonzero(a[r:, c])[0]
        if len(hits) == 0:
            continue
        p = r + hits[0]
        a[[r, p]] = a[[p, r]]
        for other in np.nonzero(a[:, c])[0]:
            if other != r:
                a[other] ^= a[r]
        pivots[c] = r
        r += 1
    free = np.array([c not in pivots for c in range(num_vars)])
    solution = np.array([a[pivots[c], num_vars] if c in pivots else 0 for c in range(num_vars)])
    determined = np.array(
        [c in pivots and not a[pivots[c], :num_vars][free].any() for c in range(num_vars)]
    )
    rank = len(pivots) - (num_vars in pivots)
    return rank, num_vars not in pivots, solution, determined


@pytest.mark.parametrize("null", [False, True])
def test_streamed_reduced_system_matches_a_numpy_reference(null):
    """The reduced system after chunks of 9 rows is the NumPy RREF of all rows (n=8 tsa)."""
    inst, _, (x, y), _ = _draw(120, seed=2, n=8, predicate="tsa", null=null)
    public = Public.of(inst)
    pred = _online(gf2.make(public=public, chunk=9), x, y)
    rank, consistent, solution, determined = _reference_rref(public, x, y, 8, 36)
    assert int(pred.info["rank"]) == rank and bool(pred.info["consistent"]) == consistent
    assert consistent != null
    np.testing.assert_array_equal(pred.state["determined"], determined)
    np.testing.assert_array_equal(pred.state["solution"], solution)


def test_streamed_fit_recovers_the_seed_from_a_generated_stream():
    """n=16 tsa, 300 rows read in chunks of 50 straight from the sampler: the planted seed, and
    every fresh informative test label right, the same predictions as `fit` on the same rows."""
    inst, params, (x, y), (xt, meta) = _draw(300, seed=3, n=16, predicate="tsa")
    public = Public.of(inst)
    source = _stream(inst, params, jax.random.key(103))  # the key `_draw` used: the same rows
    learner = gf2.make(public=public, chunk=50)
    streamed = jax.jit(lambda: learner.fit_online(None, source, 300))()
    held = gf2.make(public=public).fit(None, x, y)
    assert bool(streamed.info["solved"]) and int(streamed.info["equations"]) > 250
    np.testing.assert_array_equal(streamed.state["seed"], params["seed"])
    np.testing.assert_array_equal(held.state["seed"], params["seed"])
    keep = np.asarray(meta["informative"])
    hat = np.asarray(streamed(xt)) > 0.5
    assert keep.sum() > 900
    np.testing.assert_array_equal(hat[keep], np.asarray(meta["planted_bit"])[keep] > 0.5)
    np.testing.assert_array_equal(streamed(xt), held(xt))


def test_streamed_memory_does_not_grow_with_the_budget():
    """Compiled (not run) at 10⁴ and 10⁶ rows of a generated stream, chunks of 1000 rows: the
    same temporaries, about (M + 1 + chunk) × W words plus the chunk's rows (holding 10⁶ packed
    rows would take far more), as `estimate` says."""
    inst, params = _instance(n=16, predicate="tsa")
    source = _stream(inst, params, jax.random.key(5))
    learner = gf2.make(public=Public.of(inst), chunk=1000)

    def temp_bytes(budget):
        fit = jax.jit(lambda: learner.fit_online(None, source, budget).state["seed"])
        return fit.lower().compile().memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(10_000), temp_bytes(1_000_000)
    print(f"temp_size_in_bytes: budget 1e4 {small}, 1e6 {large}")
    assert large <= 1.1 * small and small <= 1.1 * large, (small, large)
    words = (136 + 1 + 31) // 32
    assert 1_000_000 * words * 4 > 20 * large
    est_small, _ = learner.estimate(10_000, inst.input_dim)
    est_large, flops = learner.estimate(1_000_000, inst.input_dim)
    assert est_small == est_large and est_small / 3 <= large <= 3 * est_small, (est_small, large)
    assert flops == pytest.approx(100 * learner.estimate(10_000, inst.input_dim)[1], rel=0.05)


def test_fit_online_vmaps_over_instance_seeds():
    """`jax.vmap` over two instances (params and stream keys traced inside the source): each
    seed's planted seed, and the same as the unbatched runs."""
    inst, _ = _instance(n=8, predicate="tsa")
    learner = gf2.make(public=Public.of(inst), chunk=16)
    keys = jax.random.split(jax.random.key(9), 2)
    params = jax.vmap(inst.init)(keys)

    def run(p, k):
        return learner.fit_online(None, _stream(inst, p, k), 150)

    batched = jax.jit(jax.vmap(run))(params, keys)
    np.testing.assert_array_equal(batched.state["seed"], params["seed"])
    for i in range(2):
        one = jax.jit(run)(jax.tree.map(lambda a, i=i: a[i], params), keys[i])
        _assert_same(jax.tree.map(lambda a, i=i: a[i], batched), one)


def test_chunk_and_memory_checks():
    inst, params = _instance(n=8, predicate="tsa")  # M = 36 unknowns, W = 2 words
    public = Public.of(inst)
    assert gf2.make(public=public).config["chunk"] == 1024  # max(M + 1, 1024)
    for bad in (0, 2.5, "8"):
        with pytest.raises(ValueError, match="chunk"):
            gf2.make(public=public, chunk=bad)
    with pytest.raises(ValueError, match=r"max_bytes=300; pass a smaller chunk"):
        gf2.make(public=public, chunk=8, max_bytes=300)  # (37 + 8) × 2 × 4 = 360 bytes
    learner = gf2.make(public=public, chunk=8, max_bytes=400)
    x, y, _ = inst.sample(params, jax.random.key(1), 150)
    with pytest.raises(ValueError, match="max_bytes=400"):
        learner.fit(None, x, y)  # all 150 rows at once: (37 + 150) × 8 bytes
    fit = jax.jit(lambda x, y: learner.fit_online(None, array_source(x, y), 150).info)
    info = fit(x, y)  # the budget does not count
    assert int(info["equations"]) > 0
    with pytest.raises(ValueError, match="source rows must have d="):
        learner.fit_online(None, lambda s, num: (jnp.zeros((num, 3)), jnp.zeros((num,))), 20)
    with pytest.raises(ValueError, match="budget"):
        learner.fit_online(None, array_source(x, y), 0)
