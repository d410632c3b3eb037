"""`gf2`: linearization over GF(2) and Gaussian elimination (control; spec learners.md, Controls).

Algebraic normal form: with `t[m] = P(w)` for the pattern `w` of index `m = Σ_j w_j 2^(j-1)`,
the Möbius transform `a[J] = ⊕_{m ⊆ J} t[m]` gives `P(w) = ⊕_{J: a[J]=1} Π_{j∈J} w_j`, of degree
`D = max{|J|: a[J] = 1}` (tsa: `w1 ⊕ w2 ⊕ w3 ⊕ w4w5`, D = 2).

On a hyperedge `S = (i_1..i_k)` (distinct indices) the monomial `Π_{j∈J} w_j` is the seed
monomial `Π_{j∈J} s_{i_j}` of size |J|. One unknown per seed monomial `x_T`, `T ⊆ [n]`,
`1 ≤ |T| ≤ D` (`M = Σ_{t=1..D} C(n,t)` unknowns; `T` of size t with sorted elements
`c_1 < … < c_t` is column `Σ_{u<t} C(n,u) + Σ_j C(c_j, j)`, the combinatorial number system),
and each informative row gives the equation

    ⊕_{J ≠ ∅: a[J]=1} x_{ {i_j : j∈J} } = 1[y > 1/2] ⊕ a[∅].

Rows are bit-packed into uint32 words (`M + 1` bits, the right-hand side last) and reduced by
Gauss-Jordan elimination in JAX: a `lax.fori_loop` over the M columns, each step a pivot search,
a row swap and one masked XOR of the pivot row into every row holding the column (O(E × M/32)
word operations per column, jit-able and vmap-able). The system is
consistent iff no zero row keeps right-hand side 1; the solution is unique iff rank = M.

Seed: the solutions form an affine space, and the linearization has kernel directions that are
no seeds: for tsa every equation has 4 unknowns, so complementing *all* unknowns (`x_i ↦ x_i ⊕ 1`,
`x_{de} ↦ x_{de} ⊕ 1`) solves it too, and the seed bits are never "determined" by the linear
system alone. With `x_c = b_c ⊕ Σ_{free f} R[c,f] x_f` for the degree-1 unknowns, the first
`max_free` free columns touching them are enumerated and each candidate seed `ŝ` is scored by the
agreement of `P(ŝ_S)` with the training bits; the best is the estimate (ties reported).
Sample count (measured, tsa): every pair occurring twice yields one linear relation among seed
bits, so the seed is fixed (up to that kernel) after about `√(2 n C(n,2)) ≈ n^{3/2}` rows, far
before rank `n + C(n,2) − 1`: ≈130 rows at n=24, ≈600 at n=64.

Prediction: the linearized model `a[∅] ⊕ ⊕_J x_{S_J}` on decodable inputs, where each unknown
`x_T` is its solved value if the system determines it (a pivot column whose reduced row has no
free column: the same in every solution), and otherwise the product `Π_{i∈T} ŝ_i`. So it is
`P(ŝ_S)` once the seed is identified, while many degree-2 unknowns are still free (every pair
occurs only after about `C(n,2) ln C(n,2)` equations), and the plain linearized model where the
system determines the terms (e.g. `xor` with k even, where s and its complement tie).
Off the code: the mean training label over undecodable rows (1/2 if none).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hardnet import prg, validation
from hardnet.base import Array, Learner, Monitor, Predictor, Public
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
) -> Learner:
    """Linearization over GF(2).

    Args:
      public: the instance's public knowledge, `Public.of(instance)` (required).
      max_variables: refuse systems with more unknowns `Σ_{t≤deg P} C(n,t)` than this
        (elimination costs about E·M²/32 word operations).
      max_bytes: cap on the packed system `E × ⌈(M+1)/32⌉ × 4` bytes (default
        `hardnet.validation.max_bytes()`); checked here for E = M equations and in `fit` for the
        actual number of rows.
      max_free: free directions of the solution space touching the seed that are enumerated
        (`2^max_free` candidate seeds, each scored on the training rows). The default 1 covers
        the kernel direction that every tsa system has (complement all unknowns) and the
        complement tie of `xor` with k even; larger values add guessing on top of the
        linearization and lower the samples needed (tsa at n=24: about 130-150 rows with 1,
        about 100 with 8).
    """
    public = check_public(NAME, public)
    max_variables = validation.check_int("max_variables", max_variables, low=1, high=2**31 - 2)
    max_bytes = validation.max_bytes() if max_bytes is None else max_bytes
    max_bytes = validation.check_int("max_bytes", max_bytes, low=1)
    max_free = validation.check_int("max_free", max_free, low=0, high=16)
    n, pred = public.n, public.predicate
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
    if num_vars * words * 4 > max_bytes:
        raise ValueError(
            f"{where} at n={n}: {num_vars} monomials need at least {num_vars * words * 4} bytes "
            f"of packed equations, over max_bytes={max_bytes}"
        )
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

    def eliminate(rows: Array) -> tuple[Array, Array, Array]:
        """Gauss-Jordan on packed rows `uint32[E, W]`: `(reduced rows, rank, pivot row per col)`."""
        num = rows.shape[0]
        index = jnp.arange(num)

        def body(c, carry):
            a, r, pivots = carry
            word, bit = c // 32, (c % 32).astype(jnp.uint32)
            has_bit = ((a[:, word] >> bit) & 1) == 1
            cand = has_bit & (index >= r)
            found = jnp.any(cand)
            p = jnp.argmax(cand)
            rs = jnp.minimum(r, num - 1)
            row_p, row_r = a[p], a[rs]
            a = a.at[rs].set(jnp.where(found, row_p, row_r))
            a = a.at[p].set(jnp.where(found, row_r, row_p))
            has_bit = ((a[:, word] >> bit) & 1) == 1
            hit = found & has_bit & (index != rs)
            a = a ^ jnp.where(hit[:, None], a[rs][None, :], jnp.uint32(0))
            pivots = pivots.at[c].set(jnp.where(found, rs, -1))
            return a, r + found.astype(jnp.int32), pivots

        init = (rows, jnp.int32(0), jnp.full((num_vars,), -1, jnp.int32))
        return jax.lax.fori_loop(0, num_vars, body, init)

    def rhs(rows: Array) -> Array:
        return ((rows[:, num_vars // 32] >> jnp.uint32(num_vars % 32)) & 1).astype(jnp.uint8)

    def predicate_bits(seed: Array, hyperedges: Array) -> Array:
        w = seed[hyperedges].astype(jnp.int32)
        return jnp.asarray(table)[jnp.sum(w << jnp.arange(pred.k), axis=-1)]

    def resolve_seed(
        reduced: Array, pivots: Array, b: Array, hyperedges: Array, use: Array, bits: Array
    ) -> tuple[Array, dict[str, Array]]:
        """The seed among the solutions of the linear system that best fits P itself.

        In reduced form `x_c = b_c ⊕ Σ_{free f} R[c, f] x_f` for the n degree-1 unknowns
        (`R[c] = e_c` for a free seed unknown). The first `max_free` free columns that touch
        them are enumerated (others stay 0), and each of the `2^max_free` candidate seeds is
        scored by agreement of `P(ŝ_S)` with the training bits: this removes kernel directions
        of the linearization that are no seeds (for tsa, complementing every unknown).
        """
        col = jnp.arange(n)
        seed_rows = reduced[jnp.maximum(pivots[:n], 0)]  # [n, W]
        unpacked = (seed_rows[:, :, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1
        coef = unpacked.reshape(n, -1)[:, :num_vars].astype(jnp.int32)  # [n, M]
        unit = (jnp.arange(num_vars)[None, :] == col[:, None]).astype(jnp.int32)
        coef = jnp.where((pivots[:n] >= 0)[:, None], coef, unit)
        base = jnp.where(pivots[:n] >= 0, b[jnp.maximum(pivots[:n], 0)], 0).astype(jnp.int32)
        touching = (pivots < 0) & jnp.any(coef == 1, axis=0)  # [M]
        (idx,) = jnp.nonzero(touching, size=max_free, fill_value=0)
        live = jnp.arange(max_free) < jnp.sum(touching)
        r = jnp.where(live[None, :], coef[:, idx], 0)  # [n, F]
        z = (jnp.arange(2**max_free)[:, None] >> jnp.arange(max_free)) & 1  # [2^F, F]
        candidates = base[None, :] ^ ((z @ r.T) & 1)  # [2^F, n]

        def score(seed):
            return jnp.sum((predicate_bits(seed, hyperedges) == bits) & use)

        distinct = jnp.all((z == 0) | live[None, :], axis=-1)  # one z per candidate seed
        agree = jnp.where(distinct, jax.lax.map(score, candidates), -1)
        best = jnp.max(agree)
        return candidates[jnp.argmax(agree)], {
            "seed_free_dims": jnp.sum(touching).astype(jnp.int32),
            "seed_ties": jnp.sum(agree == best).astype(jnp.int32),
            "agreement": best / jnp.maximum(jnp.sum(use), 1).astype(jnp.float32),
        }

    @jax.jit
    def solve(x: Array, y: Array) -> tuple[dict[str, Array], dict[str, Array]]:
        hyperedges, use, bits, fill = training_rows(public, x, y)
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
        reduced, rank, pivots = eliminate(rows)
        b = rhs(reduced)
        pivot_rows = jnp.maximum(pivots, 0)
        solution = jnp.where(pivots >= 0, b[pivot_rows], jnp.uint8(0))
        consistent = ~jnp.any((jnp.arange(num) >= rank) & (b == 1))
        # x_c is determined iff c is a pivot column whose row has no bit in a free column
        free = jnp.arange(num_vars)
        free_bits = jnp.where(pivots < 0, jnp.uint32(1) << (free % 32).astype(jnp.uint32), 0)
        free_mask = jnp.zeros((words,), jnp.uint32).at[free // 32].add(free_bits)
        row_free = jnp.any((reduced & free_mask) != 0, axis=-1)
        determined = (pivots >= 0) & ~row_free[pivot_rows]
        seed, choice = resolve_seed(reduced, pivots, b, hyperedges, use, bits)
        info = {
            "rank": rank,
            "num_variables": jnp.int32(num_vars),
            "equations": jnp.sum(use).astype(jnp.int32),
            "consistent": consistent,
            "unique": rank == num_vars,
            "determined": jnp.sum(determined).astype(jnp.int32),
            "seed_determined": jnp.sum(determined[:n]).astype(jnp.int32),
            **choice,
            "solved": consistent
            & (choice["seed_free_dims"] <= max_free)
            & (choice["seed_ties"] == 1),
        }
        return {"solution": solution, "determined": determined, "seed": seed, "fill": fill}, info

    def apply(state: dict[str, Array], x: Array) -> Array:
        hyperedges, valid = public.decode(x)
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
        """Eliminate on the first `min(num, budget)` rows; `key` unused (deterministic)."""
        del key, monitor
        cap = None if budget is None else validation.check_int("budget", budget, low=1)
        num = rows_used(NAME, x, y, public, cap)
        if num * words * 4 > max_bytes:
            raise ValueError(
                f"{NAME}: {num} equations x {num_vars} monomials packed need {num * words * 4} "
                f"bytes, over max_bytes={max_bytes}; pass fewer rows or a smaller budget"
            )
        state, info = solve(x[:num], y[:num])
        return Predictor(state=state, info=info, apply=apply)

    config = {
        "max_variables": max_variables,
        "max_bytes": max_bytes,
        "max_free": max_free,
        "n": n,
        "predicate": pred.name,
        "degree": deg,
        "num_variables": num_vars,
        "encoding": public.encoding,
    }
    return Learner(name=NAME, config=config, fit=fit, fit_online=None, vmappable=True)
