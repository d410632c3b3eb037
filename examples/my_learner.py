"""A new learner in under 50 lines: ridge regression on random ReLU features (Rahimi & Recht 2007).

    f(x) = relu(x W + b)·w + c,  W ~ N(0, 1/d)^{d×width}, b ~ N(0, 1) drawn from the key, fixed;
    w = (G + λ tr(G)/width I)^{-1} Φ_cᵀ(y − ȳ)/N, G = Φ_cᵀΦ_c/N (Φ_c: centred features), c = ȳ − Φ̄w
Importing this file registers it as `random_relu`; it is also a config (ARG as in single.py):
    hardnet-bench --config=examples/my_learner.py[:ARG] --workdir=/tmp/mine
"""

import jax
import jax.numpy as jnp

from hardnet import learners
from hardnet.configs import single
from hardnet.core import validation
from hardnet.core.base import Learner, Predictor


def make(width: int = 512, ridge: float = 1e-3) -> Learner:
    """Validate the hyperparameters now (ValueError naming them); `fit` is pure and vmaps."""
    width = validation.check_int("width", width, low=1)
    ridge = validation.check_float("ridge", ridge, low=0.0, low_open=True)
    apply = lambda state, x: jax.nn.relu(x @ state["W"] + state["b"]) @ state["w"] + state["c"]

    def fit(key, x, y, budget=None, monitor=None) -> Predictor:
        validation.check_xy("random_relu.fit", x, y)
        x, y = x[:budget], y[:budget]  # budget: the number of training rows (None: all)
        d = x.shape[-1]
        w_in = jax.random.normal(jax.random.fold_in(key, 0), (d, width)) / jnp.sqrt(d)
        b = jax.random.normal(jax.random.fold_in(key, 1), (width,))
        phi = jax.nn.relu(x @ w_in + b)
        pc, yc = phi - phi.mean(0), y - y.mean()  # centred: the intercept c is not penalized
        gram = pc.T @ pc / x.shape[0]
        lhs = gram + ridge * jnp.trace(gram) / width * jnp.eye(width)
        w = jax.scipy.linalg.solve(lhs, pc.T @ yc / x.shape[0], assume_a="pos")
        state = {"W": w_in, "b": b, "w": w, "c": y.mean() - phi.mean(0) @ w}
        predictor = Predictor(state, {"train_mse": jnp.mean((apply(state, x) - y) ** 2)}, apply)
        if monitor is not None:  # log what the runner asks for, once (no training curve here)
            predictor.info.update({k: v[None] for k, v in monitor(predictor, None).items()})
        return predictor

    return Learner(name="random_relu", config={"width": width, "ridge": ridge}, fit=fit)


learners.register("random_relu", make, "ridge regression on random ReLU features (example)")


def get_config(arg: str | None = None):
    """The grid that `hardnet-bench --config=examples/my_learner.py[:ARG]` runs."""
    return single.get_config(arg or "family=easy_depth2,learner=random_relu")
