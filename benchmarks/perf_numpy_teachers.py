"""Straightforward NumPy teachers of F3 and F2, the peer of item 1 of `benchmarks/perf.py`.

The same networks as `hardnet.instances.prg_gauss3_smoothed.apply` and
`hardnet.instances.prg_gauss3_dv21.apply` (τ = 0), written the way one would in NumPy: float32,
vectorized over the rows of one seed, a Python loop over seeds (`sample_loop`). They take the
parameters drawn by the JAX `init`, so on the same x and τ = 0 they give the same labels
(tests/test_perf.py checks it). The one difference is the F3 unit noise: NumPy has no threefry,
so `key_S` is derived by the same lowbias32 mixer (`hardnet.instances.smoothing.mix32`) folded
over the indices instead of by `jax.random.fold_in`; the noise then follows
`smoothing.hashed_normal` (√2 erf⁻¹ of a 23-bit uniform), i.e. the same work per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erfinv

from hardnet.instances import prg_gauss3_dv21, prg_gauss3_smoothed

_GOLDEN = np.uint32(0x9E3779B9)


def mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 on uint32 arrays (wrapping arithmetic)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x21F0AAAD)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x735A2D97)
    return x ^ (x >> np.uint32(15))


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, np.float32(0))


def _relu_diff(hi: np.ndarray, lo: np.ndarray, diff: np.ndarray) -> np.ndarray:
    return np.where((hi > 0) & (lo > 0), diff, _relu(hi) - _relu(lo))


def _distinct(edges: np.ndarray) -> np.ndarray:
    return (edges[:, :, None] == edges[:, None, :]).sum((1, 2)) == edges.shape[1]


def _predicate(table: np.ndarray, bits: np.ndarray) -> np.ndarray:
    return table[(bits << np.arange(bits.shape[1])).sum(1)]


def f3_apply(inst: Any, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """F3 (`prg_gauss3_smoothed`, not the null) on float32 `x[num, d]` in NumPy."""
    cfg = inst.config
    n, k, delta, tau, alpha = cfg["n"], cfg["k"], cfg["delta"], cfg["tau"], cfg["alpha"]
    width = n.bit_length() - 1
    length = k * width
    f32 = np.float32
    step = f32(alpha * delta)
    offsets = np.asarray(prg_gauss3_smoothed.OFFSETS, f32) * f32(delta)
    clean = f32(alpha) * (x[:, :length, None] + offsets)
    noise = (x @ params["w1_noise"].T + params["b1_noise"]).reshape(-1, length, 4)
    a = clean + noise
    gap = step + noise[..., :-1] - noise[..., 1:]
    f = _relu_diff(a[..., 1], a[..., 2], gap[..., 1]) / step
    m = (
        _relu_diff(a[..., 0], a[..., 1], gap[..., 0])
        - _relu_diff(a[..., 2], a[..., 3], gap[..., 2])
    ) / step
    beta = (x[:, :length] > 0).astype(f32)  # the B-bin code of the decoded tuple
    edges = (beta.reshape(-1, k, width).astype(np.int64) << np.arange(width - 1, -1, -1)).sum(-1)
    valid = _distinct(edges)
    pre = 1 - 2 * (beta * (1 - f) + (1 - beta) * f).sum(-1) - 2 * m.sum(-1)
    table = inst.encoding.predicate.truth_table().astype(np.int64)
    out = _predicate(table, params["seed"][edges].astype(np.int64)).astype(f32)
    if tau > 0:
        words = np.broadcast_to(params["noise_key"].astype(np.uint32), (len(x), 2)).copy()
        for j in range(k):  # key_S: the mixer folded over the indices
            words[:, 1] = mix32(words[:, 1] ^ mix32(words[:, 0] + edges[:, j].astype(np.uint32)))
            words[:, 0] = mix32(words[:, 0] ^ words[:, 1])
        t = np.arange(4 * length + 2, dtype=np.uint32) * _GOLDEN
        bits = mix32(mix32(words[:, 1:] + t) ^ words[:, :1])
        u = ((bits >> np.uint32(9)) | np.uint32(0x3F800000)).view(f32) * 2 - 3
        xi = f32(tau) * np.sqrt(f32(2)) * erfinv(np.maximum(u, np.nextafter(f32(-1), f32(0))))
        pre = pre + (xi[:, :-2] * _relu(a).reshape(len(x), -1)).sum(-1) + xi[:, -2]
        out = out + xi[:, -1]
    return np.where(valid, out * _relu(pre), f32(0)) + params["b_out"]


def _pairs_above_one(u: np.ndarray) -> np.ndarray:
    """`Σ_{l<l'} σ(u_l + u_{l'} − 1)` over the last axis (as in prg_gauss3_dv21), NumPy."""
    frac = (u > 0) & (u < 1)
    ones = (u >= 1).sum(-1).astype(u.dtype)
    g = np.where(frac, u, 0)
    total = ones * (ones - 1) / 2 + ones * g.sum(-1)
    need = frac.sum(-1) >= 2
    if need.any():
        gi = g[need]
        upper = np.triu(np.ones((u.shape[-1],) * 2, u.dtype), 1)
        total[need] += (_relu(gi[:, :, None] + gi[:, None, :] - 1) * upper).sum((-1, -2))
    return total


def f2_apply(inst: Any, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """F2 (`prg_gauss3_dv21`, τ = 0, not the null) on float32 `x[num, d]` in NumPy."""
    cfg = inst.config
    n, k = cfg["n"], cfg["k"]
    c = np.float32(prg_gauss3_dv21.prg.bernoulli_gaussian_threshold(n))
    dl = np.float32(cfg["delta"])
    z = x[:, : k * n].reshape(-1, k, n) - c
    f = np.clip(z, 0, dl) / dl
    m = (np.clip(z + dl, 0, dl) - np.clip(z - dl, 0, dl)) / dl
    s = params["seed"].astype(np.float32)
    b = inst.encoding.predicate.ones().astype(np.float32)
    inner = (f @ s) @ (1 - b).T + (f @ (1 - s)) @ b.T
    size = (1 - b).sum(-1) * s.sum() + b.sum(-1) * (n - s.sum())
    n1 = _relu(inner - (size - 1)).sum(-1)
    u = 1 - f
    detector = (
        _pairs_above_one(u).sum(-1)
        + _relu(f.sum(-1) - (n - 1)).sum(-1)
        + _pairs_above_one(np.swapaxes(u, -1, -2)).sum(-1)
    )
    big = np.float32(2.0**k)
    return _relu(n1 - big * detector - big * _relu(m.sum((-1, -2))))


def sample_loop(
    apply: Callable[[np.ndarray], np.ndarray] | Any,
    inst: Any,
    params: list[dict[str, np.ndarray]],
    num: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `num` Gaussian rows per seed and label them, one seed after another (the peer)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for p in params:
        x = rng.standard_normal((num, inst.input_dim), dtype=np.float32)
        xs.append(x)
        ys.append(apply(inst, p, x))
    return np.stack(xs), np.stack(ys)
