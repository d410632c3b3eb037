"""GF(2) elimination by stripes (learners/_lib/gf2_elim.py): the same reduced echelon form, bit
for bit, as one column at a time, on systems of every shape the learner meets."""

import jax
import numpy as np
import pytest

from hardnet.learners._lib import gf2_elim


def _packed(rng, rows: int, size: int, density: float) -> np.ndarray:
    words = -(-size // 32)
    bits = (rng.random((rows, words * 32)) < density).astype(np.uint64)
    bits[:, size:] = 0
    weights = np.uint64(1) << np.arange(32, dtype=np.uint64)
    return (bits.reshape(rows, words, 32) * weights).sum(-1).astype(np.uint32)


def _numpy_rref(packed: np.ndarray, size: int) -> np.ndarray:
    """Gauss–Jordan in NumPy on unpacked bits: the reference."""
    bits = np.unpackbits(packed.view(np.uint8), axis=1, bitorder="little")[:, :size].copy()
    r = 0
    for c in range(size):
        rows = np.flatnonzero(bits[r:, c])
        if rows.size == 0:
            continue
        p = r + rows[0]
        bits[[r, p]] = bits[[p, r]]
        hit = np.flatnonzero(bits[:, c])
        hit = hit[hit != r]
        bits[hit] ^= bits[r]
        r += 1
        if r == bits.shape[0]:
            break
    return bits


CASES = [(5, 3, 0.5), (40, 70, 0.1), (100, 64, 0.5), (300, 200, 0.02), (64, 130, 0.7),
         (10, 33, 0.3), (1, 40, 0.5), (200, 96, 0.0)]  # fmt: skip


@pytest.mark.parametrize("rows,size,density", CASES)
def test_stripes_equal_columns_and_numpy(rows, size, density):
    a = _packed(np.random.default_rng(rows * size), rows, size, density)
    by_columns = jax.jit(gf2_elim.eliminate_columns, static_argnums=1)(a, size)
    by_stripes = jax.jit(gf2_elim.eliminate_stripes, static_argnums=1)(a, size)
    np.testing.assert_array_equal(np.asarray(by_stripes[0]), np.asarray(by_columns[0]))
    np.testing.assert_array_equal(np.asarray(by_stripes[1]), np.asarray(by_columns[1]))
    reduced = np.asarray(by_stripes[0])
    bits = np.unpackbits(reduced.view(np.uint8), axis=1, bitorder="little")[:, :size]
    np.testing.assert_array_equal(bits, _numpy_rref(a, size))


@pytest.mark.parametrize("segments", [2, 3])
def test_segments_change_nothing(segments):
    a = _packed(np.random.default_rng(3), 120, 200, 0.05)
    whole = gf2_elim.eliminate_stripes(a, 200, segments=1)
    split = gf2_elim.eliminate_stripes(a, 200, segments=segments)
    np.testing.assert_array_equal(np.asarray(split[0]), np.asarray(whole[0]))
    np.testing.assert_array_equal(np.asarray(split[1]), np.asarray(whole[1]))


def test_stripes_vmap_over_systems():
    rng = np.random.default_rng(7)
    a = np.stack([_packed(rng, 50, 80, 0.2) for _ in range(3)])
    batched = jax.jit(jax.vmap(lambda m: gf2_elim.eliminate_stripes(m, 80)))(a)
    for i in range(3):
        one = gf2_elim.eliminate_stripes(a[i], 80)
        np.testing.assert_array_equal(np.asarray(batched[0][i]), np.asarray(one[0]))
        np.testing.assert_array_equal(np.asarray(batched[1][i]), np.asarray(one[1]))
