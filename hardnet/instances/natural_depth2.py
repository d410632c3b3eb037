"""F5 `natural_depth2` [DV20 setting, reconstruction]: depth 2 with natural random weights.

A *reconstruction* of the mechanism of Daniely & Vardi, "Hardness of Learning Neural Networks
with Natural Weights" (NeurIPS 2020, arXiv 2006.03177): random natural weights, an input
distribution that may depend on the weights, random K-SAT clauses. Not copied from its proofs.

Teacher on `x ∈ R^{n+1}` (coordinate n+1 is the bias input), r hidden units:

    h(x) = Σ_{j≤r} a_j σ(⟨w_j, x⟩),   σ(t) = max(t, 0),

with `W ∈ R^{r×(n+1)}` and `a ∈ R^r` i.i.d. `N(0, 1)` (`weights="gaussian"`) or `U[−1, 1]`
(`weights="uniform"`). Params: `{"W": float32[r, n+1], "a": float32[r]}`.

Inputs:
- (a) `inputs="gaussian"`: `x = (g, 1)`, `g ~ N(0, I_n)`: the regime of the positive results.
- (b) `inputs="clauses"`, the weight-dependent distribution: a uniform random K-clause C, i.e. K
  distinct variables `i_1..i_K` (`prg.sample_hyperedge`) and signs `p_l` uniform in ±1, maps to

      x_C = −Σ_l p_l e_{i_l} / |w_{1,i_l}|   with bias coordinate  x_{C,n+1} = −(K−2) / w_{1,n+1}.

  Literal semantics: with `ψ = sign(w_1) ∈ {±1}^n` as the assignment, literal `(i_l, p_l)` is
  *true* iff `ψ_{i_l} = p_l`, and C is *violated* iff every literal is false. Identity: since
  `w_{1,i} / |w_{1,i}| = ψ_i` and `w_{1,n+1} · x_{C,n+1} = −(K−2)` whatever the sign of
  `w_{1,n+1}` (the bias coordinate carries that sign),

      ⟨w_1, x_C⟩ = −Σ_l p_l ψ_{i_l} − (K−2) = 2 − 2·#{true literals of C},

  so `σ(⟨w_1, x_C⟩) = 2·1[C violated by ψ]` (the design's formula holds as written, for every
  K ≥ 1; we require K ≥ 2, docs/instances.md, F5). The other units add their own terms; the label is
  `h(x_C)`. A violated clause has probability exactly `2^−K`. `meta` carries `violated`,
  `clause_vars` (int32[num, K]) and `clause_signs` (int32 ±1 [num, K]).

The leak (why (b) is not a headline instance): the label jumps by `2 a_1` exactly on violated
clauses, and each violated clause reveals K bits of ψ (`ψ_{i_l} = −p_l`), so ψ is learnable
from about `2^K n log n / K` samples (coupon collector over n variables, K per violated clause,
one violated clause per `2^K` samples). The inputs also expose `|w_{1,i}|` and `w_{1,n+1}`:
the nonzero coordinates of x_C are their reciprocals (so the bias coordinate is not 1 here).
The family exists to compare (a) with (b).

Numerics: `x_C` has coordinates `1/|w_{1,i}|` with heavy tails (unbounded when `w_{1,i}` is near
0); in float32 the identity holds up to rounding (about 1e-6 K). An exact zero in `w_1`
(probability ~2^−23 per coordinate for `U[−1, 1]`) would break it; `describe` reports
`min_abs_w1` so such draws can be spotted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hardnet.core import prg, validation
from hardnet.core.base import Array, Instance, row_keys
from hardnet.instances import common

FAMILY = "natural_depth2"
WEIGHTS = ("gaussian", "uniform")
INPUTS = ("gaussian", "clauses")
VERDICT_CAVEAT = (  # what the report's verdict says the family can and cannot show
    "What the reconstruction can show: whether natural-weights networks are learned under "
    "Gaussian inputs, the regime of the positive results. What it cannot: [DV20]'s hardness "
    "under the weight-dependent clause distribution. Here the label jumps by 2a_1 exactly on "
    "the clauses that sign(w_1) violates and the inputs expose |w_1i| (the leak, "
    "docs/instances.md, F5), so fitting the clause rows refutes nothing; and no learner in "
    "the zoo decodes the leak on purpose (none reads sign(w_1) off the violated clauses): "
    "the clause rows measure how generic learners fit a sparse, heavy-tailed input "
    "distribution whose labels carry the assignment."
)


def make(
    n: int = 32,
    r: int | None = None,
    weights: str = "gaussian",
    inputs: str = "gaussian",
    K: int = 3,
) -> Instance:
    n = validation.check_int("n", n, low=2)
    r = n if r is None else validation.check_int("r", r, low=1)
    weights = validation.check_choice("weights", weights, WEIGHTS)
    inputs = validation.check_choice("inputs", inputs, INPUTS)
    K = validation.check_int("K", K, low=2)
    if K > n:
        raise ValueError(f"{FAMILY}: K must be <= n (distinct clause variables), got K={K}, n={n}")

    def init(key: Array) -> dict[str, Array]:
        k_w, k_a = jax.random.split(key)
        if weights == "gaussian":
            draw = lambda kk, size: jax.random.normal(kk, (size,), jnp.float32)
        else:
            draw = lambda kk, size: jax.random.uniform(kk, (size,), jnp.float32, -1.0, 1.0)
        # a flat draw, reshaped: XLA:CPU compiles 2-D random draws far more slowly
        return {"W": draw(k_w, r * (n + 1)).reshape(r, n + 1), "a": draw(k_a, r)}

    def apply(params: dict[str, Array], x: Array) -> Array:
        return jax.nn.relu(x @ params["W"].T) @ params["a"]

    def clause_input(w1: Array, key: Array) -> tuple[Array, Array, Array]:
        k_vars, k_signs = jax.random.split(key)
        vars_ = prg.sample_hyperedge(k_vars, n, K)
        signs = jnp.where(jax.random.bernoulli(k_signs, 0.5, (K,)), 1, -1).astype(jnp.int32)
        x = jnp.zeros((n + 1,), jnp.float32)
        x = x.at[vars_].set(-signs.astype(jnp.float32) / jnp.abs(w1[vars_]))
        x = x.at[n].set(-(K - 2) / w1[n])
        return x, vars_, signs

    def sample(
        params: dict[str, Array], key: Array, num: int, start: int | Array = 0
    ) -> tuple[Array, Array, dict[str, Array]]:
        common.check_sample_size(FAMILY, num, n + 1)
        keys = row_keys(key, num, start)
        meta = {"informative": jnp.ones((num,), bool)}
        if inputs == "gaussian":
            g = jax.vmap(lambda kk: jax.random.normal(kk, (n,), jnp.float32))(keys)
            x = jnp.concatenate([g, jnp.ones((num, 1), jnp.float32)], axis=1)
        else:
            w1 = params["W"][0]
            x, vars_, signs = jax.vmap(clause_input, in_axes=(None, 0))(w1, keys)
            psi = jnp.where(w1[:n] >= 0, 1, -1).astype(jnp.int32)
            meta["violated"] = jnp.all(psi[vars_] == -signs, axis=1)
            meta["clause_vars"] = vars_
            meta["clause_signs"] = signs
        return x, apply(params, x), meta

    def describe(params: dict[str, Array]) -> dict[str, Array]:
        return {"min_abs_w1": jnp.min(jnp.abs(params["W"][0]))}

    return Instance(
        family=FAMILY,
        config={"n": n, "r": r, "weights": weights, "inputs": inputs, "K": K},
        input_dim=n + 1,
        init=init,
        sample=sample,
        apply=apply,
        informative_fraction=1.0,
        describe=describe,
    )
