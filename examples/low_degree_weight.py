"""How far a planted PRG instance is from pseudorandom at low degree, per instance seed.

    python examples/low_degree_weight.py                      # F4 tsa n=32, instance seeds 0-4
    python examples/low_degree_weight.py --n=16 --seeds=10

The label of a PRG row is `P(s_S)` for the row's hyperedge `S = (i_1, …, i_k)`; the public code
spells each index in `log2 n` sign bits (docs/instances.md, Encodings). As a Boolean function of
those `k log2 n` bits, `g(S) = (−1)^{P(s_{i_1}, …, s_{i_k})}` has a Fourier expansion
`g = Σ_A ĝ(A) χ_A`; this prints its weight `Σ_{|A| = j} ĝ(A)²` by degree j (Parseval: the
weights sum to 1). Pseudorandom at low degree means almost no weight on small j: a learner that
fits low-degree features of the code (what gradient descent finds first) then has nothing to
find. For small `n` the map `i ↦ s_i` is a random function of only `log2 n` bits, so some seeds
put real weight on degrees 3–5: those instances are partly learnable at that `n`, whatever the
asymptotic conjecture says.

The transform runs over all `n^k` tuples (repeated indices included, every row counted as
informative), so `n^k ≤ 2^26`. The seeds are those `hardnet-bench` plants for instance seed i
(`runner.keys_for(seed_base, i)["init"]`).
"""

from __future__ import annotations

import jax
import numpy as np
from absl import app, flags

from hardnet import instances
from hardnet.core import prg
from hardnet.run import runner

_FAMILY = flags.DEFINE_string("family", "prg_depth2_smoothed", "a PRG family with a B-bin code")
_N = flags.DEFINE_integer("n", 32, "seed length (a power of two)")
_PREDICATE = flags.DEFINE_string("predicate", "tsa", "PRG predicate")
_SEEDS = flags.DEFINE_integer("seeds", 5, "instance seeds 0 .. seeds-1")
_SEED_BASE = flags.DEFINE_integer("seed_base", 0, "the run seed of hardnet-bench")
_MAX_DEGREE = flags.DEFINE_integer("max_degree", 6, "print the weights of degrees 0 .. this")


def walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """Fourier coefficients `ĝ(A) = E_x g(x) χ_A(x)` of `values[x]`, `x ∈ {0,1}^m` as m bits."""
    a, h = values.astype(np.float64).copy(), 1
    while h < a.size:
        a = a.reshape(-1, 2, h)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1).reshape(-1)
        h *= 2
    return a / a.size


def degree_weights(seed: np.ndarray, predicate: prg.Predicate) -> np.ndarray:
    """Fourier weight of `(−1)^{P(s_S)}` by degree over the `k log2 n` index bits."""
    n, k = seed.size, predicate.k
    bits = int(np.log2(n))
    if 2**bits != n or n**k > 2**26:
        raise ValueError(f"n must be a power of two with n^k <= 2^26, got n={n}, k={k}")
    grids = np.meshgrid(*[np.arange(n)] * k, indexing="ij")  # i_1 most significant
    hyperedges = np.stack([g.reshape(-1) for g in grids], axis=-1)
    table = predicate.truth_table().astype(np.int64)
    code = np.zeros(len(hyperedges), np.int64)
    for j in range(k):  # the pattern's index Σ_j s_{i_j} 2^(j−1) (`Predicate.truth_table`)
        code += seed[hyperedges[:, j]] << j
    coef = walsh_hadamard(1.0 - 2.0 * table[code])
    index = np.arange(coef.size)
    degree = sum((index >> b) & 1 for b in range(k * bits))  # |A| of each character
    return np.bincount(degree, weights=coef**2, minlength=k * bits + 1)


def main(argv: list[str]) -> None:
    del argv
    inst = instances.make(_FAMILY.value, n=_N.value, predicate=_PREDICATE.value)
    predicate = prg.make_predicate(_PREDICATE.value, inst.config.get("k"))
    top = _MAX_DEGREE.value
    print(f"{_FAMILY.value} n={_N.value} {_PREDICATE.value}: Fourier weight by degree")
    print("seed  ones  " + "  ".join(f"deg {j:<3}" for j in range(top + 1)) + "  sum <= 5")
    for i in range(_SEEDS.value):
        key = runner.keys_for(_SEED_BASE.value, i)["init"]
        seed = np.asarray(jax.jit(inst.init)(key)["seed"]).astype(np.int64)
        w = degree_weights(seed, predicate)
        cells = "  ".join(f"{x:7.4f}" for x in w[: top + 1])
        print(f"{i:>4}  {seed.sum():>4}  {cells}  {w[:6].sum():7.4f}")


if __name__ == "__main__":
    app.run(main)
