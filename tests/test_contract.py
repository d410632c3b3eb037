"""The Instance contract, checked on every family: determinism, vmap = loop, chunked = one-shot,
meta fields, informative fraction against its formula, the null control, and the errors."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.analysis import stats
from hardnet.instances import families, kind, make

SMALL = {
    "prg_boolean": dict(n=8, predicate="tsa"),
    "prg_gauss3_dv21": dict(n=8, k=3, predicate="xor"),
    "prg_gauss3_smoothed": dict(n=8, k=3, predicate="xor", tau=1e-4),
    "prg_depth2_smoothed": dict(n=8, k=3, predicate="xor"),
    "natural_depth2": dict(n=8, inputs="clauses"),
    "easy_depth2": dict(d=8, m=4),
}
# the same families, noise-free where noise is optional, for exact label checks
NOISE_FREE = {
    "prg_boolean": dict(n=8, k=3, predicate="xor"),
    "prg_gauss3_dv21": dict(n=8, k=3, predicate="xor"),
    "prg_gauss3_smoothed": dict(n=8, k=3, predicate="xor", tau=0.0),
    "prg_depth2_smoothed": dict(n=8, k=3, predicate="xor", tau=0.0, omega=0.0),
}

# Labels are compared with a tolerance: different compiled programs may round x differently in
# the last bit, and F2's ramp has slope 2^k/δ (512 at n=8, k=3), so its labels move by ~1e-4.
Y_ATOL = {"prg_gauss3_dv21": 1e-3}


def _assert_same(a, b):
    """Bits, indices and hashes exactly; floats (f(x) computed by another program) to 1e-5."""
    if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(a, b)


def test_every_family_has_a_small_config():
    assert set(SMALL) == set(families())


@functools.cache
def _small(family):
    """One instance per family, so that the tests share its jitted programs (one per shape)."""
    return make(family, **SMALL[family])


@pytest.mark.parametrize("family", sorted(SMALL))
def test_same_key_same_numbers(family):
    inst = _small(family)
    p1, p2 = inst.init(jax.random.key(7)), inst.init(jax.random.key(7))
    jax.tree.map(np.testing.assert_array_equal, p1, p2)
    sample = lambda p, key: inst.sample(p, key, 63)
    a, b = sample(p1, jax.random.key(8)), sample(p2, jax.random.key(8))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    c = sample(p1, jax.random.key(9))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("family", sorted(SMALL))
def test_vmap_over_seeds_equals_loop(family):
    inst = _small(family)
    keys = jax.random.split(jax.random.key(0), 3)
    data_keys = jax.random.split(jax.random.key(1), 3)
    params = jax.jit(jax.vmap(inst.init))(keys)
    batched = jax.jit(jax.vmap(lambda p, key: inst.sample(p, key, 63)))(params, data_keys)
    for i in range(3):
        p_i = inst.init(keys[i])
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-6, atol=1e-6), params, p_i
        )
        single = inst.sample(p_i, data_keys[i], 63)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6), batched, single
        )


@pytest.mark.parametrize("family", sorted(SMALL))
def test_chunked_equals_one_shot(family):
    inst = _small(family)
    params = inst.init(jax.random.key(0))
    key = jax.random.key(1)
    whole = inst.sample(params, key, 63)
    parts = [inst.sample(params, key, 21, start) for start in (0, 21, 42)]  # unaligned starts
    joined = jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)
    np.testing.assert_allclose(whole[0], joined[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(whole[1], joined[1], atol=Y_ATOL.get(family, 1e-5))
    jax.tree.map(_assert_same, whole[2], joined[2])


@pytest.mark.parametrize("family", sorted(SMALL))
def test_shapes_dtypes_and_meta(family):
    inst, num = _small(family), 21
    params = inst.init(jax.random.key(0))
    x, y, meta = inst.sample(params, jax.random.key(1), num)
    assert x.shape == (num, inst.input_dim) and x.dtype == jnp.float32
    assert y.shape == (num,) and y.dtype == jnp.float32
    assert meta["informative"].dtype == jnp.bool_ and meta["informative"].shape == (num,)
    np.testing.assert_allclose(inst.apply(params, x), y, atol=1e-5)
    if kind(family) == "prg":
        assert (
            meta["hyperedge_hash"].shape == (num, 2) and meta["hyperedge_hash"].dtype == jnp.uint32
        )
        assert meta["clean_label"].shape == (num,) and meta["planted_bit"].shape == (num,)
        assert inst.encoding is not None and inst.encoding.name and inst.encoding.n == 8
        decoded, valid = inst.encoding.decode(x)
        np.testing.assert_array_equal(decoded, meta["hyperedge"])
        informative = inst.encoding.informative
        public_view = valid if informative is None else informative(x)  # None: decodable rows
        np.testing.assert_array_equal(public_view, meta["informative"])
    assert inst.id.startswith(family + "/")


@pytest.mark.parametrize("family", sorted(SMALL))
def test_informative_fraction_matches_formula(family):
    inst = make(family, **SMALL[family])
    num = 40_000
    _, _, meta = inst.sample(inst.init(jax.random.key(0)), jax.random.key(1), num)
    hits = int(np.asarray(meta["informative"]).sum())
    low, high = stats.wilson_interval(hits, num, 0.999)
    assert low <= inst.informative_fraction <= high, (hits / num, inst.informative_fraction)


@pytest.mark.parametrize("family", sorted(NOISE_FREE))
def test_null_is_balanced_consistent_and_uncorrelated(family):
    inst = make(family, **NOISE_FREE[family], null=True)
    params = inst.init(jax.random.key(3))
    _, y, meta = inst.sample(params, jax.random.key(4), 20_000)
    inf = np.asarray(meta["informative"])
    y, planted = np.asarray(y)[inf], np.asarray(meta["planted_bit"])[inf]
    clean = np.asarray(meta["clean_label"])[inf]
    np.testing.assert_allclose(y, planted, atol=1e-5)  # the teacher writes r(S)
    hashes = [tuple(h) for h in np.asarray(meta["hyperedge_hash"])[inf]]
    first = {}
    for h, bit in zip(hashes, planted, strict=True):
        assert first.setdefault(h, bit) == bit  # consistent on repeated S
    assert len(first) < len(hashes)  # (8)_3 = 336 hyperedges: they do repeat
    bits = np.array(list(first.values()))
    clean_by_h = dict(zip(hashes, clean, strict=True))
    pbits = np.array([clean_by_h[h] for h in first])
    m = len(bits)
    assert abs(bits.mean() - 0.5) < 4 * 0.5 / np.sqrt(m)
    corr = np.corrcoef(bits, pbits)[0, 1]
    assert abs(corr) < 4 / np.sqrt(m)


@pytest.mark.parametrize(
    "family,kwargs,match",
    [
        ("nope", {}, "family must be one of"),
        ("prg_boolean", dict(n=4, predicate="tsa"), "k must be <= n"),
        ("prg_gauss3_smoothed", dict(n=6, k=3, predicate="xor"), "n must be a power of two"),
        ("prg_depth2_smoothed", dict(n=12, k=3, predicate="xor"), "n must be a power of two"),
        ("prg_gauss3_smoothed", dict(tau=-1e-5), "tau must be >= 0"),
        ("prg_depth2_smoothed", dict(tau=-1.0), "tau must be >= 0"),
        ("prg_gauss3_dv21", dict(n=8, k=3, predicate="xor", tau=-1.0), "tau"),
        ("prg_boolean", dict(predicate="maj"), "predicate must be one of"),
        ("prg_gauss3_smoothed", dict(n=8, k=3, predicate="xor", d=8), "d must be >= L"),
        ("prg_depth2_smoothed", dict(n=8, k=3, predicate="xor", d=3), "d must be >= L"),
        ("prg_gauss3_dv21", dict(n=8, k=3, predicate="xor", d=10), "d"),
        ("prg_boolean", dict(n=8, colour="red"), "unknown parameter|unexpected keyword"),
        ("prg_boolean", dict(n=8.5), "n must be an integer"),
    ],
)
def test_bad_parameters_raise_value_error(family, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match) as err:
        make(family, **kwargs)
    assert err.type is ValueError


def test_sample_too_large_to_fit_is_refused_before_compiling(monkeypatch):
    monkeypatch.setenv("HARDNET_MAX_BYTES", str(2**20))
    inst = make("prg_gauss3_smoothed", n=8, k=3, predicate="xor")
    with pytest.raises(ValueError, match=r"num=1000000 rows.*GiB"):
        inst.sample(inst.init(jax.random.key(0)), jax.random.key(1), 1_000_000)
