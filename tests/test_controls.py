"""Structure-aware controls `brute_force` and `gf2` (docs/learners.md, Controls).

They must break PRG instances from few samples (the failure of generic learners is computational)
and fail on the random-label null. Accuracy is measured on fresh informative test hyperedges
(never seen in training), against the planted bit; on the null it must stay within a binomial
bound of 1/2.
"""

import jax
import numpy as np
import pytest

import hardnet.learners
from hardnet import instances
from hardnet.core import prg
from hardnet.core.base import Public
from hardnet.learners import brute_force, gf2

TEST_ROWS = 2000


def draw(family, num, seed=0, **kw):
    inst = instances.make(family, **kw)
    params = inst.init(jax.random.key(seed))
    rows = jax.jit(inst.sample, static_argnums=2)(
        params, jax.random.key(100 + seed), num + TEST_ROWS
    )
    train = jax.tree.map(lambda a: a[:num], rows)
    test = jax.tree.map(lambda a: a[num:], rows)
    return inst, params, train, test


def fresh_accuracy(predictor, train, test):
    """0-1 accuracy of `1[h > 1/2]` on informative test rows whose hyperedge is unseen."""
    seen = {tuple(h) for h in np.asarray(train[2]["hyperedge_hash"])}
    x, _, meta = test
    fresh = np.array([tuple(h) not in seen for h in np.asarray(meta["hyperedge_hash"])])
    keep = fresh & np.asarray(meta["informative"])
    hat = np.asarray(predictor(x))[keep] > 0.5
    truth = np.asarray(meta["planted_bit"])[keep] > 0.5
    return float(np.mean(hat == truth)), int(keep.sum())


def near_half(acc, count):
    """|acc − 1/2| within 4 binomial standard deviations."""
    return abs(acc - 0.5) <= 4 * 0.5 / np.sqrt(count)


# ---------------------------------------------------------------------------------------------
# brute_force


def test_brute_force_recovers_f1_tsa():
    inst, params, train, test = draw("prg_boolean", 300, n=16, predicate="tsa")
    pred = hardnet.learners.make("brute_force", public=Public.of(inst)).fit(None, *train[:2])
    acc, count = fresh_accuracy(pred, train, test)
    assert count > 1500 and acc == 1.0
    assert float(pred.info["agreement"]) == 1.0 and int(pred.info["ties"]) == 1
    np.testing.assert_array_equal(pred.state["seed"], params["seed"])


def test_brute_force_recovers_f3_tsa():
    """F3 noise-free: 800 rows of which about 40% (here > 250) are informative."""
    inst, params, train, test = draw(
        "prg_gauss3_smoothed", 800, n=16, k=5, predicate="tsa", tau=0.0
    )
    pred = brute_force.make(public=Public.of(inst)).fit(None, *train[:2])
    assert 250 <= int(pred.info["rows"]) == int(np.sum(train[2]["informative"])) < 400
    acc, count = fresh_accuracy(pred, train, test)
    assert count > 500 and acc == 1.0
    np.testing.assert_array_equal(pred.state["seed"], params["seed"])


def test_brute_force_fails_on_null():
    inst, _, train, test = draw("prg_boolean", 300, n=16, predicate="tsa", null=True)
    pred = brute_force.make(public=Public.of(inst)).fit(None, *train[:2])
    acc, count = fresh_accuracy(pred, train, test)
    assert near_half(acc, count), acc
    assert float(pred.info["agreement"]) < 0.8  # no seed explains random labels


def test_brute_force_reports_ties_and_vmaps():
    """xor with k even: s and its complement agree on every hyperedge (2 tied seeds)."""
    inst, params, train, _ = draw("prg_boolean", 60, n=8, k=4, predicate="xor")
    learner = brute_force.make(public=Public.of(inst), seed_chunk=64)
    pred = learner.fit(None, *train[:2])
    assert int(pred.info["ties"]) == 2 and float(pred.info["agreement"]) == 1.0
    seed, truth = np.asarray(pred.state["seed"]), np.asarray(params["seed"])
    assert (seed == truth).all() or (seed == 1 - truth).all()
    # vmap over two instance seeds
    inst = instances.make("prg_boolean", n=8, predicate="tsa")
    keys = jax.random.split(jax.random.key(5), 2)
    params = jax.vmap(inst.init)(keys)
    x, y, _ = jax.jit(jax.vmap(lambda p, kk: inst.sample(p, kk, 120)))(params, keys)
    learner = brute_force.make(public=Public.of(inst))
    assert learner.vmappable
    preds = jax.vmap(lambda xx, yy: learner.fit(None, xx, yy))(x, y)
    np.testing.assert_array_equal(preds.state["seed"], params["seed"])


def test_brute_force_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"n=32 .*2\^n = 4294967296"):
        brute_force.make(public=Public.of(instances.make("prg_boolean", n=32)))
    with pytest.raises(ValueError, match="public"):
        hardnet.learners.make("brute_force")
    with pytest.raises(ValueError, match="public"):
        brute_force.make(public=Public(input_dim=4))
    with pytest.raises(ValueError, match="seed_chunk"):
        brute_force.make(public=Public.of(instances.make("prg_boolean", n=8)), seed_chunk=3)


# ---------------------------------------------------------------------------------------------
# gf2


def anf_eval(coeffs, k):
    """Evaluate the ANF on every pattern: ⊕_{J ⊆ m} a[J]."""
    return np.array(
        [np.bitwise_xor.reduce([coeffs[j] for j in range(2**k) if j & m == j]) for m in range(2**k)]
    )


@pytest.mark.parametrize("name,k", [("tsa", None), ("xor_maj(5,7)", None), ("xor", 4)])
def test_anf_inverts_the_truth_table(name, k):
    pred = prg.make_predicate(name, k)
    coeffs = gf2.anf(pred)
    np.testing.assert_array_equal(anf_eval(coeffs, pred.k), pred.truth_table())


def test_anf_of_tsa_and_xor_maj():
    tsa = prg.make_predicate("tsa")
    # w1 + w2 + w3 + w4 w5: masks 0b00001, 0b00010, 0b00100, 0b11000
    assert list(np.nonzero(gf2.anf(tsa))[0]) == [1, 2, 4, 24]
    assert gf2.degree(tsa) == 2
    xm = prg.make_predicate("xor_maj(5,7)")
    assert gf2.degree(xm) == 4  # MAJ_7 has GF(2) degree 4
    assert gf2.monomial_count(128, 4) == 128 + 8128 + 341376 + 10668000 == 11017632


def test_gf2_refuses_xor_maj_at_128():
    public = Public.of(instances.make("prg_gauss3_smoothed"))  # xor_maj(5,7), n=128
    with pytest.raises(ValueError, match=r"degree 4.*11017632 monomials"):
        hardnet.learners.make("gf2", public=public)
    with pytest.raises(ValueError, match="public"):
        gf2.make()


def test_gf2_solves_tsa_n24():
    """450 = 1.5 (n + C(n,2)) informative rows; the seed is identified and every fresh
    prediction is right, though the linear system is never unique (all-ones kernel)."""
    inst, params, train, test = draw("prg_boolean", 450, n=24, predicate="tsa")
    pred = gf2.make(public=Public.of(inst)).fit(None, *train[:2])
    info = {k: int(v) for k, v in pred.info.items() if k != "agreement"}
    assert info["num_variables"] == 300 and info["equations"] == 450
    assert info["consistent"] and info["solved"] and info["rank"] < 300
    np.testing.assert_array_equal(pred.state["seed"], params["seed"])
    acc, count = fresh_accuracy(pred, train, test)
    assert count > 1900 and acc == 1.0


@pytest.mark.parametrize("k", [5, 4])
def test_gf2_solves_xor_n24(k):
    """2n = 48 rows. k=4: s and its complement tie (not `solved`), predictions still right."""
    inst, params, train, test = draw("prg_boolean", 48, n=24, k=k, predicate="xor")
    pred = gf2.make(public=Public.of(inst)).fit(None, *train[:2])
    assert bool(pred.info["consistent"])
    assert bool(pred.info["solved"]) == (k == 5)
    assert int(pred.info["rank"]) == (24 if k == 5 else 23)
    seed, truth = np.asarray(pred.state["seed"]), np.asarray(params["seed"])
    assert (seed == truth).all() or (k == 4 and (seed == 1 - truth).all())
    acc, count = fresh_accuracy(pred, train, test)
    assert count > 1900 and acc == 1.0


def test_gf2_fails_on_null():
    inst, _, train, test = draw("prg_boolean", 450, n=24, predicate="tsa", null=True)
    pred = gf2.make(public=Public.of(inst)).fit(None, *train[:2])
    assert not bool(pred.info["consistent"]) and not bool(pred.info["solved"])
    acc, count = fresh_accuracy(pred, train, test)
    assert near_half(acc, count), acc


def test_gf2_vmaps_and_refuses_large_systems():
    inst = instances.make("prg_boolean", n=8, predicate="tsa")
    keys = jax.random.split(jax.random.key(7), 2)
    params = jax.vmap(inst.init)(keys)
    x, y, _ = jax.jit(jax.vmap(lambda p, kk: inst.sample(p, kk, 150)))(params, keys)
    learner = gf2.make(public=Public.of(inst))
    preds = jax.vmap(lambda xx, yy: learner.fit(None, xx, yy))(x, y)
    np.testing.assert_array_equal(preds.state["seed"], params["seed"])
    with pytest.raises(ValueError, match="max_bytes"):
        gf2.make(public=Public.of(inst), max_bytes=64)
    with pytest.raises(ValueError, match="max_bytes"):
        gf2.make(public=Public.of(inst), max_bytes=400, chunk=8).fit(None, x[0], y[0])
