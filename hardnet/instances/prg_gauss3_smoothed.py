"""F3 `prg_gauss3_smoothed` [DSV23 setting, reconstruction]: depth 3, Gaussian input, all
parameters smoothed by i.i.d. `N(0, τ²)` noise.

This construction is a *reconstruction* consistent with the statements of Daniely, Srebro &
Vardi (NeurIPS 2023, arXiv 2302.07426): depth 3 under a Gaussian input with noise on all
parameters. It is not copied from their proofs.

Input `z ~ N(0, I_d)`, `d ≥ L = k log2 n`; the first L sign bits `1[z_q > 0]` are the B-bin code
of a tuple S* (chunk j of log2 n bits is the binary index `i_j`).

- Layer 1 (seed-free): per coordinate q < L four ReLUs `u_t = σ(α(z_q + o_t))`,
  `o = (δ, 0, −δ, −2δ)`; step `f_q = (u_1 − u_2)/(αδ)` (0 for z ≤ 0, 1 for z ≥ δ) and tent
  `m_q = (u_0 − u_1 − u_2 + u_3)/(αδ)` (1 on [0, δ], 0 off (−δ, 2δ)). Padding coordinates have
  zero weights before noise. Scaling: `α = 1/√δ` puts the slope `1/δ` half in each layer.
- Layer 2 (seed-free): one unit per hyperedge S with code `β(S)`,
  `g_S = σ(1 − 2 Ham(β(S), f) − 2 Σ_q m_q)`, `Ham = Σ_q [β_q(1 − f_q) + (1 − β_q) f_q]`; as weights
  on `(u_0, u_1, u_2, u_3)` of coordinate q: `(−2, 4β_q, 4 − 4β_q, −2)/(αδ)`, bias `1 − 2|β(S)|`.
  A clean match gives 1, any other S at most −1.
- Output (linear, the seed enters here only): `N(z) = Σ_S P(s_S) g_S(z) + b_out`.

Noise margin rule: the noise on a layer-2 pre-activation has std
`≈ τ √(A (d c² / (α² δ²) + α²))`, A = 2L active layer-1 units, c = 4; it must stay below 1/12.

Lazy evaluation: under the margin rule only the decoded candidate S* can be active, so
`N(z) = (P(s_S*) + τ ξ_out) σ(pre_S*(z)) + b_out` when S* has distinct indices, else `b_out`;
the noisy weights of S* are regenerated from `key_S*`. `materialized` evaluates every unit in
float64 NumPy (tiny sizes) and returns all pre-activations, so tests can check that no
competitor is active.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import norm

from hardnet.core import prg, validation
from hardnet.core.base import Array, Encoding, Instance
from hardnet.instances import common, smoothing

FAMILY = "prg_gauss3_smoothed"
OFFSETS = (1.0, 0.0, -1.0, -2.0)  # in units of δ
MAX_COEF = 4.0  # largest layer-2 coefficient, in units of 1/(αδ)


def noise_std(tau: float, length: int, d: int, alpha: float, delta: float) -> float:
    """Std of the noise on a layer-2 pre-activation, `τ √(2L (d c²/(α²δ²) + α²))`."""
    return tau * math.sqrt(2 * length * (d * MAX_COEF**2 / (alpha * delta) ** 2 + alpha**2))


def make(
    n: int = 128,
    k: int | None = None,
    predicate: str = "xor_maj(5,7)",
    d: int | None = None,
    delta: float = 1e-2,  # width of the step and tent ramps
    tau: float = 1e-5,  # std of the parameter noise
    alpha: float | None = None,  # layer-1 slope; None: 1/√δ
    null: bool = False,
    allow_unsafe_tau: bool = False,
) -> Instance:
    """Validate every keyword (ValueError naming it), then build the instance; see module doc."""
    # Long: the noise draw, apply, informative, draw, the float64 reference (layer1_matrix,
    # layer2_matrix, materialized) and describe are closures over the validated hyperparameters
    # (static under jit), so they are defined here, after the checks.
    n, pred, null, length, d = common.check_bbin_args(FAMILY, n, k, predicate, null, d)
    k = pred.k
    delta = validation.check_float("delta", delta, low=0.0, low_open=True, high=0.5)
    tau = validation.check_float("tau", tau, low=0.0)
    alpha = 1 / math.sqrt(delta) if alpha is None else alpha
    alpha = validation.check_float("alpha", alpha, low=0.0, low_open=True)
    allow_unsafe_tau = validation.check_bool("allow_unsafe_tau", allow_unsafe_tau)
    validation.check_fits(f"{FAMILY}: layer 1 ({4 * length} x {d})", 4 * length * d)
    std = noise_std(tau, length, d, alpha, delta)
    why = f"delta={delta:g}, d={d}, alpha={alpha:g}, L={length}"
    unsafe = smoothing.check_noise_margin(
        FAMILY, tau, std, why, allow_unsafe_tau, "allow_unsafe_tau"
    )
    step = alpha * delta
    offsets = jnp.asarray(OFFSETS, jnp.float32) * delta
    # unit noise positions: 4q + t (weight on u_t of coordinate q) laid out [4, L]; 4L, 4L+1
    # (bias, output weight)
    planar = 4 * np.arange(length)[None, :] + np.arange(4)[:, None]
    extra = np.array([4 * length, 4 * length + 1])

    def layer1_and_output_noise(params: dict[str, Array]) -> dict[str, Array]:
        k_w, k_b, k_out = jax.random.split(common.wrap(params["rest_key"]), 3)
        return {
            "w1_noise": tau * jax.random.normal(k_w, (4 * length, d)),
            "b1_noise": tau * jax.random.normal(k_b, (4 * length,)),
            "b_out": tau * jax.random.normal(k_out, ()),
        }

    def apply(params: dict[str, Array], x: Array) -> Array:
        """The lazy evaluator in planar layout: every layer-1 quantity is `[num, L]` per offset t
        (the weights' rows `4q + t` regrouped by t), so XLA keeps the dot on its matmul path and
        the elementwise work on contiguous rows (the `[num, L, 4]` layout ran ~3x slower)."""
        batch_shape = x.shape[:-1]
        x = x.reshape(-1, d)
        w = params["w1_noise"].reshape(length, 4, d).transpose(1, 0, 2).reshape(4 * length, d)
        noise = (x @ w.T).reshape(-1, 4, length) + params["b1_noise"].reshape(length, 4).T
        z = x[:, None, :length]
        a = alpha * (z + offsets[:, None]) + noise  # [num, 4, L]
        gap = step + noise[:, :-1] - noise[:, 1:]  # a_t − a_{t+1}, without cancellation
        f = smoothing.relu_diff(a[:, 1], a[:, 2], gap[:, 1]) / step
        m = (
            smoothing.relu_diff(a[:, 0], a[:, 1], gap[:, 0])
            - smoothing.relu_diff(a[:, 2], a[:, 3], gap[:, 2])
        ) / step
        hyperedge, valid = prg.decode_bbin(x, k, n)
        beta = (x[:, :length] > 0).astype(x.dtype)  # = bbin_bits(hyperedge): the sign code
        ham = jnp.sum(beta * (1 - f) + (1 - beta) * f, axis=-1)
        pre = 1 - 2 * ham - 2 * jnp.sum(m, axis=-1)
        _, planted = common.planted_bits(params, pred, hyperedge, null)
        out_weight = planted.astype(x.dtype)
        if tau > 0:
            keys = prg.hyperedge_keys(common.wrap(params["noise_key"]), hyperedge)
            words = jax.random.key_data(keys)
            xi = tau * smoothing.hashed_normal(words, planar)  # [num, 4, L]: weights of u_t
            xi_b, xi_out = jnp.moveaxis(tau * smoothing.hashed_normal(words, extra), -1, 0)
            pre = pre + jnp.sum(xi * jax.nn.relu(a), axis=(-1, -2)) + xi_b
            out_weight = out_weight + xi_out
        y = jnp.where(valid, out_weight * jax.nn.relu(pre), 0.0) + params["b_out"]
        return y.reshape(batch_shape)

    def informative(x: Array) -> Array:
        """S* has distinct indices and no first-L coordinate lies in the band (−δ, 2δ)."""
        z = x[..., :length]
        valid = prg.decode_bbin(x, k, n)[1]
        return valid & jnp.all((z <= -delta) | (z >= 2 * delta), axis=-1)

    def draw(keys: Array) -> tuple[Array, Array, Array]:
        x = common.gaussian_rows(keys, d)
        return x, prg.decode_bbin(x, k, n)[0], informative(x)

    def layer1_matrix(params) -> tuple[np.ndarray, np.ndarray]:
        """The noisy layer-1 weights `[4L, d]` and biases `[4L]`, float64."""
        w = np.zeros((4 * length, d))
        w[np.arange(4 * length), np.repeat(np.arange(length), 4)] = alpha
        b = np.tile(alpha * delta * np.asarray(OFFSETS), length)
        return (
            w + np.asarray(params["w1_noise"], np.float64),
            b + np.asarray(params["b1_noise"], np.float64),
        )

    def layer2_matrix(params) -> tuple[np.ndarray, ...]:
        """Materialized layer 2 and output, float64: `(hyperedges, W2, b2, out_weights)`."""
        smoothing.check_materializable(FAMILY, n, k, 4 * length)
        edges = prg.all_hyperedges(n, k)
        beta = np.asarray(prg.bbin_bits(jnp.asarray(edges), n), np.float64)
        coef = np.stack([-2 + 0 * beta, 4 * beta, 4 - 4 * beta, -2 + 0 * beta], axis=-1)
        xi = tau * smoothing.unit_noise(params["noise_key"], jnp.asarray(edges), 4 * length + 2)
        xi = np.asarray(xi, np.float64) if tau > 0 else np.zeros((len(edges), 4 * length + 2))
        w2 = coef.reshape(len(edges), -1) / step + xi[:, :-2]
        b2 = 1 - 2 * beta.sum(-1) + xi[:, -2]
        _, planted = common.planted_bits(params, pred, jnp.asarray(edges), null)
        return edges, w2, b2, np.asarray(planted, np.float64) + xi[:, -1]

    def materialized(params, x):
        w1, b1 = layer1_matrix(params)
        _, w2, b2, out = layer2_matrix(params)
        u = np.maximum(np.asarray(x, np.float64) @ w1.T + b1, 0)
        pre = u @ w2.T + b2
        return np.maximum(pre, 0) @ out + float(params["b_out"]), pre

    def describe(params) -> dict[str, float]:
        """Smallest singular values of the noisy layers (NumPy, outside jit), documenting the
        non-degeneracy that smoothing buys: the clean layer 2 repeats its u_0 and u_3 columns."""
        w1, _ = layer1_matrix(params)
        stats = {"sigma_min_layer1": np.linalg.svd(w1, compute_uv=False)[-1]}
        if math.perm(n, k) * 4 * length <= 1e6:
            w2 = layer2_matrix(params)[1]
            stats["sigma_min_layer2"] = np.linalg.svd(w2, compute_uv=False)[-1]
        return stats

    p_one, p_zero = float(norm.cdf(-2 * delta)), float(norm.cdf(-delta))  # clean 1 / clean 0
    width = length // k
    ones = np.array([bin(i).count("1") for i in range(n)])
    chunk_prob = p_one**ones * p_zero ** (width - ones)
    notes = (("unsafe tau",) if unsafe else ()) + (("noise-free",) if tau == 0 else ())
    config = {
        "n": n,
        "k": k,
        "predicate": pred.name,
        "d": d,
        "delta": delta,
        "tau": tau,
        "alpha": alpha,
        "null": null,
        "allow_unsafe_tau": allow_unsafe_tau,
    }
    return common.prg_instance(
        FAMILY,
        config,
        Encoding("bbin", lambda x: prg.decode_bbin(x, k, n), pred, n, informative),
        input_dim=d,
        apply=apply,
        draw=draw,
        informative_fraction=prg.ordered_distinct_probability(chunk_prob, k),
        extra_params=layer1_and_output_noise,
        describe=describe,
        notes=notes,
        materialized=materialized,
    )
