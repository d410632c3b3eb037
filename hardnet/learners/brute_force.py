"""`brute_force`: exhaustive search over all 2^n seeds (control; docs/learners.md, Controls).

The learner knows the public encoding (`Public`: decoder, informative test, predicate P, n), never
the seed. Each training input is decoded to its hyperedge `S = (i_1..i_k)`; on the informative
rows the label bit is `b = 1[y > 1/2]` (labels of smoothed families carry small noise). Every
candidate seed `s' ∈ {0,1}^n`, an integer whose bit i is `s'_i`, is scored by

    agree(s') = #{informative rows r: P(s'_{S_r}) = b_r},   P(w) = table[Σ_j w_j 2^(j-1)],

with `s'_{i_j} = (s' >> i_j) & 1`; the learner predicts with the best seed `ŝ` (the smallest
integer among the maximizers). Cost `2^n × rows × k` table look-ups, in chunks of seeds under
`lax.scan` (fixed shapes, one jit). Information-theoretically about `n / (1 − H(ε))` informative
rows determine s up to its symmetries (label-noise rate ε); seeds that tie with `ŝ` (e.g. the
complement of s for `xor` with k even) are counted in `info["ties"]`.

Prediction: `P(ŝ_S)` on decodable inputs; elsewhere the mean training label over undecodable
training rows (the trivial value; 1/2 if there were none).

The helpers `check_public` and `training_rows` are shared with `gf2`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from hardnet.core import prg, validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Public, Source, jit_fit
from hardnet.core.source import read_rows

NAME = "brute_force"


def check_public(where: str, public: Any) -> Public:
    """`public` must be a `Public` with the decoder, predicate and n of a PRG encoding."""
    if public is None:
        raise ValueError(f"{where}: public is required (hardnet.core.base.Public.of(instance))")
    if not isinstance(public, Public):
        raise ValueError(f"{where}: public must be a hardnet.core.base.Public, got {type(public)}")
    if public.encoding is None:
        raise ValueError(
            f"{where}: public must carry a PRG encoding (decoder, predicate and n); "
            f"family {public.family!r} has none"
        )
    return public


def rows_used(where: str, x: Array, y: Array, public: Public, cap: int | None) -> int:
    """Check shapes at trace time; the number of leading rows the learner uses (≤ cap)."""
    if x.ndim != 2 or x.shape[1] != public.input_dim:
        raise ValueError(f"{where}: x must be [num, {public.input_dim}], got shape {x.shape}")
    if y.shape != x.shape[:1]:
        raise ValueError(f"{where}: y must be [{x.shape[0]}], got shape {y.shape}")
    return x.shape[0] if cap is None else min(x.shape[0], cap)


def training_rows(public: Public, x: Array, y: Array) -> tuple[Array, Array, Array, Array]:
    """`(hyperedges int32[num, k], use bool[num], bits int32[num], fill)`.

    `use`: decodable and informative rows; `bits = 1[y > 1/2]`; `fill`: the mean label over
    undecodable rows (1/2 if none), the prediction off the code.
    """
    hyperedges, valid = public.encoding.decode(x)
    use = valid
    if public.encoding.informative is not None:
        use = use & public.encoding.informative(x)
    bits = (y > 0.5).astype(jnp.int32)
    off = jnp.sum(~valid)
    fill = jnp.where(off > 0, jnp.sum(jnp.where(valid, 0.0, y)) / jnp.maximum(off, 1), 0.5)
    return hyperedges.astype(jnp.int32), use, bits, fill.astype(jnp.float32)


def make(
    public: Public | None = None,
    max_n: int = 24,
    seed_chunk: int = 1024,
    max_rows: int = 4096,
) -> Learner:
    """Exhaustive seed search.

    Args:
      public: the instance's public knowledge, `Public.of(instance)` (required).
      max_n: refuse seed lengths above this (the search costs `2^n × rows × k`); at most 30.
      seed_chunk: seeds scored at once (a power of two); memory `seed_chunk × rows × k` int32.
      max_rows: at most this many leading training rows are used (also `fit`'s `budget`).
    """
    # Long: by design (docs/learners.md, The learner contract): a factory whose fit, fit_online
    # and estimate are closures over the validated hyperparameters and the helpers below.
    public = check_public(NAME, public)
    max_n = validation.check_int("max_n", max_n, low=1, high=30)
    seed_chunk = validation.check_int("seed_chunk", seed_chunk, low=1)
    validation.check_power_of_two("seed_chunk", seed_chunk, "chunks tile the 2^n seeds")
    max_rows = validation.check_int("max_rows", max_rows, low=1)
    n, pred = public.encoding.n, public.encoding.predicate
    if n > max_n:
        raise ValueError(
            f"{NAME}: n={n} means 2^n = {2**n} seeds to search, over max_n={max_n} "
            f"(2^{max_n} = {2**max_n}); raise max_n if time allows"
        )
    k = pred.k
    chunk = min(seed_chunk, 2**n)
    num_chunks = 2**n // chunk
    validation.check_fits(
        f"{NAME}: a chunk of {chunk} seeds x {max_rows} rows x k={k}", chunk * max_rows * k
    )
    table = pred.truth_table().astype("int32")
    weights = 1 << jnp.arange(k, dtype=jnp.int32)

    def predicate_of(seeds: Array, hyperedges: Array) -> Array:
        """`P(s'_S)` for integer seeds `[c]` and hyperedges `[r, k]`: int32 `[c, r]`."""
        shifts = hyperedges.astype(jnp.uint32)[None]
        bits = ((seeds[:, None, None] >> shifts) & 1).astype(jnp.int32)
        return jnp.asarray(table)[jnp.sum(bits * weights, axis=-1)]

    @jax.jit
    def search(x: Array, y: Array) -> tuple[dict[str, Array], dict[str, Array]]:
        hyperedges, use, bits, fill = training_rows(public, x, y)

        def body(carry, c):
            best, seed, ties, second = carry
            seeds = (c * chunk + jnp.arange(chunk, dtype=jnp.uint32)).astype(jnp.uint32)
            agree = jnp.sum((predicate_of(seeds, hyperedges) == bits) & use, axis=-1)
            top = jnp.max(agree)
            count = jnp.sum(agree == top)
            below = jnp.max(jnp.where(agree < top, agree, -1))
            arg = seeds[jnp.argmax(agree)]
            better, same = top > best, top == best
            new = (
                jnp.where(better, top, best),
                jnp.where(better, arg, seed),
                jnp.where(better, count, ties + jnp.where(same, count, 0)),
                jnp.where(
                    better,
                    jnp.maximum(best, below),
                    jnp.maximum(second, jnp.where(same, below, top)),
                ),
            )
            return new, None

        init = (jnp.int32(-1), jnp.uint32(0), jnp.int32(0), jnp.int32(-1))
        chunks = jnp.arange(num_chunks, dtype=jnp.uint32)
        (best, seed, ties, second), _ = jax.lax.scan(body, init, chunks)
        rows = jnp.sum(use)
        denom = jnp.maximum(rows, 1).astype(jnp.float32)
        info = {
            "seed_int": seed,
            "agreement": best / denom,
            "runner_up_agreement": second / denom,
            "ties": ties,
            "rows": rows,
        }
        seed_bits = ((seed >> jnp.arange(n, dtype=jnp.uint32)) & 1).astype(jnp.int32)
        return {"seed": seed_bits, "fill": fill}, info

    def apply(state: dict[str, Array], x: Array) -> Array:
        hyperedges, valid = public.encoding.decode(x)
        w = prg.seed_bits(state["seed"], hyperedges)
        out = jnp.asarray(table)[jnp.sum(w * weights, axis=-1)].astype(jnp.float32)
        return jnp.where(valid, out, state["fill"])

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        """Search all seeds against the first `min(num, max_rows, budget)` rows; `key` unused."""
        del key, monitor  # deterministic; no log points
        cap = (
            max_rows if budget is None else min(max_rows, validation.check_int("budget", budget, 1))
        )
        num = rows_used(NAME, x, y, public, cap)
        state, info = search(x[:num], y[:num])
        return Predictor(state=state, info=info, apply=apply)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Search against rows `0 .. min(budget, max_rows)` of the stream: memory
        O(max_rows × d) whatever the budget (rows beyond `max_rows` are never read)."""
        budget = validation.check_int("budget", budget, low=1)
        return fit(key, *read_rows(source, min(budget, max_rows)), monitor=monitor)

    config = {
        "max_n": max_n,
        "seed_chunk": seed_chunk,
        "max_rows": max_rows,
        "n": n,
        "predicate": pred.name,
        "encoding": public.encoding.name,
    }
    return Learner(
        name=NAME, config=config, fit=jit_fit(fit), fit_online=fit_online, vmappable=True
    )
