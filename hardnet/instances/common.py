"""Pieces shared by the PRG families: seed draw, planted bits, PRG meta, parameter checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from hardnet.core import prg, validation
from hardnet.core.base import Array, as_raw_key


def draw_seed_and_keys(key: Array, n: int) -> dict[str, Array]:
    """The planted seed `s ~ U{0,1}^n` and the raw keys of per-hyperedge randomness."""
    k_seed, k_label, k_noise, k_rest = jax.random.split(key, 4)
    return {
        "seed": jax.random.bernoulli(k_seed, 0.5, (n,)).astype(jnp.int32),
        "label_key": as_raw_key(k_label),
        "noise_key": as_raw_key(k_noise),
        "rest_key": as_raw_key(k_rest),
    }


def wrap(raw: Array) -> Array:
    return jax.random.wrap_key_data(raw)


def planted_bits(
    params: Mapping[str, Array], predicate: prg.Predicate, hyperedges: Array, null: bool
) -> tuple[Array, Array]:
    """`(P(s_S), planted)`: the PRG bit, and the bit the teacher writes (`r(S)` for the null)."""
    clean = predicate(prg.seed_bits(params["seed"], hyperedges))
    if null:
        return clean, prg.null_bits(wrap(params["label_key"]), hyperedges)
    return clean, clean


def prg_meta(
    params: Mapping[str, Array],
    predicate: prg.Predicate,
    hyperedges: Array,
    informative: Array,
    null: bool,
) -> dict[str, Array]:
    clean, planted = planted_bits(params, predicate, hyperedges, null)
    return {
        "informative": informative,
        "hyperedge": hyperedges,
        "hyperedge_hash": prg.hyperedge_hash(hyperedges),
        "clean_label": clean.astype(jnp.float32),
        "planted_bit": planted.astype(jnp.float32),
    }


def check_prg_args(
    family: str, n: Any, k: Any, predicate: Any, null: Any, min_n: int = 2
) -> tuple[int, prg.Predicate, bool]:
    """Validate n, k, predicate and null; returns `(n, predicate, null)`."""
    n = validation.check_int("n", n, low=min_n)
    if k is not None:
        k = validation.check_int("k", k, low=1)
    pred = prg.make_predicate(predicate, k)
    if pred.k > n:
        raise ValueError(f"{family}: k must be <= n (distinct indices), got k={pred.k}, n={n}")
    null = validation.check_bool("null", null)
    return n, pred, null


def check_bbin_args(family: str, n: int, k: int, d: Any) -> tuple[int, int]:
    """The B-bin code needs n a power of two and d ≥ L = k log2 n; returns `(L, d)`."""
    validation.check_power_of_two("n", n, "the B-bin code spells indices in log2 n bits")
    length = prg.bbin_length(n, k)
    d = length if d is None else validation.check_int("d", d)
    if d < length:
        raise ValueError(f"{family}: d must be >= L = k log2 n = {length}, got d={d}")
    return length, d


def check_sample_size(family: str, num: int, row_elements: int) -> None:
    """Called at trace time (num is static): refuse samples that cannot fit in memory."""
    validation.check_int("num", num, low=1)
    validation.check_fits(
        f"{family}: sampling num={num} rows of {row_elements} floats", num * row_elements
    )
