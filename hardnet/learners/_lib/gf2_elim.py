"""Gauss–Jordan elimination over GF(2) on bit-packed rows, by stripes of 32 columns (M4RI).

Rows are `uint32[R, W]`, column c at bit `c % 32` of word `c // 32`. Both functions return the
reduced row echelon form of the first `size` columns, arranged canonically (the pivot rows in
the order of their pivot columns, then the zero rows) with `pivots[c]` = the row of column c's
pivot (-1 where none). The reduced echelon form is unique given the row space, so both give the
same bits whatever pivots they choose.

`eliminate_columns` is the textbook loop: one pivot search and one masked XOR of the pivot row
into every row per column, `size` passes over the `[R, W]` array.

`eliminate_stripes` is the method of the Four Russians as M4RI runs it [ABH10]: per stripe of
32 columns (one word),
  1. the stripe's pivots are found on that word alone: Gauss–Jordan on the `R` stripe words of
     the rows that are no pivot yet (32 steps over `R` words, not `R × W`);
  2. the (at most 32) pivot rows are reduced among themselves on their full width, so that on
     the stripe's pivot columns they form the identity;
  3. four tables of 256 rows hold every XOR combination of eight of them;
  4. one pass over all rows XORs, into each, the four table rows its own bits on the pivot
     columns select (for the pivot rows, the reduced rows themselves are written instead).
That is `⌈size/32⌉` passes, each reading four table rows per row from tables of `4 × 256 × W`
words, instead of `size` passes. Pivot rows stay where they are during the loop (a flag marks
them); one gather arranges them at the end.

References:
  [ABH10] M. Albrecht, G. Bard, W. Hart. Algorithm 898: Efficient multiplication of dense
    matrices over GF(2). ACM TOMS 37(1), 2010 (the M4RI library's tables of 8-bit groups).
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp

Array = jax.Array
GROUP = 8  # pivots per table: 2^8 combinations
GROUPS = 32 // GROUP


def eliminate_columns(rows: Array, size: int) -> tuple[Array, Array]:
    """Gauss–Jordan one column at a time (module docstring): `(reduced, pivots)`."""
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

    init = (rows, jnp.int32(0), jnp.full((size,), -1, jnp.int32))
    reduced, _, pivots = jax.lax.fori_loop(0, size, body, init)
    return reduced, pivots


def _stripe_pivots(v: Array, free: Array, width: Array) -> tuple[Array, Array]:
    """Pivots of one stripe from its words alone: `(row [32], found [32])` per bit, by
    Gauss–Jordan on the words `v [R]` of the rows still `free` (bits ≥ `width` ignored)."""
    num = v.shape[0]

    def body(b, carry):
        v, free, rows, found = carry
        bit = b.astype(jnp.uint32)
        has = ((v >> bit) & 1) == 1
        cand = has & free & (b < width)
        ok = jnp.any(cand)
        p = jnp.argmax(cand)
        v = jnp.where(ok & has & (jnp.arange(num) != p), v ^ v[p], v)
        free = free & ~(ok & (jnp.arange(num) == p))
        return v, free, rows.at[b].set(p), found.at[b].set(ok)

    init = (v, free, jnp.zeros((32,), jnp.int32), jnp.zeros((32,), bool))
    _, _, rows, found = jax.lax.fori_loop(0, 32, body, init)
    return rows, found


def _reduce_pivot_rows(q: Array, word: Array, found: Array) -> Array:
    """The stripe's pivot rows `q [32, W]` (row b: bit b's pivot, zero where none) reduced among
    themselves, so that on the stripe's pivot bits they form the identity: the stripe search's
    Gauss–Jordan steps replayed on the full width (bit by bit in order, bit b's row XORed into
    every other row that holds bit b), so row b holds bit b when its turn comes."""
    others = ~jnp.eye(32, dtype=bool)

    def body(b, q):
        has = ((q[:, word] >> b.astype(jnp.uint32)) & 1) == 1
        hit = found[b] & has & others[b]
        return jnp.where(hit[:, None], q ^ q[b][None, :], q)

    return jax.lax.fori_loop(0, 32, body, q)


def _tables(q: Array) -> Array:
    """`[GROUPS, 256, W]`: every XOR combination of each group of eight reduced pivot rows."""
    groups = q.reshape(GROUPS, GROUP, -1)
    table = jnp.zeros((GROUPS, 1, q.shape[1]), q.dtype)
    for b in range(GROUP):  # doubling: rows with bit b set are those without, XOR row b
        table = jnp.concatenate([table, table ^ groups[:, b][:, None, :]], axis=1)
    return table


def eliminate_stripes(rows: Array, size: int, segments: int | None = None) -> tuple[Array, Array]:
    """Gauss–Jordan by stripes of 32 columns (module docstring): `(reduced, pivots)`, the same
    bits as `eliminate_columns`.

    `segments` (default: one per 32 stripes, at most 8) splits the stripes into consecutive
    groups; the stripes of a group update only the words from the group's first one on, as M4RI
    starts each stripe's pass at the stripe: the reduced pivot rows are zero on every earlier
    column, so the words before change nothing. Fewer words per pass, one more compiled loop per
    group."""
    num = rows.shape[0]
    stripes = -(-size // 32)
    shifts = jnp.arange(32, dtype=jnp.uint32)
    if segments is None:
        segments = min(8, max(1, stripes // 32))
    bounds = [round(k * stripes / segments) for k in range(segments + 1)]

    def body(s, carry, lo: int):
        a, is_pivot, col_row = carry  # a: the words from `lo` on
        width = jnp.minimum(32, size - 32 * s)
        v = a[:, s - lo]
        prow, found = _stripe_pivots(v, ~is_pivot, width)
        q = jnp.where(found[:, None], a[prow], jnp.uint32(0))
        q = _reduce_pivot_rows(q, s - lo, found)
        table = _tables(q)
        bits = ((v[:, None] >> shifts) & 1) * found.astype(jnp.uint32)  # [R, 32]
        index = jnp.sum(bits.reshape(num, GROUPS, GROUP) << jnp.arange(GROUP, dtype=jnp.uint32),
                        axis=-1).astype(jnp.int32)  # fmt: skip
        update = a
        for g in range(GROUPS):
            update = update ^ table[g][index[:, g]]
        target = jnp.where(found, prow, num)  # out of range: dropped
        a = update.at[target].set(q, mode="drop")
        is_pivot = is_pivot.at[target].set(True, mode="drop")
        col_row = jax.lax.dynamic_update_slice(col_row, jnp.where(found, prow, -1), (32 * s,))
        return a, is_pivot, col_row

    a = rows
    is_pivot = jnp.zeros((num,), bool)
    col_row = jnp.full((32 * stripes,), -1, jnp.int32)
    for lo, hi in itertools.pairwise(bounds):
        step = functools.partial(body, lo=lo)
        sub, is_pivot, col_row = jax.lax.fori_loop(lo, hi, step, (a[:, lo:], is_pivot, col_row))
        a = jnp.concatenate([a[:, :lo], sub], axis=1)
    col_row = col_row[:size]
    # canonical arrangement: pivot rows in the order of their columns, then the rest (zeros)
    has = col_row >= 0
    rank_of = jnp.cumsum(has) - 1  # position of column c's pivot row
    order = (
        jnp.full((num,), -1, jnp.int32).at[jnp.where(has, rank_of, num)].set(col_row, mode="drop")
    )
    rest = jnp.argsort(is_pivot, stable=True)  # non-pivot rows first, in order
    rank = jnp.sum(has)
    fill = rest[jnp.maximum(jnp.arange(num) - rank, 0)]
    order = jnp.where(jnp.arange(num) < rank, order, fill)
    pivots = jnp.where(has, rank_of, -1).astype(jnp.int32)
    return a[order], pivots
