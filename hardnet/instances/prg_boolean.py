"""F1 `prg_boolean` [DV21 Thm 8(1)]: a depth-2 ReLU network on the negated one-hot code.

Input: the negated one-hot encoding `z^S ∈ {0,1}^{kn}` of a uniform hyperedge S. Teacher, with
`≤ 2^k` hidden units whose weights depend on the seed s:

    N_s(z) = Σ_{b ∈ P^{-1}(1)} σ( Σ_{(j,l) ∈ I_b} z_{j,l} − (|I_b| − 1) ),  I_b = {(j,l): s_l ≠ b_j}

On `z^S` the pre-activation of unit b is `1 − #{j: s_{i_j} ≠ b_j}`, so exactly the unit
`b = s_S` fires and `N_s(z^S) = P(s_S)`.

Implementation note: the inner sum is evaluated with weight sharing,
`Σ_{(j,l)∈I_b} z_{j,l} = Σ_j [(1−b_j) Σ_l s_l z_{j,l} + b_j Σ_l (1−s_l) z_{j,l}]`,
which is the same linear map as the `|P^{-1}(1)| × kn` weight matrix, at O(kn + 2^k k) cost.

Null (`null=True`): the label on `z^S` is an independent bit `r(S)` from `key_S`. The network is
then one unit per hyperedge, `Σ_S r(S) σ(1 − Σ_j [z_{j,i_j} + Σ_{l≠i_j} (1 − z_{j,l})])`,
evaluated lazily: only the unit of the decoded hyperedge can be positive.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hardnet.core import prg
from hardnet.core.base import Array, Encoding, Instance
from hardnet.instances import common

FAMILY = "prg_boolean"


def make(n: int = 32, k: int | None = None, predicate: str = "tsa", null: bool = False) -> Instance:
    """Validate every keyword (ValueError naming it), then build the instance; see module doc."""
    n, pred, null = common.check_prg_args(FAMILY, n, k, predicate, null)
    k = pred.k
    ones = jnp.asarray(pred.ones())  # (units, k): the patterns b with P(b) = 1

    def apply(params: dict[str, Array], x: Array) -> Array:
        z = x.reshape(x.shape[:-1] + (k, n))
        if null:
            hyperedge, _ = prg.decode_negated_one_hot(x, k, n)
            match = jax.nn.one_hot(hyperedge, n, dtype=x.dtype)  # 1 at (j, i_j)
            mismatch = jnp.sum(match * z + (1 - match) * (1 - z), axis=(-1, -2))
            bit = prg.null_bits(common.wrap(params["label_key"]), hyperedge.reshape(-1, k))
            return bit.reshape(mismatch.shape).astype(x.dtype) * jax.nn.relu(1 - mismatch)
        s = params["seed"].astype(x.dtype)
        z1 = jnp.einsum("...jl,l->...j", z, s)  # Σ_l s_l z_{j,l}
        z0 = jnp.einsum("...jl,l->...j", z, 1 - s)  # Σ_l (1-s_l) z_{j,l}
        b = ones.astype(x.dtype)
        inner = z1 @ (1 - b).T + z0 @ b.T  # (..., units)
        size = jnp.sum(1 - b, axis=-1) * jnp.sum(s) + jnp.sum(b, axis=-1) * (n - jnp.sum(s))
        return jnp.sum(jax.nn.relu(inner - (size - 1)), axis=-1)

    def draw(keys: Array) -> tuple[Array, Array, Array]:
        """A uniform hyperedge per row and its code; every row is informative."""
        hyperedges = jax.vmap(lambda kk: prg.sample_hyperedge(kk, n, k))(keys)
        x = jax.vmap(lambda h: prg.negated_one_hot(h, n))(hyperedges)
        return x, hyperedges, jnp.ones(keys.shape[:1], bool)

    return common.prg_instance(
        FAMILY,
        {"n": n, "k": k, "predicate": pred.name, "null": null},
        Encoding("negated_one_hot", lambda x: prg.decode_negated_one_hot(x, k, n), pred, n),
        input_dim=k * n,
        apply=apply,
        draw=draw,
        informative_fraction=1.0,
    )
