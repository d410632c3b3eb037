"""hardnet.core.streaming: chunked sampling equals one-shot sampling, for one seed and for many."""

import dataclasses

import jax
import numpy as np
import pytest

from hardnet.core import streaming
from hardnet.instances import make


@pytest.fixture(scope="module")
def instance():
    return make("prg_boolean", n=8)


def _concat(batches, axis=0):
    """Concatenate a list of (x, y, meta) chunks along the row axis."""
    return jax.tree.map(lambda *a: np.concatenate(a, axis=axis), *batches)


def _assert_tree_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for u, v in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.parametrize(("total", "chunk"), [(10, 3), (10, 10), (7, 100), (1, 1)])
def test_chunked_equals_one_shot(instance, total, chunk):
    params = instance.init(jax.random.key(0))
    key = jax.random.key(1)
    batches = list(streaming.stream(instance, params, key, total, chunk))
    sizes = [b[0].shape[0] for b in batches]
    assert sizes == [min(chunk, total - s) for s in range(0, total, chunk)]
    _assert_tree_equal(_concat(batches), instance.sample(params, key, total))


@pytest.mark.parametrize("family", ["prg_boolean", "prg_gauss3_smoothed"])
def test_stream_meta_equals_the_meta_of_stream(family):
    inst = make(family, n=8) if family == "prg_boolean" else make(family, n=16, predicate="tsa")
    params = inst.init(jax.random.key(0))
    key, fields = jax.random.key(1), ("hyperedge_hash", "informative")
    metas = list(streaming.stream_meta(inst, params, key, 10, 4, fields))
    assert [sorted(m) for m in metas] == [sorted(fields)] * 3
    full = _concat(list(streaming.stream(inst, params, key, 10, 4)))[2]
    _assert_tree_equal(_concat(metas), {name: full[name] for name in fields})


def test_stream_compiles_at_most_twice(instance):
    traces = []

    def sample(params, key, num, start=0):
        traces.append(num)
        return instance.sample(params, key, num, start)

    counting = dataclasses.replace(instance, sample=sample)
    params = instance.init(jax.random.key(0))
    batches = list(streaming.stream(counting, params, jax.random.key(1), 11, 3))
    assert len(batches) == 4
    assert sorted(traces) == [2, 3]


def test_stream_seeds_equals_per_seed_streams(instance):
    seeds = 3
    keys = jax.random.split(jax.random.key(0), seeds)
    data_keys = jax.random.split(jax.random.key(1), seeds)
    params = jax.vmap(instance.init)(keys)
    batches = list(streaming.stream_seeds(instance, params, data_keys, 10, 4))
    assert [b[0].shape[:2] for b in batches] == [(seeds, 4), (seeds, 4), (seeds, 2)]
    joined = _concat(batches, axis=1)
    for i in range(seeds):
        params_i = jax.tree.map(lambda a, i=i: a[i], params)
        single = _concat(list(streaming.stream(instance, params_i, data_keys[i], 10, 4)))
        _assert_tree_equal(jax.tree.map(lambda a, i=i: a[i], joined), single)


def test_sample_seeds_matches_init_and_sample(instance):
    keys = jax.random.split(jax.random.key(5), 2)
    data_keys = jax.random.split(jax.random.key(6), 2)
    params, x, y, meta = streaming.sample_seeds(instance, keys, 6, data_keys)
    assert x.shape == (2, 6, instance.input_dim) and y.shape == (2, 6)
    for i in range(2):
        params_i = instance.init(keys[i])
        _assert_tree_equal(jax.tree.map(lambda a, i=i: a[i], params), params_i)
        _assert_tree_equal(
            (x[i], y[i], jax.tree.map(lambda a, i=i: a[i], meta)),
            instance.sample(params_i, data_keys[i], 6),
        )
    # Without data_keys, each key is split into (init key, data key).
    params2, x2, _, _ = streaming.sample_seeds(instance, keys, 6)
    init_key, data_key = jax.random.split(keys[0])
    _assert_tree_equal(jax.tree.map(lambda a: a[0], params2), instance.init(init_key))
    np.testing.assert_array_equal(x2[0], instance.sample(instance.init(init_key), data_key, 6)[0])


@pytest.mark.parametrize(
    ("total", "chunk", "name"),
    [(0, 4, "total"), (-3, 4, "total"), (2.5, 4, "total"), (10, 0, "chunk"), (10, True, "chunk")],
)
def test_bad_total_or_chunk(instance, total, chunk, name):
    params = instance.init(jax.random.key(0))
    with pytest.raises(ValueError, match=name):
        streaming.stream(instance, params, jax.random.key(1), total, chunk)
    batched = jax.vmap(instance.init)(jax.random.split(jax.random.key(0), 2))
    keys = jax.random.split(jax.random.key(1), 2)
    with pytest.raises(ValueError, match=name):
        streaming.stream_seeds(instance, batched, keys, total, chunk)


def test_bad_seed_axes(instance):
    batched = jax.vmap(instance.init)(jax.random.split(jax.random.key(0), 2))
    keys = jax.random.split(jax.random.key(1), 3)
    with pytest.raises(ValueError, match="params_batched"):
        streaming.stream_seeds(instance, batched, keys, 4, 2)
    with pytest.raises(ValueError, match="keys"):
        streaming.stream_seeds(instance, batched, jax.random.key(1), 4, 2)
    with pytest.raises(ValueError, match="num"):
        streaming.sample_seeds(instance, keys, 0)
