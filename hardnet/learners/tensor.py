"""`tensor`: method of moments for depth-2 ReLU networks [ATV21 regime] (docs/learners.md).

Model `f(x) = Σ_j a_j σ(⟨w_j, x⟩ + b_j) + c` under `x ~ N(0, I_d)`; its Hermite moments are
`T_p = E[f(x) He_p(x)] = Σ_j a_j c_p(b_j) w_j^{⊗p}` (`hardnet.learners._lib.hermite`). Following
Awasthi, Tang & Vijayaraghavan (NeurIPS 2021) and Jennrich's algorithm (Harshman 1970), in the
steps of docs/learners.md, section `tensor`:

0.–2. Split the rows (each part centred by a control variate from the other), the subspace U of
      the top eigenvectors of `M2 = E[y (x xᵀ − I)]` (rank by the eigengap rule with `m=None`),
      and the projected tensors `T̂2, T̂3, T̂4` of `z = Uᵀx`, streamed (O(N m^4)).
3.    Jennrich on random pencils of `T̂4`, `T̂3` and `(T̂3, T̂2)`, `tries` draws each, ranked by
      the residual of `T̂2, T̂3 ≈ Σ λ v^{⊗p}` plus 10 × the imaginary weight.
4.–5. Directions `ŵ_j = U v_j / ‖U v_j‖` with signs from T1, coefficients `λ^{(p)}` by least
      squares, and per unit `(a, b)` from a bias grid; offset c = mean residual.
      (Steps 0–5: `hardnet.learners._lib.tensor_method`.)
6.    For each of the `starts` best candidates, Adam on (a, b, c), then Levenberg–Marquardt on
      all parameters; keep the best start; then `refine_steps` (or `budget`) Adam steps.
      (`hardnet.learners._lib.tensor_refine`.)

Failure is reported, never raised (NaNs are caught): `info["failed"]` and the bit mask
`info["failure_reason"]` (`FAILURE_BITS`, decode with `describe_failure`):
nonfinite values; the M2 eigengap `|λ_m|/|λ_{m+1}| < gap_tol` (the m-th direction is not above
the noise: with σ_min(W) → 0 a direction of span(W) gets eigenvalue ∝ σ_min²); Jennrich separation
`< sep_tol`; the recovered projected directions `V̂` (unit columns) with `σ_min(V̂) < cond_tol`;
refined train loss `/ Var(y) > fit_tol`. On non-F6 data the pipeline runs unchanged and typically
fails the fit test (it finds no usable structure).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from hardnet.core import validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Source, jit_fit
from hardnet.core.source import array_source, check_source
from hardnet.learners._lib import tensor_method, tensor_refine
from hardnet.learners._lib.tensor_method import Settings

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


def _fit_source(
    s: Settings,
    key: Array,
    source: Source,
    n: int,
    steps: int,
    monitor: Monitor | None,
    minibatch: tensor_refine.Minibatch,
) -> Predictor:
    """Steps 0–6 on rows `0 .. n` of `source`; `minibatch(t, batch)` gives the rows of Adam
    step t (`refine_batch < n`). Every full-data quantity (offsets, losses, Var y) is a
    streamed pass, so memory is O(chunk · d + lm_rows · P) whatever n."""
    d, _ = check_source(NAME, source, 1)
    units = s.m if s.m is not None else min(d, s.m_max)
    if units > d:
        raise ValueError(f"{NAME}: m must be <= d = {d} (input dimension), got m={units}")
    n1 = round(s.split * n)
    if n1 < 2 or n - n1 < 2:
        raise ValueError(f"{NAME}: split={s.split} leaves fewer than 2 rows in a part (N={n})")
    states, info = tensor_method.moments_init(key, source, n, n1, units, d, s)
    objective = tensor_refine.Objective(source, n, s, minibatch)
    return tensor_refine.refine(objective, d, states, info, steps, monitor)


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
    settings = Settings(
        m=m,
        m_max=m_max,
        refine_steps=refine_steps,
        refine_lr=refine_lr,
        freeze_steps=freeze_steps,
        refine_batch=refine_batch,
        lm_steps=lm_steps,
        lm_rows=lm_rows,
        chunk=chunk,
        split=split,
        tries=tries,
        starts=starts,
        b_max=b_max,
        gap_tol=gap_tol,
        sep_tol=sep_tol,
        cond_tol=cond_tol,
        fit_tol=fit_tol,
        log_every=log_every,
    )
    return _learner(settings)


def _learner(s: Settings) -> Learner:
    """The learner at validated settings: `fit`, `fit_online` and `estimate` over `s`."""

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        """Steps 0–6 on the rows of (x, y); `budget` = Adam refinement steps (default
        `refine_steps`); minibatches are rows drawn with replacement."""
        validation.check_xy(NAME, x, y)
        steps = s.refine_steps if budget is None else validation.check_int("budget", budget, low=0)
        x, y = x.astype(jnp.float32), y.astype(jnp.float32)
        refine_key = jax.random.fold_in(key, 1)

        def minibatch(t: Array, batch: int) -> tuple[Array, Array]:
            idx = jax.random.randint(jax.random.fold_in(refine_key, t), (batch,), 0, x.shape[0])
            return x[idx], y[idx]

        return _fit_source(s, key, array_source(x, y), x.shape[0], steps, monitor, minibatch)

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

        return _fit_source(s, key, source, budget, s.refine_steps, monitor, minibatch)

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """M2 (d², with its eigendecomposition), projected rows in chunks, the projected
        tensors (m⁴), and the Levenberg-Marquardt Jacobian on `lm_rows` rows (P = m(d+2)+1
        parameters) with its normal matrix, per start; flops: N·d² for M2, N·m⁴ for T4,
        starts · lm_steps · lm_rows · P² for LM."""
        units = s.m_max if s.m is None else s.m
        params = units * (d + 2) + 1
        lm = min(s.lm_rows, rows)
        work = 4.0 * (3 * d * d + s.chunk * (d + units**3) + 4 * units**4 + lm * params)
        work += 8.0 * params**2
        flops = rows * (d * d + units**4) + s.starts * s.lm_steps * lm * params**2
        return work, flops

    return Learner(
        matmul_precision="highest",  # Gram/moment sums in float32 (core/base.py)
        name=NAME,
        config=dataclasses.asdict(s),
        fit=jit_fit(fit),
        fit_online=fit_online,
        estimate=estimate,
        curves=("lm_loss",),
        first_layer=lambda state: state["W"].T,
        describe_failure=failure_report,
    )
