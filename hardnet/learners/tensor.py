"""`tensor`: method of moments for depth-2 ReLU networks [ATV21 regime] (docs/learners.md).

Model `f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j) + c` under `x ~ N(0, I_d)`; its Hermite moments are
`T_p = E[f(x) He_p(x)] = Σ_j a_j c_p(b_j) w_j^{⊗p}` (`hardnet.learners._lib.hermite`). Following
Awasthi, Tang & Vijayaraghavan (NeurIPS 2021) and Jennrich's algorithm (Harshman 1970):

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
6. Refine (beyond the design's "short gradient phase": Adam alone often pulled good starts away):
   steps 4–5 for each of the `starts` best-scoring pencils (default all `3·tries`); per start
   `freeze_steps` Adam steps on (a, b, c) with W fixed, then `lm_steps` Levenberg–Marquardt steps
   on all parameters over the first `lm_rows` rows (`_lm_refine`; F6 is realizable, so from a
   start in the basin LM reaches the teacher, loss ~1e-14); keep the start with the lowest
   train loss; then `refine_steps` (or `budget`, default 0) Adam steps on minibatches of
   `refine_batch` rows (None: full). Measured, F6 d=16 m=8, N=1e5, seeds 0–2: min cosine 1.000,
   nmse ~2e-14 (with starts=6 at N=3e5 two of three seeds stay in a local minimum).

Failure is reported, never raised (NaNs are caught): `info["failed"]` and the bit mask
`info["failure_reason"]` (`FAILURE_BITS`, decode with `describe_failure`):
nonfinite values; the M2 eigengap `|λ_m|/|λ_{m+1}| < gap_tol` (the m-th direction is not above
the noise: with σ_min(W) → 0 a direction of span(W) gets eigenvalue ∝ σ_min²); Jennrich separation
`< sep_tol`; the recovered projected directions `V̂` (unit columns) with `σ_min(V̂) < cond_tol`;
refined train loss `/ Var(y) > fit_tol`. On non-F6 data the pipeline runs unchanged and typically
fails the fit test (it finds no usable structure).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.scipy.stats import norm

from hardnet.core import linalg, validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Source
from hardnet.core.source import array_source, check_source, read_rows
from hardnet.learners._lib import hermite

NAME = "tensor"
MAX_M = 32  # projected tensors are m^4 floats
FAILURE_BITS = {
    1: "nonfinite values",
    2: "no eigengap: the m-th eigenvalue of M2 is not above the noise",
    4: "Jennrich eigenvalues not separated",
    8: "ill-conditioned recovered directions",
    16: "poor fit after refinement",
}


def describe_failure(code: int) -> list[str]:
    """The reasons encoded in `info["failure_reason"]`."""
    return [text for bit, text in FAILURE_BITS.items() if int(code) & bit]


def failure_report(code: int) -> tuple[list[str], list[str]]:
    """`(failures, flags)` of a failure code (`Learner.describe_failure`): only non-finite
    values void the predictions; the other bits are diagnoses of a scored run (on a PRG
    instance the method "finds no usable structure", and says why)."""
    texts = describe_failure(code)
    if int(code) & 1:
        return [f"failed (info['failed']): {texts[0]}"], texts[1:]
    return [], texts


def _apply(state: dict[str, Array], x: Array) -> Array:
    return jax.nn.relu(x @ state["W"] + state["b"]) @ state["a"] + state["c"]


def _chordal_sep(mu: Array, active: Array) -> Array:
    """Smallest chordal distance between eigenvalues of active units (inf if < 2 active)."""
    diff = jnp.abs(mu[:, None] - mu[None, :])
    norm_ = jnp.sqrt(1 + jnp.abs(mu) ** 2)
    dist = diff / (norm_[:, None] * norm_[None, :])
    pair = active[:, None] & active[None, :] & ~jnp.eye(mu.shape[0], dtype=bool)
    return jnp.min(jnp.where(pair, dist, jnp.inf))


def _jennrich(a_mat: Array, b_mat: Array, mask: Array) -> tuple[Array, Array, Array, Array]:
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
    return v, active, _chordal_sep(mu, active), imag


def _coefficients(t: Array, v: Array, p: int, active: Array) -> Array:
    """Least squares `λ` in `t ≈ Σ_j λ_j v_j^{⊗p}` over active units (0 for the others)."""
    gram = (v.T @ v) ** p
    letters = "ijkl"[:p]
    spec = letters + "," + ",".join(f"{c}z" for c in letters) + "->z"
    rhs = jnp.einsum(spec, t, *([v] * p))
    act = active.astype(v.dtype)
    gram = gram * act[:, None] * act[None, :] + jnp.diag(1.0 - act)
    ridge = 1e-6 * jnp.trace(gram) / v.shape[1]
    return linalg.solve(gram + ridge * jnp.eye(v.shape[1]), rhs * act)


def _bias_grid(t1: Array, lam2: Array, lam3: Array, b_max: float) -> tuple[Array, Array]:
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


def _residual(tensors: tuple[Array, ...], v: Array, active: Array) -> Array:
    """`Σ_p ‖T̂p − Σ_j λ_j v_j^{⊗p}‖ / ‖T̂p‖` over the given tensors (p = 2, 3, ...)."""
    total = jnp.zeros((), v.dtype)
    act = active.astype(v.dtype)
    for t in tensors:
        p = t.ndim
        lam = _coefficients(t, v, p, active) * act
        letters = "ijkl"[:p]
        fit = jnp.einsum(",".join(f"{c}z" for c in letters) + ",z->" + letters, *([v] * p), lam)
        total = total + jnp.linalg.norm(t - fit) / (jnp.linalg.norm(t) + 1e-30)
    return total


def _lm_refine(
    state: dict[str, Array], x: Array, y: Array, active: Array, iters: int, damping: float = 1e-3
) -> tuple[dict[str, Array], Array]:
    """`iters` Levenberg–Marquardt steps on the square loss over all parameters (W, a, b, c).

    Residual `r = f(x) − y`; Jacobian rows `[a_j 1{pre_j>0} x, σ(pre_j), a_j 1{pre_j>0}, 1]`
    (`pre = xW + b`), `d·m + 2m + 1` columns. Step `δ = −(JᵀJ + μ (diag JᵀJ + ε))⁻¹ Jᵀr`; accepted
    iff it lowers the loss, then μ ← μ/3, else μ ← 2μ (Marquardt 1963). Returns (state, losses)."""
    n, d = x.shape
    units = state["W"].shape[1]

    def unpack(theta: Array) -> dict[str, Array]:
        k = d * units
        return {
            "W": theta[:k].reshape(d, units),
            "a": theta[k : k + units],
            "b": theta[k + units : k + 2 * units],
            "c": theta[-1],
        }

    def pack(p: dict[str, Array]) -> Array:
        return jnp.concatenate([p["W"].reshape(-1), p["a"], p["b"], p["c"][None]])

    def loss(theta: Array) -> Array:
        p = unpack(theta)
        return jnp.mean((_apply({**p, "a": p["a"] * active}, x) - y) ** 2)

    def normal_eq(theta: Array) -> tuple[Array, Array]:
        p = unpack(theta)
        pre = x @ p["W"] + p["b"]
        g = (pre > 0) * (p["a"] * active)  # [N, m]
        h = jax.nn.relu(pre) * active
        r = h @ p["a"] + p["c"] - y
        jw = (x[:, :, None] * g[:, None, :]).reshape(n, d * units)
        jac = jnp.concatenate([jw, h, g, jnp.ones((n, 1), x.dtype)], axis=1)
        return jac.T @ jac, jac.T @ r

    def body(carry, _):
        theta, mu, cur = carry
        jtj, jtr = normal_eq(theta)
        diag = jnp.diag(jtj)
        reg = mu * (diag + 1e-6 * jnp.mean(diag) + 1e-12)
        delta = -linalg.solve(jtj + jnp.diag(reg), jtr)
        new = theta + delta
        val = loss(new)
        ok = jnp.isfinite(val) & (val < cur)
        theta = jnp.where(ok, new, theta)
        cur = jnp.where(ok, val, cur)
        mu = jnp.where(ok, mu / 3.0, mu * 2.0)
        return (theta, mu, cur), cur

    theta0 = pack(state)
    carry = (theta0, jnp.asarray(damping, x.dtype), loss(theta0))
    (theta, _, _), losses = jax.lax.scan(body, carry, None, length=iters)
    p = unpack(theta)
    # remove the scale symmetry (w, b, a) → (s w, s b, a / s): unit columns, same function
    scale = jnp.linalg.norm(p["W"], axis=0) + 1e-30
    p = {"W": p["W"] / scale, "a": p["a"] * scale, "b": p["b"] / scale, "c": p["c"]}
    return p, losses


def make(
    m: int | None = None,
    m_max: int = 16,
    refine_steps: int = 0,
    refine_lr: float = 1e-2,
    freeze_steps: int = 300,
    refine_batch: int | None = 8192,
    lm_steps: int = 50,
    lm_rows: int = 20000,
    chunk: int = 4096,
    split: float = 0.5,
    tries: int = 4,
    starts: int | None = None,
    b_max: float = 4.0,
    gap_tol: float = 1.5,
    sep_tol: float = 1e-3,
    cond_tol: float = 1e-2,
    fit_tol: float = 0.05,
    log_every: int | None = None,
) -> Learner:
    """The tensor learner; `fit(key, x, y, budget=None)` with `budget` = refinement steps."""
    if m is not None:
        m = validation.check_int("m", m, low=1, high=MAX_M)
    m_max = validation.check_int("m_max", m_max, low=1, high=MAX_M)
    refine_steps = validation.check_int("refine_steps", refine_steps, low=0)
    freeze_steps = validation.check_int("freeze_steps", freeze_steps, low=0)
    if refine_batch is not None:
        refine_batch = validation.check_int("refine_batch", refine_batch, low=1)
    lm_steps = validation.check_int("lm_steps", lm_steps, low=0)
    lm_rows = validation.check_int("lm_rows", lm_rows, low=1)
    refine_lr = validation.check_float("refine_lr", refine_lr, low=0.0, low_open=True)
    chunk = validation.check_int("chunk", chunk, low=1)
    split = validation.check_float("split", split, low=0.0, low_open=True)
    if split >= 1.0:
        raise ValueError(f"split must be < 1 (a fraction of the rows), got {split}")
    tries = validation.check_int("tries", tries, low=1)
    if starts is None:
        starts = 3 * tries  # every candidate pencil
    starts = validation.check_int("starts", starts, low=1)
    if starts > 3 * tries:
        raise ValueError(f"starts must be <= 3 * tries = {3 * tries} (candidates), got {starts}")
    b_max = validation.check_float("b_max", b_max, low=0.0, low_open=True)
    gap_tol = validation.check_float("gap_tol", gap_tol, low=1.0)
    sep_tol = validation.check_float("sep_tol", sep_tol, low=0.0)
    cond_tol = validation.check_float("cond_tol", cond_tol, low=0.0, high=1.0)
    fit_tol = validation.check_float("fit_tol", fit_tol, low=0.0, low_open=True)
    if log_every is not None:
        log_every = validation.check_int("log_every", log_every, low=1)
    config = {
        "m": m,
        "m_max": m_max,
        "refine_steps": refine_steps,
        "refine_lr": refine_lr,
        "freeze_steps": freeze_steps,
        "refine_batch": refine_batch,
        "lm_steps": lm_steps,
        "lm_rows": lm_rows,
        "chunk": chunk,
        "split": split,
        "tries": tries,
        "starts": starts,
        "b_max": b_max,
        "gap_tol": gap_tol,
        "sep_tol": sep_tol,
        "cond_tol": cond_tol,
        "fit_tol": fit_tol,
        "log_every": log_every,
    }

    def moments_init(
        key: Array, source: Source, n: int, d: int
    ) -> tuple[dict[str, Array], dict[str, Array]]:
        """Steps 0–5 on rows `0 .. n` of `source`: the method-of-moments estimate and its
        diagnostics. Four passes over the stream (first moments, M2, projected tensors, the
        output offsets); memory O(chunk · d + d² + m⁴)."""
        dtype = jnp.float32
        units = m if m is not None else min(d, m_max)
        if units > d:
            raise ValueError(f"{NAME}: m must be <= d = {d} (input dimension), got m={units}")
        n1 = round(split * n)
        if n1 < 2 or n - n1 < 2:
            raise ValueError(f"{NAME}: split={split} leaves fewer than 2 rows in a part (N={n})")
        mean1, t1_1 = hermite.source_mean(hermite.first_moment_sums, source, 0, n1, chunk)
        mean2, t1_2 = hermite.source_mean(hermite.first_moment_sums, source, n1, n, chunk)
        t1 = (n1 * t1_1 + (n - n1) * t1_2) / n

        def residuals(mean: Array, t1_other: Array, project: Array | None = None) -> Source:
            """The stream with targets `y − ȳ − ⟨T̂1, x⟩` (the control variate of step 0) and
            inputs projected on `project` where given."""

            def read(start: Array, num: int) -> tuple[Array, Array]:
                xc, yc = source(start, num)
                target = yc - mean - xc @ t1_other
                return (xc if project is None else xc @ project), target

            return read

        # 1. subspace
        m2 = hermite.source_mean(hermite.m2_sums, residuals(mean2, t1_2), 0, n1, chunk)
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
        mask = (jnp.arange(units) < rank).astype(dtype)

        # 2. projected tensors from the other part
        raw = hermite.source_mean(hermite.raw_moment_sums, residuals(mean1, t1_1, u), n1, n, chunk)
        _, t2p, t3p, t4p = hermite.hermite_tensors(*raw)

        # 3. Jennrich: `tries` random pencils (T4, T4), (T3, T3), (T3, T2); keep the best fit
        g = jax.random.normal(key, (tries, 6, units), dtype)
        cands = []
        for r in range(tries):
            al, be, al2, be2, ga, ga2 = g[r]
            a4 = jnp.einsum("ijkl,k,l->ij", t4p, al, be)
            b4 = jnp.einsum("ijkl,k,l->ij", t4p, al2, be2)
            cands.append(_jennrich(a4, b4, mask))
            cands.append(_jennrich(t3p @ ga, t3p @ ga2, mask))
            cands.append(_jennrich(t3p @ ga, t2p, mask))
        cands = jax.tree.map(lambda *c: jnp.stack(c), *cands)
        resid = jax.vmap(lambda v, act: _residual((t2p, t3p), v, act))(cands[0], cands[1])
        resid = jnp.where(jnp.isnan(resid), jnp.inf, resid)
        score = resid + 10.0 * jnp.where(jnp.isnan(cands[3]), jnp.inf, cands[3])
        picks = jnp.argsort(score)[:starts]  # the `starts` best-fitting pencils
        v_all, act_all, sep_all, imag_all = jax.tree.map(lambda c: c[picks], cands)

        # 4.–5. signs and coefficients, for each kept candidate
        def from_directions(v: Array, active: Array) -> tuple[dict[str, Array], dict[str, Array]]:
            lam2 = _coefficients(t2p, v, 2, active)
            lam3 = _coefficients(t3p, v, 3, active)
            lam4 = _coefficients(t4p, v, 4, active)
            act = active.astype(dtype)
            vr = v * act + jnp.eye(units) * (1 - act)  # keep the solve well-posed on masked units
            gram = vr.T @ vr
            t1_coef = linalg.solve(gram + 1e-4 * jnp.eye(units), vr.T @ (u.T @ t1)) * act
            sign = jnp.where(t1_coef * lam2 < 0, -1.0, 1.0)
            v, lam3 = v * sign, lam3 * sign
            a, b = _bias_grid(t1_coef, lam2, lam3, b_max)
            a = a * act
            w = u @ v
            w = w / (jnp.linalg.norm(w, axis=0, keepdims=True) + 1e-30)
            cond = linalg.singular_values(v * act[None, :] + jnp.diag(1 - act))[-1]
            state = {"W": w, "a": a, "b": b, "c": jnp.zeros((), dtype)}
            lams = {"lambda2": lam2, "lambda3": lam3, "lambda4": lam4, "cond": cond}
            return state, lams

        states, lams = jax.vmap(from_directions)(v_all, act_all)
        # output offsets c = mean residual over all rows, every start in one pass
        offsets = hermite.source_mean(
            lambda xc, yc: jnp.sum(yc - jax.vmap(_apply, in_axes=(0, None))(states, xc), -1),
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

    def fit_source(
        key: Array,
        source: Source,
        n: int,
        steps: int,
        monitor: Monitor | None,
        minibatch: Callable[[Array, int], tuple[Array, Array]],
    ) -> Predictor:
        """Steps 0–6 on rows `0 .. n` of `source`; `minibatch(t, batch)` gives the rows of Adam
        step t (`refine_batch < n`). Every full-data quantity (offsets, losses, Var y) is a
        streamed pass, so memory is O(chunk · d + lm_rows · P) whatever n."""
        d, _ = check_source(NAME, source, 1)
        states, info = moments_init(key, source, n, d)
        dtype = jnp.float32
        batch = n if refine_batch is None else min(refine_batch, n)
        opt = optax.adam(refine_lr)
        rows = min(lm_rows, n)

        def sse(p, act, xb, yb):
            p = {**p, "a": p["a"] * act}
            return jnp.sum((_apply(p, xb) - yb.astype(dtype)) ** 2)

        def loss(p, act):
            """The mean squared error over all n rows (a streamed pass)."""
            return hermite.source_mean(lambda xc, yc: sse(p, act, xc, yc), source, 0, n, chunk)

        def value_and_grad(p, act, t):
            if batch == n:  # full batch: value and gradient summed over chunks of the stream
                stat = lambda xc, yc: jax.value_and_grad(sse)(p, act, xc, yc)
                return hermite.source_mean(stat, source, 0, n, chunk)
            value, grads = jax.value_and_grad(sse)(p, act, *minibatch(t, batch))
            return value / batch, jax.tree.map(lambda g: g / batch, grads)

        def step(carry, t, act, frozen=False):
            p, o = carry
            value, grads = value_and_grad(p, act, t)
            if frozen:  # directions fixed, fit a, b, c
                grads = {**grads, "W": jnp.zeros_like(grads["W"])}
            updates, o = opt.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), value

        def polish(state, act):
            """One start: NaN guard, `freeze_steps` Adam steps on (a, b, c), LM on all."""
            finite0 = jnp.all(jnp.array([jnp.all(jnp.isfinite(t)) for t in jax.tree.leaves(state)]))
            # NaNs do not propagate into the refinement: fall back to a zero network
            safe = jax.tree.map(lambda t: jnp.where(finite0, t, jnp.zeros_like(t)), state)
            safe["W"] = jnp.where(finite0, safe["W"], jnp.eye(d, state["W"].shape[1]))
            frozen = functools.partial(step, act=act, frozen=True)
            carry, _ = jax.lax.scan(frozen, (safe, opt.init(safe)), -1 - jnp.arange(freeze_steps))
            p0 = carry[0]
            p, lm_losses = p0, jnp.zeros((0,), dtype)
            if lm_steps:
                x_lm, y_lm = read_rows(source, rows)
                p, lm_losses = _lm_refine(p0, x_lm.astype(dtype), y_lm.astype(dtype), act, lm_steps)
            return p0, p, lm_losses, loss(p, act), finite0

        acts = info.pop("start_active").astype(dtype)
        conds = info.pop("start_cond")
        p0s, ps, lm_all, final, finite_all = jax.vmap(polish)(states, acts)
        pick = jnp.argmin(jnp.where(jnp.isfinite(final), final, jnp.inf))
        safe, params, lm_losses, finite0, active = jax.tree.map(
            lambda t: t[pick], (p0s, ps, lm_all, finite_all, acts)
        )

        # optional Adam phase (`refine_steps` or `budget`) on the chosen start, with the curves
        every = steps if log_every is None else min(log_every, max(steps, 1))
        segments = steps // every if every > 0 else 0
        tail = steps - segments * every

        def log(p):
            out = {"train_loss": loss(p, active)}
            if monitor is not None:
                q = {**p, "a": p["a"] * active}
                for k, val in monitor(lambda xx: _apply(q, xx), q["W"].T).items():
                    out[f"monitor/{k}"] = val
            return out

        step_act = functools.partial(step, act=active)

        def segment(carry, s):
            carry, _ = jax.lax.scan(step_act, carry, s * every + jnp.arange(every))
            return carry, log(carry[0])

        first = log(params)
        carry, logs = jax.lax.scan(segment, (params, opt.init(params)), jnp.arange(segments))
        if tail:
            carry, _ = jax.lax.scan(step_act, carry, segments * every + jnp.arange(tail))
        params = {**carry[0], "a": carry[0]["a"] * active}
        curves = jax.tree.map(lambda f, r: jnp.concatenate([f[None], r]), first, logs)
        info = {
            **info,
            "active": active > 0,
            "sigma_min_directions": conds[pick],
            "start": pick,
            "start_losses": final,
        }

        mean_y = hermite.source_mean(lambda xc, yc: jnp.sum(yc.astype(dtype)), source, 0, n, chunk)
        var_y = hermite.source_mean(
            lambda xc, yc: jnp.sum((yc.astype(dtype) - mean_y) ** 2), source, 0, n, chunk
        )
        fit_ratio = loss(params, active) / jnp.where(var_y > 0, var_y, 1.0)
        finite = finite0 & jnp.all(
            jnp.array([jnp.all(jnp.isfinite(t)) for t in jax.tree.leaves(params)])
        )
        finite = finite & jnp.isfinite(fit_ratio)
        bits = (
            1 * ~finite
            + 2 * ~(info["eigengap"] >= gap_tol)
            + 4 * ~(info["separation"] >= sep_tol)
            + 8 * ~(info["sigma_min_directions"] >= cond_tol)
            + 16 * ~(fit_ratio <= fit_tol)
        ).astype(jnp.int32)
        params = jax.tree.map(lambda t: jnp.where(finite, t, jnp.zeros_like(t)), params)
        info = {
            **info,
            **curves,
            "init_fit_ratio": loss(safe, active) / jnp.where(var_y > 0, var_y, 1.0),
            "fit_ratio": fit_ratio,
            "lm_loss": lm_losses,
            "failed": bits > 0,
            "failure_reason": bits,
        }
        return Predictor(state=params, info=info, apply=_apply)

    def fit(
        key: Array,
        x: Array,
        y: Array,
        budget: int | None = None,
        monitor: Monitor | None = None,
    ) -> Predictor:
        """Steps 0–6 on the rows of (x, y); `budget` = Adam refinement steps (default
        `refine_steps`); minibatches are rows drawn with replacement."""
        validation.check_xy(NAME, x, y)
        steps = refine_steps if budget is None else validation.check_int("budget", budget, low=0)
        x, y = x.astype(jnp.float32), y.astype(jnp.float32)
        refine_key = jax.random.fold_in(key, 1)

        def minibatch(t: Array, batch: int) -> tuple[Array, Array]:
            idx = jax.random.randint(jax.random.fold_in(refine_key, t), (batch,), 0, x.shape[0])
            return x[idx], y[idx]

        return fit_source(key, array_source(x, y), x.shape[0], steps, monitor, minibatch)

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Steps 0–6 on rows `0 .. budget` of an i.i.d. stream, read again for every pass;
        `refine_steps` Adam steps, each on `refine_batch` consecutive rows from a random offset
        (on an i.i.d. stream, a random minibatch)."""
        budget = validation.check_int("budget", budget, low=4)
        refine_key = jax.random.fold_in(key, 1)

        def minibatch(t: Array, batch: int) -> tuple[Array, Array]:
            start = jax.random.randint(jax.random.fold_in(refine_key, t), (), 0, budget - batch + 1)
            return source(start, batch)

        return fit_source(key, source, budget, refine_steps, monitor, minibatch)

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """M2 (d², with its eigendecomposition), projected rows in chunks, the projected
        tensors (m⁴), and the Levenberg-Marquardt Jacobian on `lm_rows` rows (P = m(d+2)+1
        parameters) with its normal matrix, per start; flops: N·d² for M2, N·m⁴ for T4,
        starts · lm_steps · lm_rows · P² for LM."""
        units = m_max if m is None else m
        params = units * (d + 2) + 1
        lm = min(lm_rows, rows)
        work = 4.0 * (3 * d * d + chunk * (d + units**3) + 4 * units**4 + lm * params)
        work += 8.0 * params**2
        flops = rows * (d * d + units**4) + starts * lm_steps * lm * params**2
        return work, flops

    return Learner(
        name=NAME,
        config=config,
        fit=fit,
        fit_online=fit_online,
        vmappable=True,
        estimate=estimate,
        curves=("lm_loss",),
        first_layer=lambda state: state["W"].T,
        describe_failure=failure_report,
    )
