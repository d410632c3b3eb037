"""Goldreich PRG pieces: predicates, hyperedges, keys, hash, encodings."""

import collections
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.core import prg


def _bits(k):
    return np.array(list(itertools.product([0, 1], repeat=k)), np.int32)


def test_predicate_definitions():
    b = _bits(5)
    tsa = prg.make_predicate("tsa")
    expected = b[:, 0] ^ b[:, 1] ^ b[:, 2] ^ (b[:, 3] & b[:, 4])
    np.testing.assert_array_equal(np.asarray(tsa(b)), expected)
    b = _bits(12)
    xm = prg.make_predicate("xor_maj(5,7)")
    expected = (b[:, :5].sum(1) % 2) ^ (b[:, 5:].sum(1) > 3.5)
    np.testing.assert_array_equal(np.asarray(xm(b)), expected)
    assert xm.k == 12 and xm.truth_table().mean() == 0.5  # balanced
    b = _bits(4)
    np.testing.assert_array_equal(np.asarray(prg.make_predicate("xor", 4)(b)), b.sum(1) % 2)
    np.testing.assert_array_equal(np.asarray(prg.make_predicate("dictator", 4)(b)), b[:, 0])


def test_truth_table_and_ones_agree():
    p = prg.make_predicate("tsa")
    table = p.truth_table()
    ones = p.ones()
    assert len(ones) == table.sum() == 16
    np.testing.assert_array_equal(np.asarray(p(ones)), 1)
    # index convention: pattern index Σ_j w_j 2^(j-1)
    np.testing.assert_array_equal((ones * 2 ** np.arange(5)).sum(1), np.nonzero(table)[0])


@pytest.mark.parametrize(
    "name,k,match",
    [
        ("nope", None, "predicate"),
        ("tsa", 4, "k must equal"),
        ("xor_maj(5,6)", None, "b odd"),
        ("xor", None, "needs the locality k"),
    ],
)
def test_bad_predicates(name, k, match):
    with pytest.raises(ValueError, match=match):
        prg.make_predicate(name, k)


def test_hyperedges_uniform_and_distinct():
    n, k, num = 5, 3, 60_000
    keys = jax.random.split(jax.random.key(0), num)
    h = np.asarray(jax.vmap(lambda key: prg.sample_hyperedge(key, n, k))(keys))
    assert np.all(np.asarray(prg.distinct(jnp.asarray(h))))
    counts = collections.Counter(map(tuple, h))
    assert len(counts) == 60  # (5)_3
    observed = np.array(list(counts.values()))
    chi2 = ((observed - num / 60) ** 2 / (num / 60)).sum()
    assert chi2 < 110  # chi-square, 59 dof: the 99.99% quantile is about 108


def test_hyperedge_keys_fold_indices_in_order():
    key = jax.random.key(3)
    s = jnp.array([[4, 1, 7]])
    manual = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, 4), 1), 7)
    np.testing.assert_array_equal(
        jax.random.key_data(prg.hyperedge_keys(key, s))[0], jax.random.key_data(manual)
    )
    # no rank overflow: n=256, k=12 indices fold fine
    big = jnp.arange(244, 256)[None]
    assert prg.hyperedge_hash(big).shape == (1, 2)


def test_hash_is_seed_free_and_separates():
    h = jnp.array(list(itertools.permutations(range(6), 3)), jnp.int32)
    hashes = np.asarray(prg.hyperedge_hash(h))
    assert hashes.dtype == np.uint32
    assert len({tuple(r) for r in hashes}) == len(h)
    np.testing.assert_array_equal(hashes, np.asarray(prg.hyperedge_hash(h)))


def test_negated_one_hot_round_trip():
    n, k = 7, 3
    edges = jnp.asarray(prg.all_hyperedges(n, k))
    z = jax.vmap(lambda s: prg.negated_one_hot(s, n))(edges)
    assert z.shape == (len(edges), k * n)
    np.testing.assert_array_equal(z.sum(1), k * n - k)
    dec, valid = prg.decode_negated_one_hot(z, k, n)
    assert bool(valid.all())
    np.testing.assert_array_equal(dec, edges)
    # two zeros in a slice, or a repeated index, is not an encoding
    z = np.ones(k * n, np.float32)
    z[[0, 1, n + 2, 2 * n + 3]] = 0
    assert not bool(prg.decode_negated_one_hot(jnp.asarray(z)[None], k, n)[1][0])
    z = np.ones(k * n, np.float32)
    z[[0, n + 0, 2 * n + 3]] = 0
    assert not bool(prg.decode_negated_one_hot(jnp.asarray(z)[None], k, n)[1][0])


def test_bernoulli_gaussian_threshold():
    n = 64
    c = prg.bernoulli_gaussian_threshold(n)
    z = np.asarray(jax.random.normal(jax.random.key(0), (400_000,)))
    assert abs((z < c).mean() - 1 / n) < 5 * np.sqrt(1 / n / 400_000)


def test_bbin_round_trip_and_validity():
    n, k = 16, 3
    h = jnp.array([[3, 15, 0], [1, 1, 2]], jnp.int32)
    bits = prg.bbin_bits(h, n)
    assert bits.shape == (2, prg.bbin_length(n, k)) == (2, 12)
    np.testing.assert_array_equal(bits[0, :4], [0, 0, 1, 1])  # 3, most significant bit first
    dec, valid = prg.decode_bbin_bits(bits, k, n)
    np.testing.assert_array_equal(dec, h)
    np.testing.assert_array_equal(valid, [True, False])
    x = 2.0 * bits - 1  # sign code
    np.testing.assert_array_equal(prg.decode_bbin(x, k, n)[0], h)


def test_ordered_distinct_probability():
    n, k = 128, 12
    uniform = prg.ordered_distinct_probability(np.full(n, 1 / n), k)
    assert abs(uniform - prg.falling_factorial(n, k) / n**k) < 1e-12
    assert abs(uniform - 0.5875) < 1e-3  # spec: 0.59 for n=128, k=12
    # brute force with unequal probabilities
    pi = np.random.default_rng(0).uniform(0, 0.3, size=5)
    brute = sum(np.prod(pi[list(s)]) for s in itertools.permutations(range(5), 3))
    assert abs(prg.ordered_distinct_probability(pi, 3) - brute) < 1e-12
