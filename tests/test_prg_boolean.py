"""F1 prg_boolean [DV21 Thm 8(1)]: N_s(z^S) = P(s_S) for every hyperedge, every predicate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.core import prg
from hardnet.instances import make


@pytest.mark.parametrize(
    "n,k,predicate",
    [(6, None, "tsa"), (6, 3, "xor"), (6, 3, "dictator"), (6, 4, "xor_maj(1,3)"), (5, 5, "xor")],
)
def test_teacher_equals_predicate_on_every_hyperedge(n, k, predicate):
    inst = make("prg_boolean", n=n, k=k, predicate=predicate)
    edges = jnp.asarray(prg.all_hyperedges(n, inst.encoding.predicate.k))
    z = jax.vmap(lambda s: prg.negated_one_hot(s, n))(edges)
    for seed in range(4):
        params = inst.init(jax.random.key(seed))
        expected = inst.encoding.predicate(prg.seed_bits(params["seed"], edges))
        np.testing.assert_array_equal(np.asarray(inst.apply(params, z)), np.asarray(expected))


def test_exactly_one_unit_fires():
    """On z^S the pre-activation of unit b is 1 − #{j: s_{i_j} ≠ b_j}: one unit, at b = s_S."""
    n = 6
    inst = make("prg_boolean", n=n, predicate="tsa")
    params = inst.init(jax.random.key(0))
    s = np.asarray(params["seed"])
    ones = inst.encoding.predicate.ones()
    for edge in prg.all_hyperedges(n, 5)[:50]:
        z = np.asarray(prg.negated_one_hot(jnp.asarray(edge), n)).reshape(5, n)
        pre = []
        for b in ones:
            mask = s[None, :] != b[:, None]  # I_b
            pre.append((z * mask).sum() - (mask.sum() - 1))
        pre = np.array(pre)
        mismatches = (s[edge][None, :] != ones).sum(1)
        np.testing.assert_array_equal(pre, 1 - mismatches)
        assert (pre > 0).sum() == inst.encoding.predicate(s[edge])


def test_null_on_encodings_is_the_random_bit():
    inst = make("prg_boolean", n=8, predicate="tsa", null=True)
    params = inst.init(jax.random.key(0))
    _, y, meta = inst.sample(params, jax.random.key(1), 500)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(meta["planted_bit"]))
    # off the encodings the null network is 0 on inputs far from every code
    assert float(inst.apply(params, jnp.zeros((1, 40)))[0]) == 0.0
