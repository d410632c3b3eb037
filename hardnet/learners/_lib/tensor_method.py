"""The moment estimate of the `tensor` learner: steps 0–5 of docs/learners.md, section `tensor`.

Model `f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j) + c` under `x ~ N(0, I_d)`; its Hermite moments are
`T_p = E[f(x) He_p(x)] = Σ_j a_j c_p(b_j) w_j^{⊗p}` (`hermite`). Following Awasthi, Tang &
Vijayaraghavan (NeurIPS 2021) and Jennrich's algorithm (Harshman 1970):

0. Split the rows: the first `split·N` estimate M2, the rest the projected tensors. As a control
   variate each part uses `y − ȳ − ⟨T̂1, x⟩` with `ȳ, T̂1 = E[y x]` from the *other* part: the
   degree-0 and -1 Hermite parts are orthogonal to He_2, He_3, He_4, so the targets are unchanged
   and the variance drops.
1. Subspace: U = top-m eigenvectors of `M2 = E[y (x xᵀ − I)]` by |eigenvalue|. With `m=None`,
   `m_max` directions are kept and the rank r̂ is the eigengap rule
   `r̂ = argmax_{k<K} |λ_k| / |λ_{k+1}|` (K = min(d, m_max + 1)); the other directions are masked.
2. `z = Uᵀx`; `T̂2, T̂3, T̂4` in R^m from the second part, streamed (O(N m^4)).
3. Jennrich: `A = T̂4[·,·,α,β]`, `B = T̂4[·,·,α',β']` (α.. ~ N(0, I_m)); the eigenvectors of
   `A B^{-1}` are the projected directions. Repeated with `(T̂3[·,·,γ], T̂3[·,·,γ'])` and, beyond
   the spec, `(T̂3[·,·,γ], T̂2)` (T̂2 is far less noisy and λ^{(2)} = aφ(b) never vanishes), `tries`
   draws each. Kept: the candidate minimizing the relative residual of `T̂2, T̂3 ≈ Σ λ v^{⊗p}` plus
   10 × the imaginary weight of its eigenvectors (deviation from "best separated": at realistic
   noise the chordal separation did not predict accuracy; it is still reported and tested).
   Separation = smallest chordal distance `|μ_i − μ_j| / √((1 + |μ_i|²)(1 + |μ_j|²))` between the
   pencil's eigenvalues, A and B scaled to unit Frobenius norm. `jnp.linalg.eig` (LAPACK on CPU;
   jax 0.10 also lowers it on GPU: cuSOLVER `geev`, or LAPACK on the host); real parts are kept.
4. `ŵ_j = U v_j / ‖U v_j‖`; signs from `T1 = Σ a_j Φ(b_j) w_j`: in the basis ŵ, the coefficient of
   ŵ_j has the sign of `a_j`, i.e. of `λ^{(2)}_j` (a sign flip changes λ^{(3)} only).
5. `λ^{(p)}` by least squares `T̂p ≈ Σ λ_j v_j^{⊗p}` (normal equations, Gram `(v_i·v_j)^p`); then
   per unit the least squares over a bias grid: `a (Φ(b), φ(b), −bφ(b)) ≈ (t1_j, λ2_j, λ3_j)`,
   b on 161 points of [−b_max, b_max], a in closed form; output offset c = mean residual.

Step 6, the refinement of these starts, is `tensor_refine`. Not part of the public API.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

from hardnet.core import linalg
from hardnet.core.base import Array, Source
from hardnet.learners._lib import hermite

DTYPE = jnp.float32


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated hyperparameters of `hardnet.learners.tensor.make` (docs/learners.md,
    `tensor`); `dataclasses.asdict` of it is the learner's config, in this order."""

    m: int | None
    m_max: int
    refine_steps: int
    refine_lr: float
    freeze_steps: int
    refine_batch: int | None
    lm_steps: int
    lm_rows: int
    chunk: int
    split: float
    tries: int
    starts: int
    b_max: float
    gap_tol: float
    sep_tol: float
    cond_tol: float
    fit_tol: float
    log_every: int | None


def apply(state: dict[str, Array], x: Array) -> Array:
    """The network `f(x) = σ(x W + b) a + c`, W `[d, m]` with the directions as columns."""
    return jax.nn.relu(x @ state["W"] + state["b"]) @ state["a"] + state["c"]


def chordal_sep(mu: Array, active: Array) -> Array:
    """Smallest chordal distance between eigenvalues of active units (inf if < 2 active)."""
    diff = jnp.abs(mu[:, None] - mu[None, :])
    norm_ = jnp.sqrt(1 + jnp.abs(mu) ** 2)
    dist = diff / (norm_[:, None] * norm_[None, :])
    pair = active[:, None] & active[None, :] & ~jnp.eye(mu.shape[0], dtype=bool)
    return jnp.min(jnp.where(pair, dist, jnp.inf))


def jennrich(a_mat: Array, b_mat: Array, mask: Array) -> tuple[Array, Array, Array, Array]:
    """Eigenvectors of `A B^{-1}` on the active block; masked coordinates get eigenvalue c.

    Returns (V [m, m] real unit columns, active [m] bool, separation, imaginary weight)."""
    outer = mask[:, None] * mask[None, :]
    a_mat = outer * a_mat / (jnp.linalg.norm(outer * a_mat) + 1e-30)
    b_mat = outer * b_mat / (jnp.linalg.norm(outer * b_mat) + 1e-30)
    b_reg = b_mat + jnp.diag(1.0 - mask)
    k_act = linalg.solve(b_reg.T, a_mat.T).T  # A B^{-1} (B symmetric): block (A_r B_r^{-1}, 0)
    shift = 2 * jnp.linalg.norm(k_act) + 1.0  # beyond every active eigenvalue
    mu, vecs = linalg.eig(k_act + shift * jnp.diag(1.0 - mask))
    re = jnp.real(vecs)
    imag = jnp.max(jnp.linalg.norm(jnp.imag(vecs), axis=0) / jnp.linalg.norm(vecs, axis=0))
    active = jnp.sum((re * mask[:, None]) ** 2, axis=0) > 0.5 * jnp.sum(re**2, axis=0)
    v = re / (jnp.linalg.norm(re, axis=0, keepdims=True) + 1e-30)
    return v, active, chordal_sep(mu, active), imag


def coefficients(t: Array, v: Array, p: int, active: Array) -> Array:
    """Least squares `λ` in `t ≈ Σ_j λ_j v_j^{⊗p}` over active units (0 for the others)."""
    gram = (v.T @ v) ** p
    letters = "ijkl"[:p]
    spec = letters + "," + ",".join(f"{c}z" for c in letters) + "->z"
    rhs = jnp.einsum(spec, t, *([v] * p))
    act = active.astype(v.dtype)
    gram = gram * act[:, None] * act[None, :] + jnp.diag(1.0 - act)
    ridge = 1e-6 * jnp.trace(gram) / v.shape[1]
    return linalg.solve(gram + ridge * jnp.eye(v.shape[1]), rhs * act)


def bias_grid(t1: Array, lam2: Array, lam3: Array, b_max: float) -> tuple[Array, Array]:
    """Per unit, the (a, b) whose `a (Φ(b), φ(b), −bφ(b))` best fits `(t1, λ2, λ3)` in least
    squares, b on a grid of 161 points in [−b_max, b_max] and a in closed form."""
    grid = jnp.linspace(-b_max, b_max, 161)
    basis = jnp.stack([norm.cdf(grid), norm.pdf(grid), -grid * norm.pdf(grid)], axis=-1)  # [G, 3]
    obs = jnp.stack([t1, lam2, lam3], axis=-1)  # [m, 3]
    proj = obs @ basis.T  # [m, G]
    sq = jnp.sum(basis**2, axis=-1)
    resid = jnp.sum(obs**2, axis=-1)[:, None] - proj**2 / sq
    best = jnp.argmin(jnp.where(jnp.isnan(resid), jnp.inf, resid), axis=-1)
    return jnp.take_along_axis(proj / sq, best[:, None], axis=-1)[:, 0], grid[best]


def residual(tensors: tuple[Array, ...], v: Array, active: Array) -> Array:
    """`Σ_p ‖T̂p − Σ_j λ_j v_j^{⊗p}‖ / ‖T̂p‖` over the given tensors (p = 2, 3, ...)."""
    total = jnp.zeros((), v.dtype)
    act = active.astype(v.dtype)
    for t in tensors:
        p = t.ndim
        lam = coefficients(t, v, p, active) * act
        letters = "ijkl"[:p]
        fit = jnp.einsum(",".join(f"{c}z" for c in letters) + ",z->" + letters, *([v] * p), lam)
        total = total + jnp.linalg.norm(t - fit) / (jnp.linalg.norm(t) + 1e-30)
    return total


def control_variate(
    source: Source, mean: Array, t1_other: Array, project: Array | None = None
) -> Source:
    """The stream with targets `y − ȳ − ⟨T̂1, x⟩` (the control variate of step 0) and inputs
    projected on `project` where given."""

    def read(start: Array, num: int) -> tuple[Array, Array]:
        xc, yc = source(start, num)
        target = yc - mean - xc @ t1_other
        return (xc if project is None else xc @ project), target

    return read


def subspace(
    m2: Array, units: int, m: int | None, d: int
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """Step 1: `(eigenvalues, order, U [d, units], rank, eigengap, mask [units])` of `M2`, the
    eigenvalues in `order` of decreasing modulus; `mask` keeps the first `rank` directions."""
    evals, evecs = linalg.eigh(m2)
    order = jnp.argsort(-jnp.abs(evals))
    s = jnp.abs(evals[order])
    u = evecs[:, order[:units]]
    ratios = s[:-1] / (s[1:] + 1e-30)
    if m is None:
        top = min(d - 1, units)  # candidate ranks 1..top
        rank = 1 + jnp.argmax(ratios[:top]) if top > 0 else jnp.asarray(1)
        gap = jnp.max(ratios[:top]) if top > 0 else jnp.asarray(jnp.inf)
    else:
        rank = jnp.asarray(units)
        gap = ratios[units - 1] if units < d else jnp.asarray(jnp.inf)
    mask = (jnp.arange(units) < rank).astype(DTYPE)
    return evals, order, u, rank, gap, mask


def pencils(key: Array, tensors: tuple[Array, Array, Array], mask: Array, tries: int) -> tuple:
    """Step 3: Jennrich on `tries` random pencils each of (T4, T4), (T3, T3) and (T3, T2), in
    that order per try; `(V, active, separation, imaginary weight)` stacked over the `3·tries`
    candidates, and their scores (residual + 10 × imaginary weight; NaN scores as inf)."""
    t2p, t3p, t4p = tensors
    units = mask.shape[0]
    g = jax.random.normal(key, (tries, 6, units), DTYPE)
    cands = []
    for r in range(tries):
        al, be, al2, be2, ga, ga2 = g[r]
        a4 = jnp.einsum("ijkl,k,l->ij", t4p, al, be)
        b4 = jnp.einsum("ijkl,k,l->ij", t4p, al2, be2)
        cands.append(jennrich(a4, b4, mask))
        cands.append(jennrich(t3p @ ga, t3p @ ga2, mask))
        cands.append(jennrich(t3p @ ga, t2p, mask))
    cands = jax.tree.map(lambda *c: jnp.stack(c), *cands)
    resid = jax.vmap(lambda v, act: residual((t2p, t3p), v, act))(cands[0], cands[1])
    resid = jnp.where(jnp.isnan(resid), jnp.inf, resid)
    score = resid + 10.0 * jnp.where(jnp.isnan(cands[3]), jnp.inf, cands[3])
    return cands, resid, score


def from_directions(
    v: Array, active: Array, tensors: tuple[Array, Array, Array], u: Array, t1: Array, b_max: float
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Steps 4–5 for one candidate `V` (projected directions as columns): the network (offset
    c = 0) and `λ^{(2..4)}` with `σ_min` of the active directions (`cond`)."""
    t2p, t3p, t4p = tensors
    units = v.shape[1]
    lam2 = coefficients(t2p, v, 2, active)
    lam3 = coefficients(t3p, v, 3, active)
    lam4 = coefficients(t4p, v, 4, active)
    act = active.astype(DTYPE)
    vr = v * act + jnp.eye(units) * (1 - act)  # keep the solve well-posed on masked units
    gram = vr.T @ vr
    t1_coef = linalg.solve(gram + 1e-4 * jnp.eye(units), vr.T @ (u.T @ t1)) * act
    sign = jnp.where(t1_coef * lam2 < 0, -1.0, 1.0)
    v, lam3 = v * sign, lam3 * sign
    a, b = bias_grid(t1_coef, lam2, lam3, b_max)
    a = a * act
    w = u @ v
    w = w / (jnp.linalg.norm(w, axis=0, keepdims=True) + 1e-30)
    cond = linalg.singular_values(v * act[None, :] + jnp.diag(1 - act))[-1]
    state = {"W": w, "a": a, "b": b, "c": jnp.zeros((), DTYPE)}
    lams = {"lambda2": lam2, "lambda3": lam3, "lambda4": lam4, "cond": cond}
    return state, lams


def moments_init(
    key: Array, source: Source, n: int, n1: int, units: int, d: int, s: Settings
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Steps 0–5 on rows `0 .. n` of `source` (the first `n1` estimate M2): the networks of the
    `s.starts` best candidates (stacked) and the diagnostics. Four passes over the stream (first
    moments, M2, projected tensors, the output offsets); memory O(chunk · d + d² + m⁴)."""
    chunk = s.chunk
    mean1, t1_1 = hermite.source_mean(hermite.first_moment_sums, source, 0, n1, chunk)
    mean2, t1_2 = hermite.source_mean(hermite.first_moment_sums, source, n1, n, chunk)
    t1 = (n1 * t1_1 + (n - n1) * t1_2) / n

    # 1. subspace
    m2 = hermite.source_mean(hermite.m2_sums, control_variate(source, mean2, t1_2), 0, n1, chunk)
    evals, order, u, rank, gap, mask = subspace(m2, units, s.m, d)

    # 2. projected tensors from the other part
    projected = control_variate(source, mean1, t1_1, u)
    raw = hermite.source_mean(hermite.raw_moment_sums, projected, n1, n, chunk)
    _, t2p, t3p, t4p = hermite.hermite_tensors(*raw)
    tensors = (t2p, t3p, t4p)

    # 3. Jennrich: keep the `starts` best-fitting pencils
    cands, resid, score = pencils(key, tensors, mask, s.tries)
    picks = jnp.argsort(score)[: s.starts]
    v_all, act_all, sep_all, imag_all = jax.tree.map(lambda c: c[picks], cands)

    # 4.–5. signs and coefficients, for each kept candidate
    states, lams = jax.vmap(lambda v, act: from_directions(v, act, tensors, u, t1, s.b_max))(
        v_all, act_all
    )
    # output offsets c = mean residual over all rows, every start in one pass
    offsets = hermite.source_mean(
        lambda xc, yc: jnp.sum(yc - jax.vmap(apply, in_axes=(0, None))(states, xc), -1),
        source, 0, n, chunk,
    )  # fmt: skip
    states = {**states, "c": offsets}
    info = {
        "m2_eigenvalues": evals[order],
        "eigengap": gap,
        "rank": rank,
        "separation": sep_all[0],
        "separations": cands[2],
        "residuals": resid,
        "candidate": picks[0],
        "start_candidates": picks,
        "imag_weight": imag_all[0],
        "start_cond": lams.pop("cond"),
        "start_active": act_all,
        **{k: val[0] for k, val in lams.items()},
    }
    return states, info
