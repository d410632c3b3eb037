"""Goldreich's local PRG and the encodings of a hyperedge [DV21 §2-3; docs/instances.md].

Seed `s ∈ {0,1}^n`, locality k, predicate `P: {0,1}^k -> {0,1}`. A hyperedge S = (i_1..i_k) is
an ordered tuple of distinct indices drawn uniformly from the `(n)_k` such tuples; the PRG
output for S is `P(s_S)`, `s_S = (s_{i_1}, ..., s_{i_k})`.

Bit convention: `w_1` is `s_{i_1}`; in truth tables the pattern `w` has index `Σ_j w_j 2^(j-1)`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from hardnet.core.base import Array

# A fixed, public key for the seed-free hyperedge hash (it must not depend on the instance).
_HASH_SEED = 0x5EED_AB1E

# ----------------------------------------------------------------------------------------------
# Predicates


@dataclasses.dataclass(frozen=True)
class Predicate:
    """A named k-ary Boolean predicate, evaluated on int32 bits of shape `(..., k)`."""

    name: str
    k: int
    fn: Callable[[Array], Array]
    description: str

    def __call__(self, bits: Array) -> Array:
        return self.fn(jnp.asarray(bits, jnp.int32))

    def truth_table(self) -> np.ndarray:
        """`int8[2^k]`: the value on the pattern with index `Σ_j w_j 2^(j-1)`."""
        if self.k > 24:
            raise ValueError(f"truth table of {self.name} needs 2^k entries, k={self.k} > 24")
        patterns = (np.arange(2**self.k)[:, None] >> np.arange(self.k)) & 1
        return np.asarray(self(jnp.asarray(patterns)), np.int8)

    def ones(self) -> np.ndarray:
        """`int32[|P^{-1}(1)|, k]`: the patterns b with `P(b) = 1` (units of F1 and F2)."""
        table = self.truth_table()
        idx = np.nonzero(table)[0]
        return ((idx[:, None] >> np.arange(self.k)) & 1).astype(np.int32)


def _xor(bits: Array) -> Array:
    return jnp.sum(bits, axis=-1) % 2


def _tsa(bits: Array) -> Array:
    return (bits[..., 0] + bits[..., 1] + bits[..., 2] + bits[..., 3] * bits[..., 4]) % 2


def _xor_maj(a: int, b: int) -> Callable[[Array], Array]:
    def fn(bits: Array) -> Array:
        parity = jnp.sum(bits[..., :a], axis=-1) % 2
        majority = (2 * jnp.sum(bits[..., a : a + b], axis=-1) > b).astype(jnp.int32)
        return (parity + majority) % 2

    return fn


def _dictator(bits: Array) -> Array:
    return bits[..., 0]


PREDICATE_NAMES = ("tsa", "xor_maj(a,b)", "xor", "dictator")


def make_predicate(name: str, k: int | None = None) -> Predicate:
    """The predicate called `name`; `k` is checked against (or, for xor/dictator, sets) arity.

    Names: `tsa` (k=5), `xor_maj(a,b)` (k=a+b, b odd), `xor` (any k), `dictator` (any k).
    """
    if not isinstance(name, str):
        raise ValueError(f"predicate must be a string, got {name!r}")
    spec = name.replace(" ", "")
    m = re.fullmatch(r"xor_maj\((\d+),(\d+)\)", spec)
    if spec == "tsa":
        pred = Predicate("tsa", 5, _tsa, "w1⊕w2⊕w3⊕(w4∧w5)")
    elif m:
        a, b = int(m.group(1)), int(m.group(2))
        if a < 0 or b < 1 or b % 2 == 0:
            raise ValueError(f"predicate xor_maj(a,b) needs a >= 0 and b odd, got {name!r}")
        pred = Predicate(spec, a + b, _xor_maj(a, b), f"(w1⊕…⊕w{a}) ⊕ MAJ_{b}")
    elif spec in ("xor", "dictator"):
        if k is None:
            raise ValueError(f"predicate={spec!r} needs the locality k to be given")
        fn, desc = (_xor, "w1⊕…⊕wk") if spec == "xor" else (_dictator, "w1")
        pred = Predicate(spec, int(k), fn, desc)
    else:
        raise ValueError(f"predicate must be one of {PREDICATE_NAMES}, got {name!r}")
    if k is not None and k != pred.k:
        raise ValueError(f"k must equal the arity of predicate {pred.name} ({pred.k}), got k={k}")
    if pred.k < 1:
        raise ValueError(f"k must be >= 1, got {pred.k}")
    return pred


# ----------------------------------------------------------------------------------------------
# Hyperedges and per-hyperedge randomness


def falling_factorial(n: int, k: int) -> int:
    """`(n)_k = n (n-1) ... (n-k+1)`, exact."""
    return math.perm(n, k)


def sample_hyperedge(key: Array, n: int, k: int) -> Array:
    """A uniform ordered k-tuple of distinct indices in [n], int32[k].

    Draw `r_j ~ U{0..n-j-1}` and map it to the `r_j`-th index not chosen yet, by stepping
    over the chosen ones in increasing order: O(k^2) work instead of a permutation of [n].
    """
    r = jax.random.randint(key, (k,), 0, n - jnp.arange(k), dtype=jnp.int32)
    chosen_sorted = jnp.zeros((0,), jnp.int32)
    out = []
    for j in range(k):
        idx = r[j]
        for t in range(j):
            idx = idx + (idx >= chosen_sorted[t]).astype(jnp.int32)
        out.append(idx)
        chosen_sorted = jnp.sort(jnp.concatenate([chosen_sorted, idx[None]]))
    return jnp.stack(out)


def hyperedge_key(key: Array, hyperedge: Array) -> Array:
    """`key_S = fold_in(...fold_in(key, i_1)..., i_k)`: never the rank of S as one integer."""
    for j in range(hyperedge.shape[-1]):
        key = jax.random.fold_in(key, hyperedge[j])
    return key


def hyperedge_keys(key: Array, hyperedges: Array) -> Array:
    """`hyperedge_key` for each row of `int32[num, k]`."""
    return jax.vmap(hyperedge_key, in_axes=(None, 0))(key, hyperedges)


def hyperedge_hash(hyperedges: Array) -> Array:
    """A seed-free 64-bit hash of each hyperedge, `uint32[num, 2]` (threefry of the fold chain)."""
    base = jax.random.key(_HASH_SEED, impl="threefry2x32")
    return jax.random.key_data(hyperedge_keys(base, hyperedges))


def distinct(hyperedges: Array) -> Array:
    """Whether each row of `int32[num, k]` has k distinct indices."""
    eq = hyperedges[..., :, None] == hyperedges[..., None, :]
    k = hyperedges.shape[-1]
    return jnp.sum(eq, axis=(-1, -2)) == k


def seed_bits(seed: Array, hyperedges: Array) -> Array:
    """`s_S` for each row: int32[num, k]."""
    return jnp.take(seed, hyperedges, axis=0).astype(jnp.int32)


def null_bits(label_key: Array, hyperedges: Array) -> Array:
    """The random-label null `r(S)`: an independent uniform bit per hyperedge, from `key_S`."""
    keys = hyperedge_keys(label_key, hyperedges)
    return jax.vmap(lambda k: jax.random.bernoulli(k).astype(jnp.int32))(keys)


# ----------------------------------------------------------------------------------------------
# Encodings [DV21 Thm 3 and Thm 11; docs/instances.md, Encodings]


def negated_one_hot(hyperedge: Array, n: int) -> Array:
    """`z ∈ {0,1}^{kn}`: slice j is all ones but a 0 at position `i_j` (float32)."""
    return (1 - jax.nn.one_hot(hyperedge, n, dtype=jnp.float32)).reshape(-1)


def decode_one_hot_bits(bits: Array, k: int, n: int) -> tuple[Array, Array]:
    """Decode `{0,1}`-valued `bits[num, kn]` given by a negated one-hot code.

    Returns the position of the smallest bit in each slice and whether the row is a valid
    encoding: exactly one zero in every slice and distinct indices.
    """
    slices = bits.reshape(bits.shape[:-1] + (k, n))
    hyperedge = jnp.argmin(slices, axis=-1).astype(jnp.int32)
    one_zero = jnp.all(jnp.sum(1 - slices, axis=-1) == 1, axis=-1)
    return hyperedge, one_zero & distinct(hyperedge)


def decode_negated_one_hot(x: Array, k: int, n: int) -> tuple[Array, Array]:
    """Public decoder of the negated one-hot code (threshold 1/2)."""
    return decode_one_hot_bits((x > 0.5).astype(jnp.int32), k, n)


def bernoulli_gaussian_threshold(n: int) -> float:
    """c with `Φ(c) = 1/n`: the bit `1[z ≥ c]` is 0 with probability 1/n."""
    return float(norm.ppf(1.0 / n))


def decode_bernoulli_gaussian(x: Array, k: int, n: int) -> tuple[Array, Array]:
    """Public decoder of the Bernoulli-Gaussian code on the first kn coordinates."""
    c = bernoulli_gaussian_threshold(n)
    return decode_one_hot_bits((x[..., : k * n] >= c).astype(jnp.int32), k, n)


def bbin_length(n: int, k: int) -> int:
    """`L = k log2 n` sign bits of the B-bin code."""
    return k * (n.bit_length() - 1)


def bbin_bits(hyperedge: Array, n: int) -> Array:
    """The B-bin code `β(S) ∈ {0,1}^L` of a tuple (chunk j is `i_j` in binary, MSB first)."""
    width = n.bit_length() - 1
    shifts = jnp.arange(width - 1, -1, -1, dtype=jnp.int32)
    return ((hyperedge[..., :, None] >> shifts) & 1).reshape(hyperedge.shape[:-1] + (-1,))


def decode_bbin_bits(bits: Array, k: int, n: int) -> tuple[Array, Array]:
    """Decode `{0,1}` bits `[num, L]` into a tuple; valid iff its k indices are distinct."""
    width = n.bit_length() - 1
    chunks = bits.reshape(bits.shape[:-1] + (k, width)).astype(jnp.int32)
    weights = 2 ** jnp.arange(width - 1, -1, -1, dtype=jnp.int32)
    hyperedge = jnp.sum(chunks * weights, axis=-1)
    return hyperedge, distinct(hyperedge)


def decode_bbin(x: Array, k: int, n: int) -> tuple[Array, Array]:
    """Public decoder of the B-bin sign code `1[x_q > 0]` on the first L coordinates."""
    bits = (x[..., : bbin_length(n, k)] > 0).astype(jnp.int32)
    return decode_bbin_bits(bits, k, n)


def all_hyperedges(n: int, k: int) -> np.ndarray:
    """All `(n)_k` ordered tuples of distinct indices, int32 (tiny sizes only)."""
    count = falling_factorial(n, k)
    if count > 200_000:
        raise ValueError(
            f"materializing all hyperedges needs (n)_k = {count} units, over 200000; "
            "use lazy evaluation (apply) instead"
        )
    return np.asarray(list(itertools.permutations(range(n), k)), np.int32).reshape(count, k)


# ----------------------------------------------------------------------------------------------
# Probabilities


def ordered_distinct_probability(pi: np.ndarray, k: int) -> float:
    """`Σ over ordered distinct (i_1..i_k) of Π_j pi[i_j]` = `k! e_k(pi)`.

    With `pi[i]` the probability that one chunk (slice) of the code reads index i *cleanly*,
    this is the exact informative probability of a code of k independent chunks.
    """
    e = np.zeros(k + 1)
    e[0] = 1.0
    for p in np.asarray(pi, np.float64):
        e[1:] = e[1:] + p * e[:-1]
    return float(math.factorial(k) * e[k])
