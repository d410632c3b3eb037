"""F4 `prg_depth2_smoothed` [DSV23 setting, reconstruction]: depth 2, smoothed inputs and
smoothed parameters.

A *reconstruction* consistent with the statements of Daniely, Srebro & Vardi (NeurIPS 2023,
arXiv 2302.07426) for depth 2, where hardness needs the input to be smoothed as well; not copied
from their proofs.

- Base input `β ~ U{±1}^d`; its first L = k log2 n coordinates carry the B-bin code of a tuple S*
  in ±1 form. The learner sees `z = β + ω g`, `g ~ N(0, I_d)`.
- Hidden unit per hyperedge S with ±1 code `c_S`: `g_S(z) = σ(⟨c_S, z_[L]⟩ − (L − 1))`; a clean
  match gives 1, Hamming distance h gives `1 − 2h`.
- Output `N(z) = Σ_S P(s_S) g_S(z) + b_out`. Parameter noise τ on every weight and bias, zeros
  (padding inputs, `b_out`) included.

Labels are `N(z)` on the smoothed input, so on an informative row `y = P(s_S*)(1 + ω⟨c, g_[L]⟩)`
up to τ: equal to `P(s_S*)` to float precision only when ω = 0, and within `ω √L` (std) otherwise.

Bounds (enforced; `allow_unsafe=True` overrides and marks the results):
- input smoothing: `ω √L √(2k ln n) ≤ 1/4`, a union bound over the `(n)_k ≤ n^k` units keeps every
  competitor below `−1/2`;
- parameter noise: the noise on a pre-activation has std `τ √(d (1 + ω²) + 1) ≤ 1/12`.
Lazy evaluation: only the unit of the decoded S* can be active; its noisy weights come from
`key_S*`. `materialized` evaluates every unit in float64 NumPy (tiny sizes).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import prg, validation
from hardnet.core.base import Array, Encoding, Instance
from hardnet.instances import common, smoothing

FAMILY = "prg_depth2_smoothed"


def make(
    n: int = 128,
    k: int | None = None,
    predicate: str = "xor_maj(5,7)",
    d: int | None = None,
    omega: float = 1e-3,  # std of the input smoothing g
    tau: float = 1e-4,  # std of the parameter noise
    null: bool = False,
    allow_unsafe: bool = False,
) -> Instance:
    """Validate every keyword (ValueError naming it), then build the instance; see module doc."""
    # Long: output_bias, apply, draw and materialized are closures over the validated
    # hyperparameters (static under jit), so they are defined here, after the checks.
    n, pred, null, length, d = common.check_bbin_args(FAMILY, n, k, predicate, null, d)
    k = pred.k
    omega = validation.check_float("omega", omega, low=0.0)
    tau = validation.check_float("tau", tau, low=0.0)
    allow_unsafe = validation.check_bool("allow_unsafe", allow_unsafe)
    spread = omega * math.sqrt(length) * math.sqrt(2 * k * math.log(n))
    unsafe_omega = spread > 0.25
    if unsafe_omega and not allow_unsafe:
        raise ValueError(
            f"{FAMILY}: omega={omega:g} breaks the bound omega·√L·√(2k ln n) ≤ 1/4 "
            f"(it is {spread:.3g} with L={length}, k={k}, n={n}); the largest omega is "
            f"{omega * 0.25 / spread:.3g}. Pass allow_unsafe=True to run anyway."
        )
    std = tau * math.sqrt(d * (1 + omega**2) + 1)
    why = f"tau·√(d(1+omega²)+1) with d={d}, omega={omega:g}"
    unsafe_tau = smoothing.check_noise_margin(FAMILY, tau, std, why, allow_unsafe, "allow_unsafe")

    def output_bias(params: dict[str, Array]) -> dict[str, Array]:
        return {"b_out": tau * jax.random.normal(common.wrap(params["rest_key"]), ())}

    def apply(params: dict[str, Array], x: Array) -> Array:
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, d)
        hyperedge, valid = prg.decode_bbin(x, k, n)
        code = 2 * prg.bbin_bits(hyperedge, n).astype(x.dtype) - 1
        pre = 1 + jnp.sum(code * x[:, :length] - 1, axis=-1)  # ⟨c, z⟩ − (L − 1)
        _, planted = common.planted_bits(params, pred, hyperedge, null)
        out_weight = planted.astype(x.dtype)
        if tau > 0:
            xi = tau * smoothing.unit_noise(params["noise_key"], hyperedge, d + 2)
            pre = pre + jnp.sum(xi[:, :d] * x, axis=-1) + xi[:, d]
            out_weight = out_weight + xi[:, d + 1]
        y = jnp.where(valid, out_weight * jax.nn.relu(pre), 0.0) + params["b_out"]
        return y.reshape(batch_shape)

    def draw_row(key: Array) -> Array:
        k_base, k_smooth = jax.random.split(key)
        base = jax.random.rademacher(k_base, (d,), jnp.float32)
        return base + omega * jax.random.normal(k_smooth, (d,))

    def draw(keys: Array) -> tuple[Array, Array, Array]:
        """`z = β + ω g` per row; informative iff the decoded tuple is a hyperedge."""
        x = jax.vmap(draw_row)(keys)
        return x, *prg.decode_bbin(x, k, n)

    def materialized(params, x):
        smoothing.check_materializable(FAMILY, n, k, d)
        edges = prg.all_hyperedges(n, k)
        code = 2 * np.asarray(prg.bbin_bits(jnp.asarray(edges), n), np.float64) - 1
        xi = tau * np.asarray(
            smoothing.unit_noise(params["noise_key"], jnp.asarray(edges), d + 2), np.float64
        )
        w = np.pad(code, ((0, 0), (0, d - length))) + xi[:, :d]
        b = -(length - 1) + xi[:, d]
        _, planted = common.planted_bits(params, pred, jnp.asarray(edges), null)
        out = np.asarray(planted, np.float64) + xi[:, d + 1]
        pre = np.asarray(x, np.float64) @ w.T + b
        return np.maximum(pre, 0) @ out + float(params["b_out"]), pre

    notes = (("unsafe omega",) if unsafe_omega else ()) + (("unsafe tau",) if unsafe_tau else ())
    config = {
        "n": n,
        "k": k,
        "predicate": pred.name,
        "d": d,
        "omega": omega,
        "tau": tau,
        "null": null,
        "allow_unsafe": allow_unsafe,
    }
    return common.prg_instance(
        FAMILY,
        config,
        Encoding("bbin_pm1", lambda x: prg.decode_bbin(x, k, n), pred, n),
        input_dim=d,
        apply=apply,
        draw=draw,
        # sign(β_q + ω g_q) is a fair coin, so the decoded tuple is uniform over [n]^k.
        informative_fraction=math.perm(n, k) / n**k,
        extra_params=output_bias,
        notes=notes,
        materialized=materialized,
    )
