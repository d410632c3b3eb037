"""`gf2`: linearization over GF(2) and Gaussian elimination (control; docs/learners.md, Controls).

Algebraic normal form: with `t[m] = P(w)` for the pattern `w` of index `m = Σ_j w_j 2^(j-1)`,
the Möbius transform `a[J] = ⊕_{m ⊆ J} t[m]` gives `P(w) = ⊕_{J: a[J]=1} Π_{j∈J} w_j`, of degree
`D = max{|J|: a[J] = 1}` (tsa: `w1 ⊕ w2 ⊕ w3 ⊕ w4w5`, D = 2).

On a hyperedge `S = (i_1..i_k)` (distinct indices) the monomial `Π_{j∈J} w_j` is the seed
monomial `Π_{j∈J} s_{i_j}` of size |J|. One unknown per seed monomial `x_T`, `T ⊆ [n]`,
`1 ≤ |T| ≤ D` (`M = Σ_{t=1..D} C(n,t)` unknowns; `T` of size t with sorted elements
`c_1 < … < c_t` is column `Σ_{u<t} C(n,u) + Σ_j C(c_j, j)`, the combinatorial number system),
and each informative row gives the equation

    ⊕_{J ≠ ∅: a[J]=1} x_{ {i_j : j∈J} } = 1[y > 1/2] ⊕ a[∅].

Rows are bit-packed into uint32 words (`W = ⌈(M+1)/32⌉` words, the right-hand side last) and
reduced by Gauss-Jordan elimination in JAX over all `M + 1` columns, the right-hand side
included, by stripes of 32 columns as M4RI does (`_lib/gf2_elim.py`): per stripe the pivots are
found on its word alone, reduced among themselves, and one pass XORs into every row the rows of
four 256-entry tables its bits select (O(R × W) word operations per 32 columns on R rows, where
one column at a time costs that per column; jit-able and vmap-able). The result is the reduced
row echelon form of the augmented
system, unique given its row space, so it does not depend on the order or grouping of the rows.
It is streamed (`fit_online`): a basis of at most `M + 1` reduced rows (rank ≤ M, plus the row
`0…0|1` of an inconsistent system) is kept with its pivots; each chunk of `c` new rows is packed
(rows that are not decodable and informative become `0 = 0`), stacked under the basis, reduced,
and the first `M + 1` rows kept (the others are zero). Memory `(M + 1 + c) × W × 4` bytes
whatever the number of rows, work `⌈N/c⌉ × (M + 1) × (M + 1 + c) × W` word operations for N
rows (the first chunk is reduced alone, `(M + 1) × c × W`), divided by about 32 / 6 by the
stripes (each pass reads a row and four table rows and writes the row). `fit` is the same
with one chunk of all rows. The system is consistent iff the right-hand side column holds no
pivot (if it does, that pivot reduces every other right-hand side to 0); the solution is unique
iff rank = M (the rank counts pivots among the M unknowns).

Seed: the solutions form an affine space, and the linearization has kernel directions that are
no seeds: for tsa every equation has 4 unknowns, so complementing *all* unknowns (`x_i ↦ x_i ⊕ 1`,
`x_{de} ↦ x_{de} ⊕ 1`) solves it too, and the seed bits are never "determined" by the linear
system alone. With `x_c = b_c ⊕ Σ_{free f} R[c,f] x_f` for the degree-1 unknowns, the first
`max_free` free columns touching them are enumerated and each candidate seed `ŝ` is scored by the
agreement of `P(ŝ_S)` with the training bits over all rows, a second pass over the stream; the
best is the estimate (ties reported).
Sample count (measured, tsa): every pair occurring twice yields one linear relation among seed
bits, so the seed is fixed (up to that kernel) after about `√(2 n C(n,2)) ≈ n^{3/2}` rows, far
before rank `n + C(n,2) − 1`: ≈130 rows at n=24, ≈600 at n=64.

Prediction: the linearized model `a[∅] ⊕ ⊕_J x_{S_J}` on decodable inputs, where each unknown
`x_T` is its solved value if the system determines it (a pivot column whose reduced row has no
free column: the same in every solution), and otherwise the product `Π_{i∈T} ŝ_i`. So it is
`P(ŝ_S)` once the seed is identified, while many degree-2 unknowns are still free (every pair
occurs only after about `C(n,2) ln C(n,2)` equations), and the plain linearized model where the
system determines the terms (e.g. `xor` with k even, where s and its complement tie).
Off the code: the mean training label over undecodable rows (1/2 if none), summed in the first
pass.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import prg, validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Public, Source, jit_fit
from hardnet.core.source import array_source, check_source, fold_rows
from hardnet.learners._lib import gf2_elim
from hardnet.learners.brute_force import check_public, rows_used, training_rows

NAME = "gf2"


def anf(predicate: prg.Predicate) -> np.ndarray:
    """`uint8[2^k]`: ANF coefficients `a[J]` (J as a bit mask over w_1..w_k), Möbius transform."""
    a = predicate.truth_table().astype(np.uint8) & 1
    for i in range(predicate.k):
        step = 1 << i
        a = a.reshape(-1, 2, step)  # index = hi·2^(i+1) + w_{i+1}·2^i + lo
        a[:, 1, :] ^= a[:, 0, :]
        a = a.reshape(-1)
    return a


def degree(predicate: prg.Predicate) -> int:
    """The GF(2) degree of P: the largest |J| with `a[J] = 1` (0 for a constant)."""
    masks = np.nonzero(anf(predicate))[0]
    return max((bin(int(m)).count("1") for m in masks), default=0)


def monomial_count(n: int, deg: int) -> int:
    """Unknowns of the linearization: `Σ_{t=1..deg} C(n, t)`."""
    return sum(math.comb(n, t) for t in range(1, deg + 1))


def make(
    public: Public | None = None,
    max_variables: int = 40_000,
    max_bytes: int | None = None,
    max_free: int = 1,
    chunk: int | None = None,
) -> Learner:
    """Linearization over GF(2).

    Args:
      public: the instance's public knowledge, `Public.of(instance)` (required).
      max_variables: refuse systems with more unknowns `Σ_{t≤deg P} C(n,t)` than this
        (elimination costs about E·M²/32 word operations).
      max_bytes: cap on the packed system held at once, `(M + 1 + c) × ⌈(M+1)/32⌉ × 4` bytes for
        c rows reduced together (default `hardnet.core.validation.max_bytes()`): checked here and in
        `fit_online` for `c = chunk` (whatever the budget), in `fit` for c = its number of rows.
      max_free: free directions of the solution space touching the seed that are enumerated
        (`2^max_free` candidate seeds, each scored on the training rows). The default 1 covers
        the kernel direction that every tsa system has (complement all unknowns) and the
        complement tie of `xor` with k even; larger values add guessing on top of the
        linearization and lower the samples needed (tsa at n=24: about 130-150 rows with 1,
        about 100 with 8).
      chunk: rows `fit_online` packs and reduces at once (default `max(M + 1, 1024)`): each
        chunk costs `(M + 1) × (M + 1 + chunk) × W` word operations, so a chunk of about M rows
        keeps the work per row within twice that of one elimination of all rows.
    """
    # Long: by design (docs/learners.md, The learner contract): a factory whose fit, fit_online
    # and estimate are closures over the validated hyperparameters and the helpers below.
    public = check_public(NAME, public)
    max_variables = validation.check_int("max_variables", max_variables, low=1, high=2**31 - 2)
    max_bytes = validation.max_bytes() if max_bytes is None else max_bytes
    max_bytes = validation.check_int("max_bytes", max_bytes, low=1)
    max_free = validation.check_int("max_free", max_free, low=0, high=16)
    n, pred = public.encoding.n, public.encoding.predicate
    coeffs = anf(pred)
    deg = degree(pred)
    num_vars = monomial_count(n, deg)
    where = f"{NAME}: linearizing {pred.name} (GF(2) degree {deg}, {int(coeffs.sum())} ANF terms)"
    if deg < 1:
        raise ValueError(f"{where}: a constant predicate carries no information about the seed")
    words = (num_vars + 1 + 31) // 32
    if num_vars > max_variables:
        raise ValueError(
            f"{where} at n={n} needs {num_vars} monomials Σ_{{t=1..{deg}}} C({n},t) as unknowns, "
            f"over max_variables={max_variables}; the system would not fit (at least "
            f"{num_vars * words * 4 / 2**40:.3g} TiB packed, for as many equations as unknowns)"
        )
    chunk = max(num_vars + 1, 1024) if chunk is None else chunk
    chunk = validation.check_int("chunk", chunk, low=1, high=2**31 - 2 - num_vars)
    size = num_vars + 1  # rows of the basis, columns of the elimination (unknowns, then rhs)

    def system_bytes(rows: int) -> int:
        """Packed basis and `rows` new equations: `(M + 1 + rows) × W × 4`."""
        return (size + rows) * words * 4

    def check_bytes(rows: int, what: str, hint: str) -> None:
        if system_bytes(rows) > max_bytes:
            raise ValueError(
                f"{where} at n={n}: the basis of {size} rows and {what} ({rows} equations) x "
                f"{num_vars} monomials packed need {system_bytes(rows)} bytes, over "
                f"max_bytes={max_bytes}; {hint}"
            )

    check_bytes(chunk, "a chunk", "pass a smaller chunk")
    const = int(coeffs[0])
    table = pred.truth_table().astype(np.int32)
    terms = [[j for j in range(pred.k) if (m >> j) & 1] for m in np.nonzero(coeffs)[0] if m]
    binom = np.zeros((n + 1, deg + 1), np.int64)
    for c in range(n + 1):
        for t in range(deg + 1):
            binom[c, t] = math.comb(c, t)
    offsets = [monomial_count(n, t - 1) for t in range(deg + 1)]

    def columns(hyperedges: Array) -> Array:
        """Column of each ANF term's seed monomial on each hyperedge: int32 `[num, terms]`."""
        table = jnp.asarray(binom, jnp.int32)
        cols = []
        for term in terms:
            idx = jnp.sort(hyperedges[:, term], axis=-1)
            rank = sum(table[idx[:, j], j + 1] for j in range(len(term)))
            cols.append(offsets[len(term)] + rank)
        return jnp.stack(cols, axis=-1).astype(jnp.int32)

    def eliminate(rows: Array) -> tuple[Array, Array]:
        """Gauss-Jordan on packed rows `uint32[R, W]` over all M + 1 columns, by stripes of 32
        columns (`_lib/gf2_elim.py`, M4RI): `(reduced rows, pivot row per column)` (-1 where
        none), the nonzero rows first in pivot order."""
        return gf2_elim.eliminate_stripes(rows, size)

    def rhs(rows: Array) -> Array:
        return ((rows[:, num_vars // 32] >> jnp.uint32(num_vars % 32)) & 1).astype(jnp.uint8)

    def predicate_bits(seed: Array, hyperedges: Array) -> Array:
        w = seed[hyperedges].astype(jnp.int32)
        return jnp.asarray(table)[jnp.sum(w << jnp.arange(pred.k), axis=-1)]

    def equations(x: Array, y: Array) -> tuple[Array, dict[str, Array]]:
        """Packed equations `uint32[num, W]` of a chunk (`0 = 0` on rows not decodable and
        informative) and its sums: equations used, undecodable rows and their labels."""
        hyperedges, use, bits, _ = training_rows(public, x, y)
        _, valid = public.encoding.decode(x)
        num = hyperedges.shape[0]
        cols = columns(hyperedges)
        right = (bits ^ const).astype(jnp.uint32)
        words_idx = jnp.concatenate([cols // 32, jnp.full((num, 1), num_vars // 32)], axis=-1)
        shift = jnp.concatenate([cols % 32, jnp.full((num, 1), num_vars % 32)], axis=-1)
        ones = jnp.ones_like(cols, jnp.uint32)
        vals = jnp.concatenate([ones, right[:, None]], axis=-1) << shift.astype(jnp.uint32)
        vals = jnp.where(use[:, None], vals, jnp.uint32(0))  # non-informative: 0 = 0
        rows = jnp.zeros((num, words), jnp.uint32)
        rows = rows.at[jnp.arange(num)[:, None], words_idx].add(vals)  # distinct bits: add = or
        sums = {
            "equations": jnp.sum(use).astype(jnp.int32),
            "off": jnp.sum(~valid).astype(jnp.int32),
            "off_labels": jnp.sum(jnp.where(valid, 0.0, y)).astype(jnp.float32),
        }
        return rows, sums

    def absorb(carry: tuple, x: Array, y: Array, row0: Array) -> tuple:
        """One chunk of the first pass: its equations stacked under the basis and reduced."""
        del row0
        basis, _, sums = carry
        rows, new = equations(x, y)
        reduced, pivots = eliminate(jnp.concatenate([basis, rows]))
        return reduced[:size], pivots, jax.tree.map(jnp.add, sums, new)

    def reduce_stream(source: Source, budget: int, c: int) -> tuple:
        """Pass 1 over rows `0 .. budget` in chunks of c: `(basis [M+1, W], pivots, sums)`. The
        first chunk is reduced alone (no basis yet) and padded or cut to M + 1 rows."""
        rows, sums = equations(*source(jnp.zeros((), jnp.int32), c))
        reduced, pivots = eliminate(rows)
        basis = jnp.pad(reduced, ((0, max(size - c, 0)), (0, 0)))[:size]
        return fold_rows(source, c, budget, c, absorb, (basis, pivots, sums))

    def candidates(basis: Array, pivots: Array) -> tuple[Array, Array, Array]:
        """`(candidate seeds [2^F, n], distinct [2^F], free dims touching the seed)`.

        In reduced form `x_c = b_c ⊕ Σ_{free f} R[c, f] x_f` for the n degree-1 unknowns
        (`R[c] = e_c` for a free seed unknown). The first `max_free` free columns that touch
        them are enumerated (others stay 0), giving `2^max_free` candidate seeds; `distinct`
        keeps one enumeration per candidate. Scored by agreement of `P(ŝ_S)` with the training
        bits, this removes kernel directions of the linearization that are no seeds (for tsa,
        complementing every unknown).
        """
        b = rhs(basis)
        col = jnp.arange(n)
        seed_rows = basis[jnp.maximum(pivots[:n], 0)]  # [n, W]
        unpacked = (seed_rows[:, :, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1
        coef = unpacked.reshape(n, -1)[:, :num_vars].astype(jnp.int32)  # [n, M]
        unit = (jnp.arange(num_vars)[None, :] == col[:, None]).astype(jnp.int32)
        coef = jnp.where((pivots[:n] >= 0)[:, None], coef, unit)
        base = jnp.where(pivots[:n] >= 0, b[jnp.maximum(pivots[:n], 0)], 0).astype(jnp.int32)
        touching = (pivots[:num_vars] < 0) & jnp.any(coef == 1, axis=0)  # [M]
        (idx,) = jnp.nonzero(touching, size=max_free, fill_value=0)
        live = jnp.arange(max_free) < jnp.sum(touching)
        r = jnp.where(live[None, :], coef[:, idx], 0)  # [n, F]
        z = (jnp.arange(2**max_free)[:, None] >> jnp.arange(max_free)) & 1  # [2^F, F]
        seeds = base[None, :] ^ ((z @ r.T) & 1)  # [2^F, n]
        distinct = jnp.all((z == 0) | live[None, :], axis=-1)
        return seeds, distinct, jnp.sum(touching).astype(jnp.int32)

    def fit_stream(source: Source, budget: int, c: int) -> tuple[dict, dict]:
        """Pass 1: reduce rows `0 .. budget` in chunks of c; pass 2: score the candidate seeds
        on the same rows; `(state, info)`."""
        basis, pivots, sums = reduce_stream(source, budget, c)
        b = rhs(basis)
        known = pivots[:num_vars] >= 0
        pivot_rows = jnp.maximum(pivots[:num_vars], 0)
        solution = jnp.where(known, b[pivot_rows], jnp.uint8(0))
        rank = jnp.sum(known).astype(jnp.int32)
        consistent = pivots[num_vars] < 0
        # x_c is determined iff c is a pivot column whose row has no bit in a free column
        free = jnp.arange(num_vars)
        free_bits = jnp.where(~known, jnp.uint32(1) << (free % 32).astype(jnp.uint32), 0)
        free_mask = jnp.zeros((words,), jnp.uint32).at[free // 32].add(free_bits)
        row_free = jnp.any((basis & free_mask) != 0, axis=-1)
        determined = known & ~row_free[pivot_rows]
        seeds, distinct, free_dims = candidates(basis, pivots)

        def score(agree: Array, x: Array, y: Array, row0: Array) -> Array:
            hyperedges, use, bits, _ = training_rows(public, x, y)
            one = lambda seed: jnp.sum((predicate_bits(seed, hyperedges) == bits) & use)
            return agree + jax.lax.map(one, seeds).astype(jnp.int32)

        agree = fold_rows(source, 0, budget, c, score, jnp.zeros((2**max_free,), jnp.int32))
        agree = jnp.where(distinct, agree, -1)
        best = jnp.max(agree)
        ties = jnp.sum(agree == best).astype(jnp.int32)
        off = sums["off"]
        fill = jnp.where(off > 0, sums["off_labels"] / jnp.maximum(off, 1), 0.5)
        info = {
            "rank": rank,
            "num_variables": jnp.int32(num_vars),
            "equations": sums["equations"],
            "consistent": consistent,
            "unique": rank == num_vars,
            "determined": jnp.sum(determined).astype(jnp.int32),
            "seed_determined": jnp.sum(determined[:n]).astype(jnp.int32),
            "seed_free_dims": free_dims,
            "seed_ties": ties,
            "agreement": best / jnp.maximum(sums["equations"], 1).astype(jnp.float32),
            "solved": consistent & (free_dims <= max_free) & (ties == 1),
        }
        state = {
            "solution": solution,
            "determined": determined,
            "seed": seeds[jnp.argmax(agree)],
            "fill": fill.astype(jnp.float32),
        }
        return state, info

    @jax.jit
    def solve(x: Array, y: Array) -> tuple[dict[str, Array], dict[str, Array]]:
        """All rows of (x, y) as one chunk."""
        return fit_stream(array_source(x, y), x.shape[0], x.shape[0])

    def apply(state: dict[str, Array], x: Array) -> Array:
        hyperedges, valid = public.encoding.decode(x)
        hyperedges = hyperedges.reshape(-1, pred.k).astype(jnp.int32)
        cols = columns(hyperedges)
        seed_bits = state["seed"][jnp.clip(hyperedges, 0, n - 1)]  # ŝ_{i_j}, [num, k]
        products = jnp.stack(
            [jnp.prod(seed_bits[:, term], axis=-1) for term in terms], axis=-1
        ).astype(jnp.uint8)
        terms_value = jnp.where(state["determined"][cols], state["solution"][cols], products)
        value = jnp.bitwise_xor.reduce(terms_value, axis=-1) ^ const
        value = value.reshape(valid.shape).astype(jnp.float32)
        return jnp.where(valid, value, state["fill"])

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        """Eliminate on the first `min(num, budget)` rows at once; `key` unused (deterministic)."""
        del key, monitor
        cap = None if budget is None else validation.check_int("budget", budget, low=1)
        num = rows_used(NAME, x, y, public, cap)
        if num < 1:
            raise ValueError(f"{NAME}: fit needs at least one row, got x of shape {x.shape}")
        check_bytes(num, "all rows at once", "pass fewer rows or a smaller budget")
        state, info = solve(x[:num], y[:num])
        return Predictor(state=state, info=info, apply=apply)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Eliminate on rows `0 .. budget` of the stream, `chunk` rows at a time, then score the
        candidate seeds on a second pass: memory `(M + 1 + chunk) × W × 4` bytes whatever the
        budget; `key` unused (deterministic)."""
        del key, monitor
        budget = validation.check_int("budget", budget, low=1)
        c = min(chunk, budget)
        d, _ = check_source(NAME, source, c)
        if d != public.input_dim:
            raise ValueError(f"{NAME}: source rows must have d={public.input_dim}, got {d}")
        state, info = fit_stream(source, budget, c)
        return Predictor(state=state, info=info, apply=apply)

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """Bytes: the basis (twice, as the scan's carry in and out), the stacked system of
        `M + 1 + c` rows (three times: the elimination's copy and one gathered table operand),
        the stripe tables `4 × 256 × W` and the rows' stripe bits `32 (M + 1 + c)`, the chunk's
        inputs and decoded hyperedges `c × (d + 2k)` and the unpacked seed rows `3 × n × 32W`
        (int32), c = min(chunk, rows). Flops: word operations of elimination, `⌈rows/c⌉ ×
        ⌈(M + 1)/32⌉ × 6 (M + 1 + c) × W` (per stripe a row, four table rows, the write), plus
        the scoring pass, `2^max_free × rows × 2k`."""
        c = max(min(chunk, rows), 1)
        stripes = -(-size // 32)
        work = 4.0 * (
            2 * size * words + 3 * (size + c) * words + 4 * 256 * words + 32 * (size + c)
            + c * (d + 2 * pred.k) + 3 * n * 32 * words
        )  # fmt: skip
        flops = math.ceil(rows / c) * stripes * 6 * (size + c) * words
        flops += 2**max_free * rows * 2 * pred.k
        return work, float(flops)

    config = {
        "max_variables": max_variables,
        "max_bytes": max_bytes,
        "max_free": max_free,
        "chunk": chunk,
        "n": n,
        "predicate": pred.name,
        "degree": deg,
        "num_variables": num_vars,
        "encoding": public.encoding.name,
    }
    return Learner(
        name=NAME,
        config=config,
        fit=jit_fit(fit),
        fit_online=fit_online,
        vmappable=True,
        estimate=estimate,
    )
