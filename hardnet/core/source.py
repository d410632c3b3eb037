"""Reading a data stream in chunks: the one code path of every learner's `fit_online`.

A `Source` (`hardnet.core.base`) returns rows `start .. start+num` of a stream, `source(start, num)
-> (x, y)` with `start` traced and `num` static. The runner's source draws the rows from their
keys inside the compiled program, so reading rows a second time costs sampling work, never
storage; a learner that needs several passes (moments after a subspace, a validation error
after a solve, conjugate-gradient iterations) reads the stream again. A finite sample becomes a
source with `array_source`, so `fit(key, x, y)` and `fit_online(key, source, N)` can share one
implementation.

    total = fold_rows(source, 0, budget, chunk, lambda acc, x, y, row0: acc + x.T @ y, zeros)

The chunk is the learner's own (a hyperparameter), never the caller's: the rows a learner sees
and the order in which it adds them up do not depend on how the stream is produced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from hardnet.core.base import Array, Source

READ_CHUNK = 8192  # rows per source call when a learner reads a block of rows into memory

Step = Callable[[Any, Array, Array, Array], Any]  # (carry, x, y, first row index) -> carry


def array_source(x: Array, y: Array) -> Source:
    """The rows of a finite sample as a `Source`: `source(start, num) = (x[start:start+num],
    y[start:start+num])`. Callers keep `start + num <= len(x)` (`lax.dynamic_slice` would clamp
    the start silently)."""
    x, y = jnp.asarray(x), jnp.asarray(y)

    def source(start: Array, num: int) -> tuple[Array, Array]:
        start = jnp.asarray(start, jnp.int32)
        return (
            jax.lax.dynamic_slice_in_dim(x, start, num),
            jax.lax.dynamic_slice_in_dim(y, start, num),
        )

    return source


def fold_rows(source: Source, start: int, stop: int, chunk: int, step: Step, init: Any) -> Any:
    """`carry = step(carry, x, y, row0)` over consecutive chunks of rows `start .. stop`.

    Full chunks of `chunk` rows run under `lax.scan`; a final partial chunk (`(stop − start) mod
    chunk` rows) is one more call with its own static size. `start`, `stop` and `chunk` are
    Python ints; `row0` (the index of a chunk's first row) is traced. Memory O(chunk × d + carry).
    """
    count = stop - start
    if count < 0 or chunk < 1:
        raise ValueError(f"fold_rows: need 0 <= stop - start and chunk >= 1, got {count}, {chunk}")
    chunk = min(chunk, max(count, 1))
    full, rest = divmod(count, chunk)
    carry = init
    if full:

        def body(carry: Any, c: Array) -> tuple[Any, None]:
            row0 = start + c * chunk
            x, y = source(row0, chunk)
            return step(carry, x, y, row0), None

        carry, _ = jax.lax.scan(body, carry, jnp.arange(full, dtype=jnp.int32))
    if rest:
        row0 = jnp.asarray(start + full * chunk, jnp.int32)
        x, y = source(row0, rest)
        carry = step(carry, x, y, row0)
    return carry


def map_rows(source: Source, start: int, stop: int, chunk: int, fn: Callable) -> Any:
    """`fn(x, y, row0)` on consecutive chunks of rows `start .. stop`, concatenated along the
    row axis (outputs with a leading axis of the chunk's rows), e.g. predictions on a stream."""
    outs = []
    count = stop - start
    chunk = min(chunk, max(count, 1))
    full, rest = divmod(count, chunk)
    if full:

        def one(c: Array) -> Any:
            row0 = start + c * chunk
            return fn(*source(row0, chunk), row0)

        stacked = jax.lax.map(one, jnp.arange(full, dtype=jnp.int32))
        outs.append(jax.tree.map(lambda a: a.reshape(full * chunk, *a.shape[2:]), stacked))
    if rest:
        row0 = jnp.asarray(start + full * chunk, jnp.int32)
        outs.append(fn(*source(row0, rest), row0))
    return jax.tree.map(lambda *parts: jnp.concatenate(parts), *outs)


def read_rows(source: Source, num: int, start: int = 0, chunk: int = READ_CHUNK) -> tuple:
    """Rows `start .. start+num` of the stream as arrays `(x[num, d], y[num])`, read `chunk` rows
    per source call: what a learner holds in memory is O(num × d), but the work of drawing the
    rows (for a planted sampler, per-row keys and hidden pre-activations: many times a row)
    stays O(chunk)."""
    return map_rows(source, start, start + num, chunk, lambda x, y, row0: (x, y))


SPLIT_DENOMINATOR = 2**16  # validation fractions are rounded to multiples of 1 / 2^16


def is_validation(rows: Array, fraction: float) -> Array:
    """Whether stream row r is a validation row: `⌊(r+1)·f⌋ > ⌊r·f⌋` with `f = p/q`,
    `q = 2^16`, `p = round(fraction · q)`, i.e. `(r·p mod q) + p ≥ q` (exact in uint32 for every
    row index). Rows 0..N hold `⌊N·p/q⌋` of them, evenly spread: on an i.i.d. stream, a random
    split that needs no permutation and no storage."""
    q = SPLIT_DENOMINATOR
    p = jnp.uint32(round(fraction * q))
    rest = (jnp.asarray(rows).astype(jnp.uint32) % q) * p % q
    return rest + p >= q


def validation_count(num: int, fraction: float) -> int:
    """The number of rows among `0 .. num` that `is_validation` marks: `⌊num·p/q⌋`."""
    return num * round(fraction * SPLIT_DENOMINATOR) // SPLIT_DENOMINATOR


def check_source(where: str, source: Source, num: int) -> tuple[int, Any]:
    """`(d, dtype)` of the rows `source(0, num)` returns, checked by shape inference (nothing
    runs): x must be `[num, d]` and y `[num]`."""
    x, y = jax.eval_shape(lambda: source(jnp.zeros((), jnp.int32), num))
    if len(x.shape) != 2 or x.shape[0] != num or y.shape != (num,):
        raise ValueError(
            f"{where}: source(start, {num}) must return (x[{num}, d], y[{num}]), "
            f"got shapes {x.shape} and {y.shape}"
        )
    return x.shape[1], x.dtype
