"""F2 `prg_gauss3_dv21` [DV21 Thm 11]: labels, region table, reorganized sums, informative
fraction, null, determinism, errors, and the noisy (materialized) path.

Kept fast on CPU: few configurations, each compiled once and shared.
"""

from __future__ import annotations

import functools
import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet.core import prg
from hardnet.instances import make as make_family
from hardnet.instances import prg_gauss3_dv21 as f2

SMALL = dict(n=8, k=3, predicate="xor")
NOISY = dict(n=8, k=3, predicate="xor", delta=0.05, tau=5e-6)


@functools.cache
def _compiled(**kwargs):
    """The instance, its params at key 0, its jitted sample (num static) and jitted apply."""
    inst = f2.make(**kwargs)
    params = _jit_init(**kwargs)(jax.random.key(0))
    jitted = jax.jit(inst.sample, static_argnums=2)
    sample = lambda p, key, num, start=0: jitted(p, key, num, start)  # one compile per num
    return inst, params, sample, jax.jit(inst.apply)


@functools.cache
def _jit_init(**kwargs):
    return jax.jit(f2.make(**kwargs).init)


def _threshold(n: int) -> float:
    return float(np.float32(prg.bernoulli_gaussian_threshold(n)))


def _code(hyperedges: np.ndarray, n: int, c: float, gap: float = 1.0) -> np.ndarray:
    """Clean Bernoulli-Gaussian codes: c − gap at the zero of each slice, c + gap elsewhere."""
    hot = np.eye(n)[np.asarray(hyperedges)]
    return np.where(hot == 1, c - gap, c + gap).reshape(len(hyperedges), -1).astype(np.float32)


def _planted(params, pred, hyperedges) -> np.ndarray:
    bits = np.asarray(params["seed"])[np.asarray(hyperedges)]
    return np.asarray(pred(jnp.asarray(bits)), np.float32)


def _relu(t):
    return np.maximum(t, 0.0)


def _brute_force(x, seed, pred, n, k, delta, c) -> dict[str, np.ndarray]:
    """Every unit of the network, one by one, with the literal ReLU formulas in float64."""
    z = np.asarray(x, np.float64)[:, : k * n] - c
    f = (_relu(z) - _relu(z - delta)) / delta
    m = (_relu(z + delta) - _relu(z)) / delta - (_relu(z - delta) - _relu(z - 2 * delta)) / delta
    f, seed = f.reshape(-1, k, n), np.asarray(seed)
    u = 1 - f
    n1 = np.zeros(len(z))
    for b in itertools.product((0, 1), repeat=k):
        if int(pred(jnp.asarray(b))) == 1:
            unit = [(j, i) for j in range(k) for i in range(n) if seed[i] != b[j]]
            js, ls = np.array(unit).T
            n1 += _relu(f[:, js, ls].sum(-1) - (len(unit) - 1))
    two = sum(
        _relu(u[:, j, i] + u[:, j, i2] - 1)
        for j in range(k)
        for i, i2 in itertools.combinations(range(n), 2)
    )
    none = sum(_relu(f[:, j].sum(-1) - (n - 1)) for j in range(k))
    shared = sum(
        _relu(u[:, j, i] + u[:, j2, i] - 1)
        for j, j2 in itertools.combinations(range(k), 2)
        for i in range(n)
    )
    n3 = _relu(m.sum(-1))
    y = _relu(n1 - 2**k * (two + none + shared) - 2**k * n3)
    return dict(f=f, m=m, n1=n1, two=two, detector=two + none + shared, n3=n3, y=y)


def _near_thresholds(key, num, n, k, delta, c) -> np.ndarray:
    """Gaussian rows with about a third of the coordinates moved into (c − 1.5δ, c + 2.5δ)."""
    k1, k2, k3 = jax.random.split(key, 3)
    x = np.asarray(jax.random.normal(k1, (num, k * n)))
    near = np.asarray(jax.random.bernoulli(k2, 0.35, (num, k * n)))
    ramp = c + delta * np.asarray(jax.random.uniform(k3, (num, k * n), minval=-1.5, maxval=2.5))
    return np.where(near, ramp, x).astype(np.float32)


def _binomial_interval(p: float, num: int, z: float = 3.29) -> tuple[float, float]:
    """99.9% normal-approximation interval for the count of a Binomial(num, p)."""
    half = z * math.sqrt(num * p * (1 - p)) + 1
    return num * p - half, num * p + half


# ------------------------------------------------------------------------------------------------
# Labels and the region table


@pytest.mark.parametrize(
    "kwargs,num",
    [
        (dict(n=8, predicate="tsa"), 40_000),
        (dict(n=8, k=3, predicate="xor"), 20_000),
        (dict(n=8, k=3, predicate="dictator", d=30), 5_000),  # with padding coordinates
        (dict(n=64, k=3, predicate="xor"), 5_000),
        (dict(n=64, k=5, predicate="dictator"), 20_000),
    ],
)
def test_informative_rows_carry_the_planted_bit(kwargs, num):
    inst, params, sample, _ = _compiled(**kwargs)
    x, y, meta = sample(params, jax.random.key(1), num)
    inf = np.asarray(meta["informative"])
    assert inf.sum() >= 20, inf.sum()
    hyperedge = np.asarray(meta["hyperedge"])[inf]
    # the decoded S* is the position of the smallest coordinate of each slice
    k, n = inst.encoding.predicate.k, inst.encoding.n
    argmin = np.argmin(np.asarray(x)[inf, : k * n].reshape(-1, k, n), axis=-1)
    np.testing.assert_array_equal(hyperedge, argmin)
    planted = _planted(params, inst.encoding.predicate, hyperedge)
    np.testing.assert_allclose(np.asarray(y)[inf], planted, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(meta["clean_label"])[inf], planted)
    assert 0.05 < planted.mean() < 0.95


def test_region_table_on_sampled_rows():
    inst, params, sample, _ = _compiled(**SMALL)
    n, k, delta, c = 8, 3, 1 / 64, _threshold(8)
    x, y, meta = sample(params, jax.random.key(2), 20_000)
    x, y = np.asarray(x), np.asarray(y)
    _, valid = inst.encoding.decode(x)
    valid, a = np.asarray(valid), x[:, : k * n] - c
    in_step = np.any((a >= 0) & (a <= delta), axis=-1)
    in_band = np.any((a > -delta) & (a < 2 * delta), axis=-1)
    clean = np.asarray(meta["clean_label"])
    assert (~valid).sum() > 1000 and in_step.sum() > 100 and (valid & in_band & ~in_step).sum() > 20
    assert np.all(y[~valid] == 0)  # not an encoding → 0
    inf = valid & ~in_band
    np.testing.assert_array_equal(np.asarray(meta["informative"]), inf)
    np.testing.assert_allclose(y[inf], clean[inf], atol=1e-5)  # informative → P(s_S)
    assert np.all(y[in_step] == 0)  # a coordinate in [c, c+δ] → 0
    ramp = valid & in_band & ~in_step
    assert np.all((y[ramp] >= 0) & (y[ramp] <= clean[ramp] + 1e-6))  # otherwise a ramp
    brute = _brute_force(x[ramp], params["seed"], inst.encoding.predicate, n, k, delta, c)
    np.testing.assert_allclose(y[ramp], brute["y"], atol=1e-3)


def test_region_table_on_constructed_inputs():
    inst, params, _, apply = _compiled(**SMALL)
    n, k, delta, c = 8, 3, 1 / 64, _threshold(8)
    edges = prg.all_hyperedges(n, k)  # all 336 hyperedges: exhaustive
    planted = _planted(params, inst.encoding.predicate, edges)
    x = _code(edges, n, c)
    np.testing.assert_array_equal(np.asarray(apply(params, x)), planted)
    zero_at = edges[:, 0]  # coordinate of the zero of slice 0; slice 0 also has a one at `one_at`
    one_at = (edges[:, 0] + 1) % n
    rows = np.arange(len(edges))

    def with_value(q, value):
        out = x.copy()
        out[rows, q] = value
        return np.asarray(apply(params, out))

    assert np.all(with_value(one_at, c - 1) == 0)  # two zeros in a slice
    assert np.all(with_value(zero_at, c + 1) == 0)  # no zero in a slice
    assert np.all(with_value(zero_at, c + delta / 2) == 0)  # coordinate in (c, c+δ)
    assert np.all(with_value(one_at, c + delta / 2) == 0)
    shared = edges.copy()
    shared[:, 1] = shared[:, 0]  # two slices with a zero at the same index
    assert np.all(np.asarray(apply(params, _code(shared, n, c))) == 0)
    for q, t in [(zero_at, 0.95), (zero_at, 0.5), (one_at, 0.97), (one_at, 0.2)]:
        side = -t if q is zero_at else 2 - t  # c − tδ has m = 1 − t; c + (2 − t)δ has m = t
        m = 1 - t if q is zero_at else t
        np.testing.assert_allclose(
            with_value(q, c + side * delta), np.maximum(planted - 2**k * m, 0), atol=1e-3
        )


# ------------------------------------------------------------------------------------------------
# The reorganized sums against every unit


def test_reorganized_sums_equal_brute_force():
    inst, params, _, apply = _compiled(**SMALL)
    n, k, delta, c = 8, 3, 1 / 64, _threshold(8)
    x = np.concatenate(
        [
            _near_thresholds(jax.random.key(3), 400, n, k, delta, c),
            np.asarray(jax.random.normal(jax.random.key(4), (200, k * n))),
        ]
    )
    brute = _brute_force(x, params["seed"], inst.encoding.predicate, n, k, delta, c)
    frac = (brute["f"] > 0) & (brute["f"] < 1)
    assert np.any(frac.sum(-1) >= 2) and np.any(frac.sum(-2) >= 2)  # the within-G terms run
    ones = jnp.asarray(inst.encoding.predicate.ones())

    @jax.jit
    def terms(x, seed):
        f, m = f2.step_and_tent(x.reshape(-1, k, n), c, delta)
        pairs = f2.pairs_above_one(1 - f).sum(-1)
        return f, m, f2.seed_units(f, seed, ones), pairs, f2.invalid_detector(f)

    f, m, n1, pairs, detector = terms(jnp.asarray(x), params["seed"])
    np.testing.assert_allclose(f, brute["f"], atol=1e-4)
    np.testing.assert_allclose(m.reshape(len(x), -1), brute["m"], atol=1e-4)
    np.testing.assert_allclose(n1, brute["n1"], atol=1e-3)
    np.testing.assert_allclose(pairs, brute["two"], atol=1e-3)
    np.testing.assert_allclose(detector, brute["detector"], atol=1e-3)
    np.testing.assert_allclose(apply(params, x), brute["y"], atol=1e-3)
    y_ref, pre = inst.materialized(params, x)  # the materialized network, float64
    np.testing.assert_allclose(y_ref, brute["y"], atol=1e-6)
    assert pre.shape == (len(x), k * math.comb(n, 2) + k + n * math.comb(k, 2) + 4 + 1)


def test_pairs_above_one_on_arbitrary_values():
    u = np.array(jax.random.uniform(jax.random.key(5), (64, 3, 16)))
    u[:, 0] = np.round(u[:, 0])  # slices of 0/1 values, and a mix
    u[:, 1, :8] = np.round(u[:, 1, :8])
    brute = sum(_relu(u[..., i] + u[..., i2] - 1) for i, i2 in itertools.combinations(range(16), 2))
    np.testing.assert_allclose(f2.pairs_above_one(jnp.asarray(u)), brute, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Informative fraction


def test_informative_fraction_formula():
    inst = f2.make(n=64, predicate="tsa")
    assert 0.0055 < inst.informative_fraction < 0.0065  # the design's 0.006
    rough = ((1 - 1 / 64) ** 63) ** 5 * math.perm(64, 5) / 64**5
    assert abs(inst.informative_fraction / rough - 1) < 0.05  # the band (c−δ, c+2δ) is thin


@pytest.mark.parametrize(
    "kwargs,num,chunks", [(dict(n=64, predicate="tsa"), 50_000, 4), (SMALL, 20_000, 2)]
)
def test_informative_fraction_matches_sampling(kwargs, num, chunks):
    inst, params, sample, _ = _compiled(**kwargs)
    hits = 0
    for i in range(chunks):
        _, y, meta = sample(params, jax.random.key(6), num, i * num)
        inf = np.asarray(meta["informative"])
        planted = _planted(params, inst.encoding.predicate, np.asarray(meta["hyperedge"])[inf])
        np.testing.assert_allclose(np.asarray(y)[inf], planted, atol=1e-5)  # labels, as above
        hits += int(inf.sum())
    low, high = _binomial_interval(inst.informative_fraction, chunks * num)
    assert low <= hits <= high, (hits / (chunks * num), inst.informative_fraction)


# ------------------------------------------------------------------------------------------------
# Null control


def test_null_labels_are_random_bits_of_the_hyperedge():
    inst, params, sample, apply = _compiled(**SMALL, null=True)
    edges = prg.all_hyperedges(8, 3)
    bits = np.asarray(apply(params, _code(edges, 8, _threshold(8))))
    expected = np.asarray(prg.null_bits(jax.random.wrap_key_data(params["label_key"]), edges))
    np.testing.assert_array_equal(bits, expected)  # exhaustive: the label is r(S)
    clean = _planted(params, inst.encoding.predicate, edges)
    assert abs(bits.mean() - 0.5) < 4 * 0.5 / math.sqrt(len(edges))
    assert abs(np.corrcoef(bits, clean)[0, 1]) < 4 / math.sqrt(len(edges))
    _, y, meta = sample(params, jax.random.key(7), 20_000)  # sampled: consistent on repeats
    inf = np.asarray(meta["informative"])
    hashes = [tuple(h) for h in np.asarray(meta["hyperedge_hash"])[inf]]
    seen: dict = {}
    for h, label in zip(hashes, np.asarray(y)[inf], strict=True):
        assert seen.setdefault(h, label) == label
    assert len(seen) < len(hashes)
    np.testing.assert_allclose(np.asarray(y)[inf], np.asarray(meta["planted_bit"])[inf], atol=1e-5)
    y_ref, _ = inst.materialized(params, np.asarray(_code(edges, 8, _threshold(8))))
    np.testing.assert_allclose(y_ref, expected, atol=1e-9)  # lazy = every hyperedge unit


# ------------------------------------------------------------------------------------------------
# Determinism, vmap, chunking, jit


# Different compilations may round x differently by an ulp; a ramp label (2^k/δ = 512 times steeper
# at n=8, k=3) moves by up to 512 ulps then, so compiled-vs-compiled checks use atol 2e-4.
@pytest.mark.parametrize("kwargs,atol", [(SMALL, 2e-4), (NOISY, 2e-4)])
def test_same_key_vmap_chunks_and_jit(kwargs, atol):
    inst, _, sample, _ = _compiled(**kwargs)
    keys = jax.random.split(jax.random.key(8), 4)
    data_keys = jax.random.split(jax.random.key(9), 4)
    params = jax.vmap(inst.init)(keys)
    batched = jax.jit(jax.vmap(lambda p, key: inst.sample(p, key, 100)))(params, data_keys)
    init = _jit_init(**kwargs)
    for i in range(4):  # vmap over seeds = a Python loop
        p_i = init(keys[i])
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b, atol=1e-6), params, p_i)
        single = sample(p_i, data_keys[i], 100)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[i], b, atol=atol), batched, single)
    p0 = init(keys[0])
    jax.tree.map(np.testing.assert_array_equal, p0, init(keys[0]))  # same key, same numbers
    whole = sample(p0, data_keys[0], 20_000)  # the size other tests compile
    jax.tree.map(np.testing.assert_array_equal, whole, sample(p0, data_keys[0], 20_000))
    parts = [sample(p0, data_keys[0], 100, start) for start in range(0, 20_000, 100)]
    joined = jax.tree.map(lambda *xs: jnp.concatenate(xs), *parts)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=atol), whole, joined)
    other = sample(p0, jax.random.key(10), 100)
    assert not np.array_equal(other[0], parts[0][0])
    x, y, meta = whole
    assert x.shape == (20_000, inst.input_dim) and x.dtype == y.dtype == jnp.float32
    np.testing.assert_array_equal(
        inst.encoding.decode(x)[0], meta["hyperedge"]
    )  # the public decoder
    assert meta["hyperedge_hash"].shape == (20_000, 2) and meta["informative"].dtype == jnp.bool_


def test_instance_fields():
    inst = make_family("prg_gauss3_dv21", n=8, k=3, predicate="xor", d=30)
    assert inst.family == "prg_gauss3_dv21" and inst.input_dim == 30 and inst.encoding.n == 8
    assert inst.encoding.name == "bernoulli_gaussian" and inst.notes == ()
    assert inst.config["delta"] == 1 / 64 and isinstance(inst.config["delta"], float)
    assert inst.config["tau"] == 0.0 and inst.config["allow_unsafe_tau"] is False
    json.dumps(dict(inst.config))
    assert f2.make(n=64).input_dim == 320 and f2.make(n=64).encoding.predicate.name == "tsa"


# ------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=4, predicate="tsa"), "k must be <= n"),
        (dict(n=8, k=3, predicate="xor", d=20), "d must be >= kn"),
        (dict(n=8, k=3, predicate="xor", tau=-1e-3), "tau must be >= 0"),
        (dict(predicate="majority"), "predicate must be one of"),
        (dict(n=8, k=3, predicate="xor", delta=0.0), "delta must be > 0"),
        (dict(n=8, k=3, predicate="xor", delta=1e-9), "delta=.*float32 cannot resolve"),
        (dict(n=8, k=3, predicate="xor", null="yes"), "null must be True or False"),
        (dict(n=8, k=3, predicate="xor", allow_unsafe_tau=1), "allow_unsafe_tau must be"),
        (dict(n=8, k=3, predicate="xor", colour="red"), "unknown parameter.*colour"),
        (dict(tau=1e-6), r"tau=1e-06 breaks the noise margin.*larger delta or float64"),
        (dict(tau=1e-3, allow_unsafe_tau=True, delta=1e-4), "delta"),
        (dict(tau=1e-6, allow_unsafe_tau=True), "tau=.*float32 resolution.*larger delta"),
        (dict(NOISY, tau=1e-3), r"tau=0.001 .*margin.*delta=0.05, d=24.*largest safe tau"),
        (dict(NOISY, tau=1e-7), "tau=.*below float32 resolution"),
        (dict(n=64, k=5, predicate="xor", null=True, delta=1.0, tau=1e-6), r"\(n\)_k"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_family("prg_gauss3_dv21", **kwargs)


def test_noisy_network_too_large_is_refused(monkeypatch):
    monkeypatch.setenv("HARDNET_MAX_BYTES", str(2**12))
    with pytest.raises(ValueError, match="layer-2 units"):
        f2.make(**NOISY)


# ------------------------------------------------------------------------------------------------
# Parameter noise τ > 0 (materialized)


def test_noisy_labels_stay_close_to_clean():
    inst, params, sample, apply = _compiled(**NOISY)
    assert inst.notes == ("empirically smoothed",)
    x, y, meta = sample(params, jax.random.key(10), 20_000)
    inf = np.asarray(meta["informative"])
    y, clean = np.asarray(y)[inf], np.asarray(meta["clean_label"])[inf]
    assert inf.sum() > 200
    assert np.mean(np.abs(y - clean)) < 0.1 and np.mean((y > 0.5) == (clean == 1)) > 0.99
    y_ref, _ = inst.materialized(params, x[:2000])
    np.testing.assert_allclose(y_ref, apply(params, x[:2000]), atol=5e-3)
    sigma = inst.describe(params)["sigma_min_layer1"]
    assert 0 < sigma < 10
    unsafe = f2.make(**dict(NOISY, tau=1e-4, allow_unsafe_tau=True))
    assert unsafe.notes == ("empirically smoothed", "unsafe tau")
