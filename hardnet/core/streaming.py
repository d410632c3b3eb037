"""Chunked and multi-seed sampling of a planted instance.

Row r of a stream depends only on `fold_in(key, r)` (see `hardnet.core.base`), so sampling rows
`start .. start+chunk` at a time gives exactly the rows of one `sample(params, key, total)` call,
with memory bounded by the chunk:

    for x, y, meta in stream(inst, params, jax.random.key(1), total=10**7, chunk=65536):
        ...

The jitted samplers below take `num` static and `start` traced, so a stream compiles at most
twice (the full chunks and the final partial chunk), and S seeds share one compiled program.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

from hardnet.core import validation
from hardnet.core.base import Array, Instance, Meta, Params

# Rows are indexed by uint32 (`hardnet.core.base.row_keys`).
MAX_ROWS = 2**32

Batch = tuple[Array, Array, Meta]


@functools.lru_cache(maxsize=64)
def _sampler(sample: Any) -> Any:
    """`sample` jitted with `num` static and `start` traced (cached per instance)."""
    return jax.jit(sample, static_argnums=2)


@functools.lru_cache(maxsize=64)
def _meta_sampler(sample: Any, fields: tuple[str, ...]) -> Any:
    """`sample` reduced to the `meta` entries `fields`, jitted like `_sampler`: XLA drops every
    computation those entries do not depend on (typically the teacher's forward pass)."""

    def run(params, key, num, start):
        _, _, meta = sample(params, key, num, start)
        return {name: meta[name] for name in fields}

    return jax.jit(run, static_argnums=2)


@functools.lru_cache(maxsize=64)
def _seed_sampler(sample: Any) -> Any:
    """`sample` vmapped over (params, key) with a leading seed axis, jitted like `_sampler`."""

    def run(params, keys, num, start):
        return jax.vmap(lambda p, k: sample(p, k, num, start))(params, keys)

    return jax.jit(run, static_argnums=2)


@functools.lru_cache(maxsize=64)
def _seed_init_sampler(init: Any, sample: Any) -> Any:
    """`init` then `sample` (rows 0..num) per seed, vmapped over keys, jitted with `num` static."""

    def run(keys, data_keys, num):
        def one(key, data_key):
            params = init(key)
            return (params, *sample(params, data_key, num, 0))

        return jax.vmap(one)(keys, data_keys)

    return jax.jit(run, static_argnums=2)


def _chunks(total: Any, chunk: Any) -> Iterator[tuple[int, int]]:
    """Validated `(start, num)` pairs covering rows `0 .. total` (checked before anything runs)."""
    total = validation.check_int("total", total, low=1, high=MAX_ROWS)
    chunk = validation.check_int("chunk", chunk, low=1)
    chunk = min(chunk, total)
    return ((start, min(chunk, total - start)) for start in range(0, total, chunk))


def _num_seeds(keys: Array) -> int:
    """Leading axis length of a batch of keys (typed `(S,)` or raw `(S, 2)`)."""
    shape = np.shape(keys)
    raw = not jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    if len(shape) < 1 + raw or shape[0] < 1:
        raise ValueError(f"keys must have a leading seed axis of length >= 1, got shape {shape}")
    return shape[0]


def stream(
    instance: Instance, params: Params, key: Array, total: int, chunk: int
) -> Iterator[Batch]:
    """Rows `0 .. total` of `instance.sample(params, key, total)`, as chunks of `chunk` rows.

    Every chunk has `chunk` rows except the last (`total % chunk` rows, if nonzero). Concatenated
    along axis 0 they equal the one-shot sample. Raises ValueError on bad `total` or `chunk`
    before anything is compiled.
    """
    chunks = _chunks(total, chunk)
    sampler = _sampler(instance.sample)
    return (sampler(params, key, num, np.uint32(start)) for start, num in chunks)


def stream_meta(
    instance: Instance, params: Params, key: Array, total: int, chunk: int, fields: tuple[str, ...]
) -> Iterator[Meta]:
    """The `meta` entries `fields` of `stream(instance, params, key, total, chunk)`, chunk by
    chunk, without computing what they do not need (e.g. the labels).

    Raises ValueError on bad `total` or `chunk` before anything is compiled, and KeyError on a
    field the instance's meta lacks when the first chunk is traced.
    """
    chunks = _chunks(total, chunk)
    sampler = _meta_sampler(instance.sample, tuple(fields))
    return (sampler(params, key, num, np.uint32(start)) for start, num in chunks)


def stream_seeds(
    instance: Instance, params_batched: Params, keys: Array, total: int, chunk: int
) -> Iterator[Batch]:
    """`stream` for S seeds at once: params and keys carry a leading seed axis of length S.

    Yields `(x, y, meta)` with shapes `(S, num, ...)`; seed i equals
    `stream(instance, params_i, keys[i], total, chunk)`. One compiled program per chunk size.
    """
    chunks = _chunks(total, chunk)
    seeds = _num_seeds(keys)
    for leaf in jax.tree_util.tree_leaves(params_batched):
        if np.ndim(leaf) < 1 or np.shape(leaf)[0] != seeds:
            raise ValueError(
                f"params_batched must have a leading seed axis of length {seeds} (as keys), "
                f"got a leaf of shape {np.shape(leaf)}"
            )
    sampler = _seed_sampler(instance.sample)
    return (sampler(params_batched, keys, num, np.uint32(start)) for start, num in chunks)


def sample_seeds(
    instance: Instance, keys: Array, num: int, data_keys: Array | None = None
) -> tuple[Params, Array, Array, Meta]:
    """Init and sample S seeds in one jitted, vmapped program.

    Seed i is `params_i = init(keys[i])` and `sample(params_i, data_keys[i], num)`. Without
    `data_keys`, each key is split in two: `init_key, data_key = jax.random.split(keys[i])`.
    Returns `(params, x, y, meta)`, each with a leading seed axis.
    """
    num = validation.check_int("num", num, low=1, high=MAX_ROWS)
    seeds = _num_seeds(keys)
    if data_keys is None:
        pairs = jax.vmap(jax.random.split)(keys)
        keys, data_keys = pairs[:, 0], pairs[:, 1]
    elif _num_seeds(data_keys) != seeds:
        raise ValueError(f"data_keys must have {seeds} seeds (as keys), got {np.shape(data_keys)}")
    return _seed_init_sampler(instance.init, instance.sample)(keys, data_keys, num)
