"""The refinement of the `tensor` learner: step 6 of docs/learners.md, section `tensor`, and its
failure diagnosis.

6. (Beyond the design's "short gradient phase": Adam alone often pulled good starts away.) For
   each of the `starts` networks of steps 4–5 (`tensor_method`), `freeze_steps` Adam steps on
   (a, b, c) with W fixed, then `lm_steps` Levenberg–Marquardt steps on all parameters over the
   first `lm_rows` rows (`lm_refine`; F6 is realizable, so from a start in the basin LM reaches
   the teacher, loss ~1e-14); keep the start with the lowest train loss; then `refine_steps` (or
   `budget`, default 0) Adam steps on minibatches of `refine_batch` rows (None: full). Measured,
   F6 d=16 m=8, N=1e5, seeds 0–2: min cosine 1.000, nmse ~2e-14 (with starts=6 at N=3e5 two of
   three seeds stay in a local minimum).

Failure bits (`hardnet.learners.tensor.FAILURE_BITS`): 1 non-finite values, 2 M2 eigengap
`< gap_tol`, 4 Jennrich separation `< sep_tol`, 8 `σ_min(V̂) < cond_tol`, 16 refined train loss
`/ Var(y) > fit_tol`. Every full-data quantity (offsets, losses, Var y) is a streamed pass, so
memory is O(chunk · d + lm_rows · P) whatever the number of rows. Not part of the public API.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from hardnet.core import linalg
from hardnet.core.base import Array, Monitor, Predictor, Source
from hardnet.core.source import read_rows
from hardnet.learners._lib import hermite
from hardnet.learners._lib.tensor_method import DTYPE, Settings, apply

Minibatch = Callable[[Array, int], tuple[Array, Array]]  # (step t, batch) -> rows of step t


def lm_refine(
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
        return jnp.mean((apply({**p, "a": p["a"] * active}, x) - y) ** 2)

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


def _all_finite(tree) -> Array:
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(t)) for t in jax.tree.leaves(tree)]))


@dataclasses.dataclass(frozen=True)
class Objective:
    """The square loss on rows `0 .. n` of `source` and Adam steps on it. `minibatch(t, batch)`
    gives the rows of Adam step t when `refine_batch < n`; otherwise a step's value and gradient
    are summed over chunks of the stream (full batch)."""

    source: Source
    n: int
    s: Settings
    minibatch: Minibatch

    @property
    def batch(self) -> int:
        return self.n if self.s.refine_batch is None else min(self.s.refine_batch, self.n)

    @property
    def opt(self) -> optax.GradientTransformation:
        return optax.adam(self.s.refine_lr)

    def mean(self, stat: Callable[[Array, Array], Any]) -> Any:
        """`Σ_chunks stat(x_c, y_c) / n` over the rows (a streamed pass)."""
        return hermite.source_mean(stat, self.source, 0, self.n, self.s.chunk)

    def sse(self, p, act, xb, yb):
        """The summed squared error of the network `p` (units masked by `act`) on a batch."""
        p = {**p, "a": p["a"] * act}
        return jnp.sum((apply(p, xb) - yb.astype(DTYPE)) ** 2)

    def loss(self, p, act):
        """The mean squared error over all n rows (a streamed pass)."""
        return self.mean(lambda xc, yc: self.sse(p, act, xc, yc))

    def value_and_grad(self, p, act, t):
        """The mean squared error of Adam step t's rows and its gradient."""
        batch = self.batch
        if batch == self.n:  # full batch: value and gradient summed over chunks of the stream
            return self.mean(lambda xc, yc: jax.value_and_grad(self.sse)(p, act, xc, yc))
        value, grads = jax.value_and_grad(self.sse)(p, act, *self.minibatch(t, batch))
        return value / batch, jax.tree.map(lambda g: g / batch, grads)

    def step(self, carry, t, act, frozen=False):
        """Adam step t on `carry = (params, optimizer state)`; `frozen` keeps W fixed."""
        p, o = carry
        value, grads = self.value_and_grad(p, act, t)
        if frozen:  # directions fixed, fit a, b, c
            grads = {**grads, "W": jnp.zeros_like(grads["W"])}
        updates, o = self.opt.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), value


def polish(obj: Objective, d: int, state: dict[str, Array], act: Array) -> tuple:
    """One start: NaN guard, `freeze_steps` Adam steps on (a, b, c), LM on all parameters.
    Returns (after Adam, after LM, LM losses, train loss, whether the start was finite)."""
    s = obj.s
    finite0 = _all_finite(state)
    # NaNs do not propagate into the refinement: fall back to a zero network
    safe = jax.tree.map(lambda t: jnp.where(finite0, t, jnp.zeros_like(t)), state)
    safe["W"] = jnp.where(finite0, safe["W"], jnp.eye(d, state["W"].shape[1]))
    frozen = functools.partial(obj.step, act=act, frozen=True)
    carry, _ = jax.lax.scan(frozen, (safe, obj.opt.init(safe)), -1 - jnp.arange(s.freeze_steps))
    p0 = carry[0]
    p, lm_losses = p0, jnp.zeros((0,), DTYPE)
    if s.lm_steps:
        x_lm, y_lm = read_rows(obj.source, min(s.lm_rows, obj.n))
        p, lm_losses = lm_refine(p0, x_lm.astype(DTYPE), y_lm.astype(DTYPE), act, s.lm_steps)
    return p0, p, lm_losses, obj.loss(p, act), finite0


def adam_phase(
    obj: Objective, params: dict[str, Array], active: Array, steps: int, monitor: Monitor | None
) -> tuple[dict[str, Array], dict[str, Array]]:
    """`steps` Adam steps on the chosen start: (params with inactive units zeroed, curves of the
    train loss and the monitor at every `log_every` steps, starting before the first)."""
    log_every = obj.s.log_every
    every = steps if log_every is None else min(log_every, max(steps, 1))
    segments = steps // every if every > 0 else 0
    tail = steps - segments * every

    def log(p):
        out = {"train_loss": obj.loss(p, active)}
        if monitor is not None:
            q = {**p, "a": p["a"] * active}
            for k, val in monitor(lambda xx: apply(q, xx), q["W"].T).items():
                out[f"monitor/{k}"] = val
        return out

    step_act = functools.partial(obj.step, act=active)

    def segment(carry, s):
        carry, _ = jax.lax.scan(step_act, carry, s * every + jnp.arange(every))
        return carry, log(carry[0])

    first = log(params)
    carry, logs = jax.lax.scan(segment, (params, obj.opt.init(params)), jnp.arange(segments))
    if tail:
        carry, _ = jax.lax.scan(step_act, carry, segments * every + jnp.arange(tail))
    params = {**carry[0], "a": carry[0]["a"] * active}
    curves = jax.tree.map(lambda f, r: jnp.concatenate([f[None], r]), first, logs)
    return params, curves


def refine(
    obj: Objective,
    d: int,
    states: dict[str, Array],
    info: dict[str, Array],
    steps: int,
    monitor: Monitor | None,
) -> Predictor:
    """Step 6 on the stacked starts `states` of `tensor_method.moments_init` (with its `info`),
    then the failure diagnosis: the predictor (zeros where non-finite) and its info."""
    s = obj.s
    acts = info.pop("start_active").astype(DTYPE)
    conds = info.pop("start_cond")
    p0s, ps, lm_all, final, finite_all = jax.vmap(functools.partial(polish, obj, d))(states, acts)
    pick = jnp.argmin(jnp.where(jnp.isfinite(final), final, jnp.inf))
    safe, params, lm_losses, finite0, active = jax.tree.map(
        lambda t: t[pick], (p0s, ps, lm_all, finite_all, acts)
    )

    # optional Adam phase (`refine_steps` or `budget`) on the chosen start, with the curves
    params, curves = adam_phase(obj, params, active, steps, monitor)
    info = {
        **info,
        "active": active > 0,
        "sigma_min_directions": conds[pick],
        "start": pick,
        "start_losses": final,
    }

    mean_y = obj.mean(lambda xc, yc: jnp.sum(yc.astype(DTYPE)))
    var_y = obj.mean(lambda xc, yc: jnp.sum((yc.astype(DTYPE) - mean_y) ** 2))
    fit_ratio = obj.loss(params, active) / jnp.where(var_y > 0, var_y, 1.0)
    finite = finite0 & _all_finite(params)
    finite = finite & jnp.isfinite(fit_ratio)
    bits = (
        1 * ~finite
        + 2 * ~(info["eigengap"] >= s.gap_tol)
        + 4 * ~(info["separation"] >= s.sep_tol)
        + 8 * ~(info["sigma_min_directions"] >= s.cond_tol)
        + 16 * ~(fit_ratio <= s.fit_tol)
    ).astype(jnp.int32)
    params = jax.tree.map(lambda t: jnp.where(finite, t, jnp.zeros_like(t)), params)
    info = {
        **info,
        **curves,
        "init_fit_ratio": obj.loss(safe, active) / jnp.where(var_y > 0, var_y, 1.0),
        "fit_ratio": fit_ratio,
        "lm_loss": lm_losses,
        "failed": bits > 0,
        "failure_reason": bits,
    }
    return Predictor(state=params, info=info, apply=apply)
