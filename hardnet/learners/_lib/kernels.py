"""Kernel functions `k(x1[N1, d], x2[N2, d]) -> [N1, N2]` for the `kernel` learner.

**NNGP and NTK of fully connected ReLU networks** (closed form; arc-cosine kernels of Cho & Saul,
NeurIPS 2009; NTK recursion of Jacot, Gabriel & Hongler, NeurIPS 2018, and Arora et al.,
"On exact computation with an infinitely wide neural net", NeurIPS 2019, appendix C).
Network convention (NTK parameterization, `depth` = L hidden ReLU layers of width n → ∞):

    z_1(x)     = σ_w/√d · W_1 x + σ_b · b_1
    z_{l+1}(x) = σ_w/√n · W_{l+1} φ(z_l(x)) + σ_b · b_{l+1},   l = 1..L
    f(x)       = z_{L+1}(x)            (the linear scalar readout, with the same σ_w, σ_b)

with all entries of W_l, b_l i.i.d. N(0, 1) and φ = ReLU. With
`ρ = Σ_l(x,x') / √(Σ_l(x,x) Σ_l(x',x'))` clipped into [−1, 1],

    κ1(ρ) = (√(1−ρ²) + (π − arccos ρ) ρ) / π,    κ0(ρ) = (π − arccos ρ) / π
    Σ_0 = σ_w² ⟨x,x'⟩/d + σ_b²,                   Θ_0 = Σ_0
    Σ_{l+1} = σ_w² √(Σ_l(x,x) Σ_l(x',x')) κ1(ρ)/2 + σ_b²
    Θ_{l+1} = Σ_{l+1} + Θ_l · σ_w² κ0(ρ)/2

`Σ_l` is the covariance of `z_{l+1}` (so `Σ_0` is that of the first pre-activation) and the
NNGP of f is `Σ_L`, its NTK `Θ_L` (`E[f(x) f(x')]` and `⟨∂f/∂θ(x), ∂f/∂θ(x')⟩` over all weights
and biases, infinite width). `depth = L ≥ 1` recursion steps.

**RBF** `exp(−‖x−x'‖² / (2h²))` and **Laplace** `exp(−‖x−x'‖ / h)`; the bandwidth h is given, or
the median heuristic: the median pairwise distance of a random subsample of the rows.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from hardnet.core.base import Array

RELU_KERNELS = ("nngp", "ntk")
DISTANCE_KERNELS = ("rbf", "laplace")
KERNELS = RELU_KERNELS + DISTANCE_KERNELS


def _angle(rho: Array) -> tuple[Array, Array]:
    """`(arccos ρ, √(1−ρ²))` for ρ clipped into [−1, 1], sharing the square root."""
    rho = jnp.clip(rho, -1.0, 1.0)
    root = jnp.sqrt(jnp.maximum(1 - rho * rho, 0.0))
    return jnp.arctan2(root, rho), root


def kappa1(rho: Array) -> Array:
    """`(√(1−ρ²) + (π − arccos ρ) ρ)/π`: `2 E[φ(u)φ(v)]` for unit-variance (u, v) with corr. ρ."""
    theta, root = _angle(rho)
    return (root + (jnp.pi - theta) * jnp.clip(rho, -1.0, 1.0)) / jnp.pi


def kappa0(rho: Array) -> Array:
    """`(π − arccos ρ)/π`: `2 E[φ'(u)φ'(v)]` for unit-variance (u, v) with correlation ρ."""
    return (jnp.pi - _angle(rho)[0]) / jnp.pi


def relu_kernels(
    x1: Array, x2: Array, depth: int, sigma_w: float, sigma_b: float
) -> tuple[Array, Array]:
    """`(NNGP Σ_L, NTK Θ_L)`, each `[N1, N2]`, by the recursion of the module docstring."""
    d = x1.shape[-1]
    if x2.shape[-1] != d:
        raise ValueError(f"kernel inputs must share the last dimension, got {x1.shape}, {x2.shape}")
    sw2, sb2 = sigma_w**2, sigma_b**2
    cross = sw2 * (x1 @ x2.T) / d + sb2
    diag1 = sw2 * jnp.sum(x1 * x1, axis=-1) / d + sb2
    diag2 = sw2 * jnp.sum(x2 * x2, axis=-1) / d + sb2
    tiny = jnp.finfo(cross.dtype).tiny
    ntk = cross
    for _ in range(depth):
        norm = jnp.sqrt(jnp.maximum(diag1[:, None] * diag2[None, :], tiny))
        rho = jnp.clip(cross / norm, -1.0, 1.0)
        theta, root = _angle(rho)
        cross = sw2 * norm * (root + (jnp.pi - theta) * rho) / (2 * jnp.pi) + sb2
        ntk = cross + ntk * sw2 * (jnp.pi - theta) / (2 * jnp.pi)
        # On the diagonal ρ = 1, κ1 = 1: Σ_{l+1}(x,x) = σ_w² Σ_l(x,x)/2 + σ_b².
        diag1 = sw2 * diag1 / 2 + sb2
        diag2 = sw2 * diag2 / 2 + sb2
    return cross, ntk


def relu_diag(x: Array, depth: int, sigma_w: float, sigma_b: float) -> tuple[Array, Array]:
    """Diagonals `(Σ_L(x,x), Θ_L(x,x))`, each `[N]`, in O(N d)."""
    sw2, sb2 = sigma_w**2, sigma_b**2
    sigma = sw2 * jnp.sum(x * x, axis=-1) / x.shape[-1] + sb2
    theta = sigma
    for _ in range(depth):
        sigma = sw2 * sigma / 2 + sb2
        theta = sigma + theta * sw2 / 2
    return sigma, theta


def nngp(x1: Array, x2: Array, depth: int = 2, sigma_w: float = math.sqrt(2), sigma_b=0.0):
    """NNGP kernel `Σ_L(x1, x2)` of a depth-L ReLU network (module docstring)."""
    return relu_kernels(x1, x2, depth, sigma_w, sigma_b)[0]


def ntk(x1: Array, x2: Array, depth: int = 2, sigma_w: float = math.sqrt(2), sigma_b=0.0):
    """NTK `Θ_L(x1, x2)` of a depth-L ReLU network in NTK parameterization (module docstring)."""
    return relu_kernels(x1, x2, depth, sigma_w, sigma_b)[1]


def sq_distances(x1: Array, x2: Array) -> Array:
    """`‖x1_i − x2_j‖²`, `[N1, N2]`, by `‖x1‖² + ‖x2‖² − 2⟨x1, x2⟩`. Values below the rounding
    error of that formula, `8 ε (‖x1‖² + ‖x2‖²)`, are set to 0, so that equal rows are at distance
    exactly 0 (otherwise the Laplace diagonal comes out as 1 − O(√ε), which can make the float32
    kernel matrix indefinite)."""
    n1, n2 = jnp.sum(x1 * x1, -1)[:, None], jnp.sum(x2 * x2, -1)[None, :]
    sq = n1 + n2 - 2 * (x1 @ x2.T)
    return jnp.where(sq > 8 * jnp.finfo(sq.dtype).eps * (n1 + n2), sq, 0.0)


def rbf(x1: Array, x2: Array, bandwidth: float | Array) -> Array:
    """`exp(−‖x−x'‖² / (2h²))`."""
    return jnp.exp(-sq_distances(x1, x2) / (2 * bandwidth**2))


def laplace(x1: Array, x2: Array, bandwidth: float | Array) -> Array:
    """`exp(−‖x−x'‖ / h)`."""
    return jnp.exp(-jnp.sqrt(sq_distances(x1, x2)) / bandwidth)


def median_bandwidth(key: Array, x: Array, subsample: int = 512) -> Array:
    """Median heuristic: the median distance between distinct rows of a random subsample of
    `min(subsample, N)` rows of x (fixed shapes; vmaps over key and x)."""
    num = min(subsample, x.shape[0])
    if num < 2:
        raise ValueError(f"the median heuristic needs at least 2 rows, got {x.shape[0]}")
    rows = jax.random.permutation(key, x.shape[0])[:num]
    xs = x[rows]
    iu, ju = jnp.triu_indices(num, k=1)
    dist = jnp.sqrt(sq_distances(xs, xs)[iu, ju])
    h = jnp.median(dist)
    return jnp.where(h > 0, h, 1.0)  # all rows equal: any bandwidth interpolates


def make_kernel(name: str, depth: int, sigma_w: float, sigma_b: float):
    """`k(x1, x2, bandwidth) -> [N1, N2]` and `diag(x, bandwidth) -> [N]` for a kernel name
    (the bandwidth is ignored by the ReLU kernels)."""
    if name == "nngp":
        return (
            lambda x1, x2, h: relu_kernels(x1, x2, depth, sigma_w, sigma_b)[0],
            lambda x, h: relu_diag(x, depth, sigma_w, sigma_b)[0],
        )
    if name == "ntk":
        return (
            lambda x1, x2, h: relu_kernels(x1, x2, depth, sigma_w, sigma_b)[1],
            lambda x, h: relu_diag(x, depth, sigma_w, sigma_b)[1],
        )
    if name in DISTANCE_KERNELS:
        fn = rbf if name == "rbf" else laplace
        return fn, lambda x, h: jnp.ones(x.shape[:1], x.dtype)
    raise ValueError(f"kernel must be one of {KERNELS}, got {name!r}")
