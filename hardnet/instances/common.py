"""Pieces shared by the PRG families F1–F4: seed draw, planted bits, PRG meta, parameter checks,
and `prg_instance`, the one builder of their `Instance` (docs/instances.md, The instance contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from hardnet.core import prg, validation
from hardnet.core.base import ApplyFn, Array, Encoding, Instance, as_raw_key, row_keys

PrgParams = dict[str, Array]  # seed, label_key, noise_key, rest_key and a family's extras
Draw = Callable[[Array], tuple[Array, Array, Array]]
"""`draw(row_keys) -> (x [num, input_dim], hyperedge int32[num, k], informative bool[num])`."""


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
    """The typed key of raw uint32 key data (as stored in params)."""
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
    """The PRG entries of `meta` (docs/instances.md, The instance contract)."""
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


def check_bbin_args(
    family: str, n: Any, k: Any, predicate: Any, null: Any, d: Any
) -> tuple[int, prg.Predicate, bool, int, int]:
    """`check_prg_args`, then the B-bin code's needs: n a power of two and d ≥ L = k log2 n.

    Returns `(n, predicate, null, L, d)`.
    """
    n, pred, null = check_prg_args(family, n, k, predicate, null)
    k = pred.k
    validation.check_power_of_two("n", n, "the B-bin code spells indices in log2 n bits")
    length = prg.bbin_length(n, k)
    d = length if d is None else validation.check_int("d", d)
    if d < length:
        raise ValueError(f"{family}: d must be >= L = k log2 n = {length}, got d={d}")
    return n, pred, null, length, d


def check_sample_size(family: str, num: int, row_elements: int) -> None:
    """Called at trace time (num is static): refuse samples that cannot fit in memory."""
    validation.check_int("num", num, low=1)
    validation.check_fits(
        f"{family}: sampling num={num} rows of {row_elements} floats", num * row_elements
    )


def gaussian_rows(keys: Array, d: int) -> Array:
    """One `N(0, I_d)` row per key: float32[num, d]."""
    return jax.vmap(lambda key: jax.random.normal(key, (d,)))(keys)


def _no_description(params: PrgParams) -> dict[str, Array]:
    """`Instance.describe` of a family with nothing to document about its draw."""
    return {}


def prg_instance(
    family: str,
    config: Mapping[str, Any],
    encoding: Encoding,
    *,
    input_dim: int,
    apply: ApplyFn,
    draw: Draw,
    informative_fraction: float,
    extra_params: Callable[[PrgParams], PrgParams] | None = None,
    row_elements: int | None = None,
    describe: Callable[[PrgParams], dict[str, Any]] | None = None,
    notes: tuple[str, ...] = (),
    materialized: Callable[[PrgParams, Array], tuple[Any, Any]] | None = None,
) -> Instance:
    """The `Instance` of a PRG family, from what differs between the families.

    The builder supplies, with `n` and `P` from `encoding` and `null` from `config`,

        init(key)   = params | extra_params(params),  params = draw_seed_and_keys(key, n)
        sample(params, key, num, start)
                    = (x, apply(params, x), prg_meta(params, P, hyperedge, informative, null))
                      with (x, hyperedge, informative) = draw(row_keys(key, num, start))

    Args:
      family: registry id, e.g. "prg_boolean".
      config: the validated keyword arguments (JSON-serializable), defaults filled in; they
        include `null`.
      encoding: the public encoding (decoder, predicate P, n), docs/instances.md, Encodings.
      input_dim: dimension of x.
      apply: the teacher, `(params, x) -> y`.
      draw: the family's input distribution (`Draw`): rows of x with their decoded hyperedge
        `S*` and whether each row is informative.
      informative_fraction: the exact probability that a sampled row is informative.
      extra_params: parameters drawn after the seed and keys, from them (e.g. the noise of a
        smoothed network, from `rest_key` or `noise_key`); None when there are none.
      row_elements: floats held per sampled row, for the memory check of `sample`
        (default: input_dim).
      describe, notes, materialized: as in `Instance`.
    """
    n, pred, null = encoding.n, encoding.predicate, config["null"]
    row_elements = input_dim if row_elements is None else row_elements

    def init(key: Array) -> PrgParams:
        params = draw_seed_and_keys(key, n)
        if extra_params is not None:
            params.update(extra_params(params))
        return params

    def sample(
        params: PrgParams, key: Array, num: int, start: int | Array = 0
    ) -> tuple[Array, Array, dict[str, Array]]:
        check_sample_size(family, num, row_elements)
        x, hyperedge, is_informative = draw(row_keys(key, num, start))
        meta = prg_meta(params, pred, hyperedge, is_informative, null)
        return x, apply(params, x), meta

    return Instance(
        family=family,
        config=config,
        input_dim=input_dim,
        init=init,
        sample=sample,
        apply=apply,
        informative_fraction=informative_fraction,
        describe=_no_description if describe is None else describe,
        encoding=encoding,
        notes=notes,
        materialized=materialized,
    )
