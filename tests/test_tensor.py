"""`tensor` learner (Hermite method of moments, [ATV21 regime]): coefficients, streamed moment
estimators, recovery on F6, failure reporting on the degenerate variant, vmap, PRG input, checks.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hardnet import instances, learners
from hardnet.analysis import metrics
from hardnet.learners import tensor
from hardnet.learners._lib import hermite


@functools.cache
def _f6(d=16, m=8, degenerate=False, seed=0, num=20000):
    inst = instances.make("easy_depth2", d=d, m=m, degenerate=degenerate)
    params = inst.init(jax.random.key(seed))
    x, y, _ = jax.jit(inst.sample, static_argnums=2)(params, jax.random.key(100 + seed), num)
    return inst, params, x, y


def test_coefficients_match_monte_carlo():
    g = np.random.default_rng(0).standard_normal(2_000_000)
    he = [np.ones_like(g), g, g**2 - 1, g**3 - 3 * g, g**4 - 6 * g**2 + 3]
    for b in (-1.3, -0.2, 0.5, 1.1):
        c = np.asarray(hermite.coefficients(jnp.float32(b)))
        relu = np.maximum(g + b, 0)
        for p in range(5):
            vals = relu * he[p]
            stderr = vals.std() / np.sqrt(g.size)
            assert abs(c[p] - vals.mean()) < 5 * stderr + 1e-5, (b, p, c[p], vals.mean())


def test_streamed_estimators_match_closed_form():
    """Each estimate is within 4 standard errors (Frobenius) of `Σ a_j c_p(b_j) w_j^{⊗p}`
    contracted; the standard error is measured from the spread over 8 disjoint parts."""
    _, params, x, y = _f6(d=6, m=3, num=400_000)
    mean, t1 = hermite.first_moments(x, y, 8192)
    y = y - mean - x @ t1  # degree-0,1 control variate: same T2..T4, lower variance
    w, a, b = params["W"], params["a"], params["b"]
    ka, kb = jax.random.split(jax.random.key(3))
    alpha, beta = jax.random.normal(ka, (6,)), jax.random.normal(kb, (6,))
    exact = {
        2: hermite.closed_form(w, a, b, 2),
        3: jnp.einsum("ijk,k->ij", hermite.closed_form(w, a, b, 3), alpha),
        4: jnp.einsum("ijkl,k,l->ij", hermite.closed_form(w, a, b, 4), alpha, beta),
    }

    @jax.jit
    def estimates(x, y):
        _, t2, t3, t4 = hermite.projected_tensors(x, y, 8192)
        streamed = {
            2: hermite.m2(x, y, 8192),
            3: hermite.t3_contract(x, y, alpha, 8192),
            4: hermite.t4_contract(x, y, alpha, beta, 8192),
        }
        full = {
            2: t2,
            3: jnp.einsum("ijk,k->ij", t3, alpha),
            4: jnp.einsum("ijkl,k,l->ij", t4, alpha, beta),
        }
        return streamed, full

    streamed, full = estimates(x, y)
    parts = jax.vmap(estimates)(x.reshape(8, -1, 6), y.reshape(8, -1))[0]
    for p in (2, 3, 4):
        se = np.sqrt(np.sum(np.var(np.asarray(parts[p]), axis=0, ddof=1)) / 8)
        err = float(jnp.linalg.norm(streamed[p] - exact[p]))
        assert err < 4 * se, (p, err, se)
        assert se < 0.06, (p, se)  # not vacuous: the estimates are tight
        # the projected (full-tensor) estimator with U = I agrees with the contraction
        np.testing.assert_allclose(np.asarray(full[p]), np.asarray(streamed[p]), atol=1e-3)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_recovers_f6_directions(seed):
    """F6 d=16, m=8, N=1e5: every teacher direction at cosine ≥ 0.99 and test nmse ≤ 0.01 (the
    multi-start Levenberg–Marquardt polish reaches the teacher: nmse ~1e-14).

    The seeds are those whose outcome does not depend on float rounding. Probed on an AMD EPYC by
    changing only the chunk of the streamed moment pass (1024, 2048, 3000, 4096, 8192 rows):
    seeds 3, 4 and 5 reach the teacher at every chunk (fit ratio ≤ 1.3e-5); seeds 0, 1 and 2
    reach it at some chunks and a local minimum at others (one direction at cosine 0.43–0.96,
    fit ratio 3e-3–1.3e-2), and seed 2 did so at the default chunk on this processor but not on
    an Intel Xeon (docs/learners.md, `tensor`)."""
    inst, params, x, y = _f6(seed=seed, num=100_000)
    pred = _fit_f6(jax.random.key(7), x, y)
    xt, yt, _ = inst.sample(params, jax.random.key(999), 20000)
    cos = metrics.best_cosines(pred.state["W"].T, params["W"])
    assert float(jnp.min(cos)) >= 0.99, np.asarray(cos)
    assert float(metrics.nmse(pred(xt), yt)) <= 0.01
    assert float(pred.info["fit_ratio"]) <= 1e-4
    assert int(pred.info["failure_reason"]) & 16 == 0


_fit_f6 = jax.jit(learners.make("tensor", m=8, b_max=2.0, lm_rows=10000).fit)


def test_degenerate_variant_reports_failure():
    _, _, x, y = _f6(degenerate=True, num=50000)
    pred = jax.jit(learners.make("tensor", m=8, tries=1, refine_steps=200).fit)(
        jax.random.key(0), x, y
    )
    assert bool(pred.info["failed"])
    assert int(pred.info["failure_reason"]) != 0
    assert tensor.describe_failure(int(pred.info["failure_reason"]))
    assert all(np.all(np.isfinite(np.asarray(t))) for t in jax.tree.leaves(pred.state))


def test_vmap_equals_separate_runs():
    inst = instances.make("easy_depth2", d=8, m=3)
    keys = jax.random.split(jax.random.key(1), 3)
    params = jax.vmap(inst.init)(keys)
    x, y, _ = jax.vmap(lambda p, k: inst.sample(p, k, 4000))(params, keys)
    fit = learners.make(
        "tensor",
        m=3,
        tries=1,
        starts=2,
        lm_steps=0,  # LM steps agree only to ~1e-2 under vmap (ill-conditioned solve)
        refine_steps=50,
        freeze_steps=20,
        refine_batch=512,
    ).fit
    batched = jax.jit(jax.vmap(fit))(keys, x, y)
    single = jax.jit(fit)
    for s in range(3):
        one = single(keys[s], x[s], y[s])
        for u, v in zip(jax.tree.leaves(one.state), jax.tree.leaves(batched.state), strict=True):
            np.testing.assert_allclose(np.asarray(u), np.asarray(v[s]), rtol=2e-3, atol=2e-4)
        assert bool(one.info["failed"]) == bool(batched.info["failed"][s])


def test_runs_on_prg_instance():
    inst = instances.make("prg_gauss3_smoothed", n=8, k=3, predicate="xor", tau=0.0)
    params = inst.init(jax.random.key(0))
    x, y, _ = inst.sample(params, jax.random.key(1), 8000)
    assert x.shape[1] == 9
    pred = jax.jit(
        learners.make("tensor", m=4, tries=1, starts=1, lm_steps=5, refine_steps=50).fit
    )(jax.random.key(2), x, y)
    assert pred.state["W"].shape == (9, 4)
    assert np.all(np.isfinite(np.asarray(pred(x[:100]))))
    assert pred.info["failed"].dtype == bool


def test_m_none_uses_eigengap():
    _, _, x, y = _f6(d=8, m=3, num=100_000)
    pred = jax.jit(
        learners.make("tensor", m=None, m_max=6, tries=1, lm_steps=5, refine_steps=10).fit
    )(jax.random.key(0), x, y)
    assert int(pred.info["rank"]) == 3
    assert int(jnp.sum(pred.info["active"])) == 3
    assert pred.state["W"].shape == (8, 6)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"m": 0}, "m"),
        ({"m": 40}, "m"),
        ({"m_max": 0}, "m_max"),
        ({"refine_steps": -1}, "refine_steps"),
        ({"refine_lr": 0.0}, "refine_lr"),
        ({"chunk": 0}, "chunk"),
        ({"split": 1.0}, "split"),
        ({"split": 0.0}, "split"),
        ({"tries": 0}, "tries"),
        ({"starts": 0}, "starts"),
        ({"tries": 1, "starts": 4}, "starts"),
        ({"lm_steps": -1}, "lm_steps"),
        ({"lm_rows": 0}, "lm_rows"),
        ({"refine_batch": 0}, "refine_batch"),
        ({"fit_tol": -1.0}, "fit_tol"),
    ],
)
def test_bad_hyperparameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        learners.make("tensor", **kwargs)


def test_m_larger_than_d_raises():
    x = jnp.zeros((100, 4))
    with pytest.raises(ValueError, match="m must be <= d"):
        learners.make("tensor", m=5).fit(jax.random.key(0), x, x[:, 0])


def _f6_source(seed=0, d=16, m=8):
    """The F6 training stream of seed `seed` as a `Source` (rows drawn from their keys)."""
    inst = instances.make("easy_depth2", d=d, m=m)
    params = inst.init(jax.random.key(seed))

    def source(start, num):
        x, y, _ = inst.sample(params, jax.random.key(100 + seed), num, start)
        return x, y

    return inst, params, source


def test_fit_online_reads_the_stream_and_recovers_f6():
    """fit_online on the F6 stream (rows regenerated on every pass, never held) recovers every
    direction at cosine ≥ 0.99; its moments equal those of `fit` on the same rows held in
    memory, and so do its predictions (the Adam minibatches differ: offsets vs indices)."""
    _, params, source = _f6_source(seed=1)
    learner = learners.make("tensor", m=8, b_max=2.0, lm_rows=10000, chunk=4096)
    streamed = jax.jit(lambda k: learner.fit_online(k, source, 100_000))(jax.random.key(7))
    cos = metrics.best_cosines(streamed.state["W"].T, params["W"])
    assert float(jnp.min(cos)) >= 0.99, np.asarray(cos)
    held = _fit_f6(jax.random.key(7), *source(0, 100_000))
    xt, yt = source(10**6, 20000)  # rows beyond the budget: a test set
    assert float(metrics.nmse(streamed(xt), yt)) <= 0.01
    assert float(metrics.nmse(streamed(xt), held(xt))) <= 0.01  # same fit, up to the minibatches
    np.testing.assert_allclose(streamed.info["m2_eigenvalues"], held.info["m2_eigenvalues"],
                               rtol=1e-4, atol=1e-6)  # fmt: skip


def test_fit_online_memory_does_not_grow_with_the_budget():
    """Compiled (not run) at 10⁵ and 10⁷ rows: the same temporaries (mostly the Levenberg–
    Marquardt Jacobians of the starts, on `lm_rows` rows), less than the 10⁷ rows would take."""
    _, _, source = _f6_source()
    learner = learners.make("tensor", m=8)

    def temp_bytes(num):
        fit = jax.jit(lambda k: learner.fit_online(k, source, num).state["W"])
        return fit.lower(jax.random.key(0)).compile().memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(100_000), temp_bytes(10_000_000)
    assert large < 1.1 * small + 2**20, (small, large)
    assert large < 10_000_000 * 16 * 4  # the rows alone, held, would take more
