"""F2 `prg_gauss3_dv21` [DV21 Thm 11], exact: a depth-3 ReLU network on Gaussian inputs.

Input `x ~ N(0, I_d)`, `d ≥ kn`. The first kn coordinates `z'` carry the Bernoulli-Gaussian code:
bit `1[z'_q ≥ c]`, `Φ(c) = 1/n`; slice j is `z'_{jn .. jn+n-1}`. Ramp `δ = 1/n²` (configurable).
Layer 1 (seed-free, 4 ReLUs per coordinate at `c−δ, c, c+δ, c+2δ`):

    f(t) = (σ(t−c) − σ(t−c−δ)) / δ                               # 0 for t ≤ c, 1 for t ≥ c+δ
    m(t) = (σ(t−c+δ) − σ(t−c))/δ − (σ(t−c−δ) − σ(t−c−2δ))/δ     # 1 on [c, c+δ], 0 off (c−δ, c+2δ)

Layer 2, `f_q = f(z'_q)`, `u_q = 1 − f_q`, each detector term `σ(Σ literals − (#literals − 1))`:

    N1 = Σ_{b∈P^{-1}(1)} σ(Σ_{(j,l)∈I_b} f_{j,l} − (|I_b|−1)),   I_b = {(j,l): s_l ≠ b_j}
    N2 = 2^k [Σ_j Σ_{l<l'} σ(u_{j,l}+u_{j,l'}−1) + Σ_j σ(Σ_l f_{j,l}−(n−1))
              + Σ_{j<j'} Σ_l σ(u_{j,l}+u_{j',l}−1)]
    N3 = 2^k σ(Σ_q m_q)
    N(x) = σ(N1 − N2 − N3)

Labels: not an encoding → 0; an encoding of S with no coordinate in `(c−δ, c+2δ)` → `P(s_S)`
(informative); a coordinate in `[c, c+δ]` → 0; otherwise a ramp in `[0, P(s_S)]`.

Exact evaluation, reorganized (the same function, cheaper or better rounded):
- `σ(a) − σ(a−δ) = clip(a, 0, δ)`: f and m are computed as clips of `a = t − c`, so they are
  exactly 0/1 outside the band and float32 cancellation (weights `1/δ`) never reaches the labels.
- N1 with weight sharing as in F1:
  `Σ_{I_b} f = Σ_j [(1−b_j) Σ_l s_l f_{j,l} + b_j Σ_l (1−s_l) f_{j,l}]`.
- `Σ_{l<l'} σ(u_l+u_{l'}−1)` is the same sum reorganized in O(n): with `A = #{u_l = 1}` and
  `G = {0 < u_l < 1}` it is `C(A,2) + A Σ_G u + Σ_{l<l' ∈ G} σ(u_l+u_{l'}−1)`; the last term
  (two coordinates of one slice in `(c, c+δ)`, where m = 1 forces the output to 0 anyway) is
  evaluated only for batches that have such a slice (see `pairs_above_one`). The `n·C(k,2)`
  same-index terms are the same function along the other axis (pairs of slices j < j').

Null (`null=True`): `P(s_S)` is replaced by `r(S)` from `key_S`. N1 is built from the seed, so the
null replaces it by one unit per hyperedge, `Σ_S r(S) σ(Σ_{(j,l): l≠i_j} f_{j,l} + Σ_j u_{j,i_j}
− (kn−1))`, evaluated lazily: the pre-activation of S is `1 − ‖f − code(S)‖_1`, so at most one unit
is positive, that of `S*` = the per-slice argmin of `z'` (when S* has distinct indices).
`meta["hyperedge"]` is the public decode (first 0 bit of each slice), equal to S* on valid codes.

Parameter noise `τ > 0`: every weight and bias of every layer (zeros, output weights and the
`2^k` weights included) gets i.i.d. `N(0, τ²)` noise drawn in `init`, and the network is
evaluated materialized (`k·C(n,2)+k+n·C(k,2)+|P^{-1}(1)|+1` layer-2 units on `4kn` layer-1 units;
`(n)_k` N1 units for the null). Margin rule: layer-2 noise std `≈ τ √(4kn (d/δ² + 1))`, times the
output weight `2^k`, must stay ≤ 1/12. The seed lives in layer-2 weights, so noise there leaks
seed bits: such runs carry the note "empirically smoothed".
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hardnet.core import prg, validation
from hardnet.core.base import Array, Encoding, Instance
from hardnet.instances import common

FAMILY = "prg_gauss3_dv21"
OFFSETS = (1.0, 0.0, -1.0, -2.0)  # layer-1 ReLU t of coordinate q is σ(z_q − c + OFFSETS[t]·δ)
EPS32 = 2.0**-23


def step_and_tent(z: Array, c: float, delta: float) -> tuple[Array, Array]:
    """`(f(z), m(z))` of layer 1, written with `σ(a) − σ(a−δ) = clip(a, 0, δ)`, `a = z − c`."""
    a = z - c
    f = jnp.clip(a, 0.0, delta) / delta
    m = (jnp.clip(a + delta, 0.0, delta) - jnp.clip(a - delta, 0.0, delta)) / delta
    return f, m


# Slices with two or more coordinates inside the band, handled by gathering them (see below);
# more than this many in one call falls back to the dense O(n²) evaluation of every slice.
WITHIN_CAPACITY = 64


def _within(g: Array) -> Array:
    """`Σ_{l<l'} σ(g_l + g_{l'} − 1)` over the last axis, dense (O(n²) work per slice)."""
    upper = np.triu(np.ones((g.shape[-1],) * 2, np.float32), 1)
    return jnp.sum(jnp.sum(jax.nn.relu(g[..., :, None] + g[..., None, :] - 1) * upper, -1), -1)


@jax.custom_batching.custom_vmap
def pairs_above_one(u: Array) -> Array:
    """`Σ_{l<l'} σ(u_l + u_{l'} − 1)` over the last axis of `u ∈ [0, 1]`, the same sum reorganized.

    With `A = #{l: u_l = 1}` and `G = {l: 0 < u_l < 1}`: pairs (1, 1) give 1, pairs (1, g) give
    `u_g`, pairs with a 0 give 0, so the sum is `C(A,2) + A Σ_G u_l + Σ_{l<l' ∈ G} σ(u_l+u_{l'}−1)`.
    The last term needs two coordinates of one slice inside `(c, c+δ)` (about 2e-7 of the
    slices at n=64): those slices are gathered (up to `WITHIN_CAPACITY` per call, the dense
    O(n²) term on each) and scattered back; only a call with more of them evaluates every slice
    densely. The function is its own vmap rule (`custom_vmap`): under `vmap` over seeds it runs
    once on the whole batch, so that fallback stays a real `lax.cond` instead of becoming a
    `select` that pays the dense cost on every row (it made vmapped F2 sampling ~10x slower).
    (Sort + prefix sums + searchsorted gives the same sum in O(n log n), but XLA's CPU sort made
    sampling ~6x slower at n=64 than this decomposition.)
    """
    n = u.shape[-1]
    frac = (u > 0) & (u < 1)
    ones = jnp.sum(u >= 1, axis=-1).astype(u.dtype)
    g = jnp.where(frac, u, 0.0)
    flat = g.reshape(-1, n)
    need = (jnp.sum(frac, axis=-1) >= 2).reshape(-1)
    count = jnp.sum(need)
    cap = min(WITHIN_CAPACITY, flat.shape[0])
    (idx,) = jnp.nonzero(need, size=cap, fill_value=0)
    part = jnp.where(jnp.arange(cap) < count, _within(flat[idx]), 0.0)
    gathered = jnp.zeros(flat.shape[:1], g.dtype).at[idx].add(part)
    rest = jax.lax.cond(count > cap, _within, lambda f: gathered, flat).reshape(g.shape[:-1])
    return ones * (ones - 1) / 2 + ones * jnp.sum(g, axis=-1) + rest


@pairs_above_one.def_vmap
def _pairs_above_one_vmap(axis_size: int, in_batched: list[bool], u: Array):
    (batched,) = in_batched
    if not batched:
        u = jnp.broadcast_to(u, (axis_size, *u.shape))
    return pairs_above_one(u), True


def invalid_detector(f: Array) -> Array:
    """`N2 / 2^k` on steps `f[..., k, n]`: two zeros in a slice, no zero, a shared index."""
    n = f.shape[-1]
    u = 1 - f
    two_zeros = jnp.sum(pairs_above_one(u), axis=-1)
    no_zero = jnp.sum(jax.nn.relu(jnp.sum(f, axis=-1) - (n - 1)), axis=-1)
    shared = jnp.sum(pairs_above_one(jnp.swapaxes(u, -1, -2)), axis=-1)  # Σ_l Σ_{j<j'}
    return two_zeros + no_zero + shared


def seed_units(f: Array, seed: Array, ones: Array) -> Array:
    """N1 with weight sharing: `Σ_b σ(Σ_{I_b} f − (|I_b| − 1))`, f of shape `[..., k, n]`."""
    n = f.shape[-1]
    s = seed.astype(f.dtype)
    b = ones.astype(f.dtype)
    inner = (f @ s) @ (1 - b).T + (f @ (1 - s)) @ b.T
    size = jnp.sum(1 - b, axis=-1) * jnp.sum(s) + jnp.sum(b, axis=-1) * (n - jnp.sum(s))
    return jnp.sum(jax.nn.relu(inner - (size - 1)), axis=-1)


def detector_units(k: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed-free layer-2 units (N2 then N3): coefficients on f and on m `[units, kn]`, biases."""
    l1, l2 = np.triu_indices(n, 1)
    j1, j2 = np.triu_indices(k, 1)
    pairs, shared = k * len(l1), n * len(j1)
    units = pairs + k + shared + 1
    fc, bias = np.zeros((units, k, n)), np.ones(units)
    rows, js = np.arange(pairs), np.repeat(np.arange(k), len(l1))
    fc[rows, js, np.tile(l1, k)] = fc[rows, js, np.tile(l2, k)] = -1  # u_{j,l} + u_{j,l'}
    fc[pairs + np.arange(k), np.arange(k), :] = 1  # Σ_l f_{j,l}
    bias[pairs : pairs + k] = -(n - 1)
    rows, ls = pairs + k + np.arange(shared), np.repeat(np.arange(n), len(j1))
    fc[rows, np.tile(j1, n), ls] = fc[rows, np.tile(j2, n), ls] = -1  # u_{j,l} + u_{j',l}
    mc = np.zeros((units, k * n))
    mc[-1], bias[-1] = 1, 0  # N3 = σ(Σ_q m_q)
    return fc.reshape(units, k * n), mc, bias


def make(
    n: int = 64,
    k: int | None = None,
    predicate: str = "tsa",
    d: int | None = None,
    delta: float | None = None,  # width of the ramps; None: 1/n²
    tau: float = 0.0,  # std of the parameter noise (0: exact, lazily evaluated)
    null: bool = False,
    allow_unsafe_tau: bool = False,
) -> Instance:
    """Validate every keyword (ValueError naming it), then build the instance; see module doc."""
    # Long: weights, noisy_net, apply, draw, decode_clean, materialized and describe are
    # closures over the validated hyperparameters (static under jit), so they are defined here,
    # after the checks.
    n, pred, null = common.check_prg_args(FAMILY, n, k, predicate, null)
    k, kn = pred.k, pred.k * n
    d = kn if d is None else validation.check_int("d", d, low=1)
    if d < kn:
        raise ValueError(f"{FAMILY}: d must be >= kn = {kn} (the code's coordinates), got d={d}")
    delta = 1.0 / n**2 if delta is None else delta
    delta = validation.check_float("delta", delta, low=0.0, low_open=True)
    tau = validation.check_float("tau", tau, low=0.0)
    allow_unsafe_tau = validation.check_bool("allow_unsafe_tau", allow_unsafe_tau)
    c = float(np.float32(prg.bernoulli_gaussian_threshold(n)))
    dl = float(np.float32(delta))
    if dl < 16 * float(np.spacing(np.float32(abs(c) + 2 * dl))):
        raise ValueError(
            f"{FAMILY}: delta={delta:g} is below 16 float32 ulps at c={c:.4g}: float32 cannot "
            "resolve the ramp; use a larger delta"
        )
    ones_np = pred.ones()  # (units, k): the patterns b with P(b) = 1
    ones = jnp.asarray(ones_np)
    big = 2.0**k
    n1_units = math.perm(n, k) if null else len(ones_np)
    units2 = k * math.comb(n, 2) + k + n * math.comb(k, 2) + n1_units + 1
    notes: tuple[str, ...] = ()
    if tau > 0:
        notes = _check_noise(n, k, d, delta, tau, allow_unsafe_tau, null, units2)

    def weights(params: dict[str, Array], xp) -> dict[str, Array]:
        """The materialized network (before noise) with `xp` = jnp (jit-able) or np (float64)."""
        fc, mc, bias = detector_units(k, n)
        dt = np.float64 if xp is np else jnp.float32
        if null:
            edges = prg.all_hyperedges(n, k)
            f1 = 1 - 2 * np.eye(n)[edges].reshape(-1, kn)  # +f off S, u = 1 − f on S
            b1 = np.full(len(edges), k - (kn - 1.0))
            out1 = prg.null_bits(common.wrap(params["label_key"]), jnp.asarray(edges))
        else:
            b, s = ones_np[:, :, None], xp.asarray(params["seed"])
            f1 = ((1 - b) * s + b * (1 - s)).reshape(-1, kn)  # indicator of I_b
            b1, out1 = 1 - f1.sum(-1), np.ones(len(b))
        fc = xp.concatenate([xp.asarray(f1, dt), xp.asarray(fc, dt)])
        mc = np.concatenate([np.zeros((len(b1), kn)), mc])
        w2 = xp.stack([mc + 0 * fc, fc - mc, -fc - mc, mc + 0 * fc], axis=-1) / dl
        w1 = np.zeros((4 * kn, d))
        w1[np.arange(4 * kn), np.repeat(np.arange(kn), 4)] = 1
        return {
            "w1": w1,
            "b1": np.tile(np.asarray(OFFSETS) * dl, kn) - c,
            "w2": w2.reshape(-1, 4 * kn),
            "b2": xp.concatenate([xp.asarray(b1, dt), xp.asarray(bias, dt)]),
            "w3": xp.concatenate([xp.asarray(out1, dt), xp.asarray(-big * np.ones(len(bias)), dt)]),
            "b3": np.zeros(()),
        }

    def noisy_net(params: dict[str, Array]) -> dict[str, Array]:
        """`{"net": the materialized network + τ N(0, 1)}` (τ > 0 only)."""
        clean = weights(params, jnp)  # one N(0, 1) draw, cut into the layers' shapes
        sizes = [math.prod(np.shape(w)) for w in clean.values()]
        noise = jax.random.normal(common.wrap(params["noise_key"]), (sum(sizes),))
        parts = jnp.split(noise, np.cumsum(sizes)[:-1])
        return {
            "net": {
                name: jnp.asarray(w, jnp.float32) + tau * part.reshape(np.shape(w))
                for (name, w), part in zip(clean.items(), parts, strict=True)
            }
        }

    def apply(params: dict[str, Array], x: Array) -> Array:
        if tau > 0:
            net = params["net"]
            h1 = jax.nn.relu(x @ net["w1"].T + net["b1"])
            h2 = jax.nn.relu(h1 @ net["w2"].T + net["b2"])
            return jax.nn.relu(h2 @ net["w3"] + net["b3"])
        z = x[..., :kn].reshape(x.shape[:-1] + (k, n))
        f, m = step_and_tent(z, c, dl)
        if null:
            edge = jnp.argmin(z, axis=-1).astype(jnp.int32)
            match = jax.nn.one_hot(edge, n, dtype=x.dtype)
            pre = jnp.sum(match * (1 - f) + (1 - match) * f, axis=(-1, -2)) - (kn - 1)
            bit = prg.null_bits(common.wrap(params["label_key"]), edge.reshape(-1, k))
            bit = bit.reshape(pre.shape) * prg.distinct(edge)
            n1 = bit.astype(x.dtype) * jax.nn.relu(pre)
        else:
            n1 = seed_units(f, params["seed"], ones)
        n3 = jax.nn.relu(jnp.sum(m, axis=(-1, -2)))
        return jax.nn.relu(n1 - big * invalid_detector(f) - big * n3)

    def draw(keys: Array) -> tuple[Array, Array, Array]:
        x = common.gaussian_rows(keys, d)
        return x, *decode_clean(x)

    def decode_clean(x: Array) -> tuple[Array, Array]:
        """The public decode, and whether the row is informative: a valid code with no
        first-kn coordinate in the band (c−δ, c+2δ)."""
        a = x[..., :kn] - c
        hyperedge, valid = prg.decode_one_hot_bits((a >= 0).astype(jnp.int32), k, n)  # = decode
        clean = ~jnp.any((a > -dl) & (a < 2 * dl), axis=-1)
        return hyperedge, valid & clean

    def materialized(params: dict[str, Array], x: Array) -> tuple[np.ndarray, np.ndarray]:
        """Float64 NumPy reference, every unit: `(y, layer-2 pre-activations [num, units])`."""
        if tau > 0:
            net = {name: np.asarray(w, np.float64) for name, w in params["net"].items()}
        else:
            net = {name: np.asarray(w, np.float64) for name, w in weights(params, np).items()}
        h1 = np.maximum(np.asarray(x, np.float64) @ net["w1"].T + net["b1"], 0)
        pre = h1 @ net["w2"].T + net["b2"]
        return np.maximum(np.maximum(pre, 0) @ net["w3"] + net["b3"], 0), pre

    def describe(params: dict[str, Array]) -> dict[str, float]:
        """For τ > 0, the smallest singular value of the noisy layer-1 matrix (NumPy)."""
        if tau == 0:
            return {}
        w1 = np.asarray(params["net"]["w1"], np.float64)
        return {"sigma_min_layer1": float(np.linalg.svd(w1, compute_uv=False)[-1])}

    # A slice reads index i cleanly iff z_i ≤ c−δ and every other z ≥ c+2δ (float64 math).
    p0 = 0.5 * math.erfc(-(c - dl) / math.sqrt(2))
    p1 = 0.5 * math.erfc((c + 2 * dl) / math.sqrt(2))
    fraction = prg.ordered_distinct_probability(np.full(n, p0 * p1 ** (n - 1)), k)
    config = {"n": n, "k": k, "predicate": pred.name, "d": d, "delta": delta, "tau": tau,
              "null": null, "allow_unsafe_tau": allow_unsafe_tau}  # fmt: skip
    return common.prg_instance(
        FAMILY,
        config,
        Encoding(
            "bernoulli_gaussian",
            lambda x: prg.decode_bernoulli_gaussian(x, k, n),
            pred,
            n,
            lambda x: decode_clean(x)[1],
        ),
        input_dim=d,
        apply=apply,
        draw=draw,
        informative_fraction=fraction,
        extra_params=noisy_net if tau > 0 else None,
        row_elements=d + (units2 if tau > 0 else 0),
        describe=describe,
        notes=notes,
        materialized=materialized,
    )


def _check_noise(
    n: int, k: int, d: int, delta: float, tau: float, allow_unsafe: bool, null: bool, units2: int
) -> tuple[str, ...]:
    """Margin rule, float32 resolution and size of the materialized noisy network."""
    spread = 2.0**k * math.sqrt(4 * k * n * (d / delta**2 + 1))  # std per unit τ, at the output
    safe, resolution = 1 / (12 * spread), EPS32 / delta
    notes = ("empirically smoothed",)
    if tau > safe and not allow_unsafe:
        hint = (
            f" The safe tau is below float32 resolution of the largest weight 1/delta "
            f"(2^-23/delta = {resolution:.3g}): tau > 0 needs a larger delta or float64."
            if safe < resolution
            else ""
        )
        raise ValueError(
            f"{FAMILY}: tau={tau:g} breaks the noise margin rule: 2^k·tau·sqrt(4kn(d/delta²+1)) "
            f"= {tau * spread:.3g} > 1/12 at delta={delta:g}, d={d}, n={n}, k={k}; the largest "
            f"safe tau is {safe:.3g}.{hint} Use a larger delta, a smaller tau, or "
            "allow_unsafe_tau=True (results are marked 'unsafe tau')."
        )
    if tau > safe:
        notes += ("unsafe tau",)
    if tau < resolution:
        raise ValueError(
            f"{FAMILY}: tau={tau:g} is below float32 resolution of the largest weight 1/delta "
            f"(2^-23/delta = {resolution:.3g} at delta={delta:g}): the noise vanishes in "
            "rounding; tau > 0 needs a larger delta or float64"
        )
    if null and math.perm(n, k) > 200_000:
        raise ValueError(
            f"{FAMILY}: null=True with tau > 0 materializes one unit per hyperedge, "
            f"(n)_k = {math.perm(n, k)} > 200000 units; use smaller n, k or tau=0"
        )
    validation.check_fits(
        f"{FAMILY}: tau > 0 materializes {units2} layer-2 units on {4 * k * n} layer-1 units",
        units2 * 4 * k * n + 4 * k * n * d,
    )
    return notes
