"""`sgd`: MLPs trained by optax gradient methods, online or on a finite sample (docs/learners.md).

Model (`hardnet.learners._lib.mlp`): `depth` hidden layers of `width` units, a scalar readout
`f(x)`.
Objective on a minibatch B:

    square:    L(θ) = (1/|B|) Σ_{i∈B} (f_θ(x_i) − y_i)²                   predict f_θ(x)
    logistic:  L(θ) = (1/|B|) Σ_{i∈B} −y_i log s(f_θ) − (1 − y_i) log(1 − s(f_θ)),
               s the sigmoid, labels y ∈ [0, 1]                            predict s(f_θ(x))

Optimizers (optax): `sgd` (heavy-ball momentum, `momentum=0` is plain SGD), `adam`, `adamw`
(decoupled weight decay); for `sgd` and `adam`, `weight_decay` adds the L2 gradient `λθ`.
Learning-rate schedules over the T steps of a run: `constant` η; `cosine`
`η_t = η (1 + cos(π t/T))/2`; `warmup_cosine`, linear from 0 to η over `warmup_fraction · T`
steps, then cosine decay to 0.

Regimes (fixed iteration counts, one `lax.scan`; `jax.vmap` over (key, x, y) trains seeds at once):
- finite, `fit(key, x, y, budget=None, monitor=None)`: `budget` optimizer steps (default
  `steps`), each on `batch_size` rows drawn uniformly with replacement from the training set
  (the whole set every step when `batch_size ≥ num`: full-batch gradient descent).
- online, `fit_online(key, source, budget, monitor=None)`: `budget` samples in all, i.e.
  `budget // batch_size` steps, step t on the fresh batch of rows `t·batch_size ..
  (t+1)·batch_size` of the stream (`source(start, num)`, `hardnet.core.base.Source`); memory is
  O(batch), independent of `budget`. Seeds of the learner see the same stream (they differ in
  their initialization), as they see the same sample in the finite regime.
`regime` chooses what `fit_online` (the benchmark runner's entry point) does with a stream:
`online` (the default: the budget is the number of samples seen) or `finite` (the budget is the
size of a fixed training set, rows `0 .. budget`, revisited for `steps` steps). A finite set up
to `hold_bytes` is drawn once and held, and training on it is exactly `fit`; a larger one is
never held: step t reads `batch_size` consecutive rows from a uniformly random offset, re-drawn
from their keys (rows of an i.i.d. stream, so a random minibatch of the set; memory O(batch)).

Logged at step 0, every `log_every` steps and at the last step (`info[...]` has one entry per log
point): `step`; `train_loss`, the objective on a fixed monitoring batch (the first `eval_size`
training rows, in both regimes); the weight
movement `‖θ_t − θ_0‖₂` over all parameters; and the outputs of
`monitor(predict, first_layer_rows[width, d])` (e.g. test losses, or teacher alignment
`hardnet.analysis.metrics.best_cosines(rows, W)` on F6). `info["diverged"]` is True when a training
loss, a logged loss or a final parameter is NaN/inf: the run does not raise, the runner records it
as failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax import lax

from hardnet.core import validation
from hardnet.core.base import Array, Learner, Monitor, Predictor, Source, jit_fit
from hardnet.core.source import check_source, read_rows
from hardnet.learners._lib.mlp import ACTIVATIONS, Network

NAME = "sgd"
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
LOSSES = ("square", "logistic")
REGIMES = ("online", "finite")
RESERVED = ("step", "train_loss", "weight_movement", "diverged")


def make(
    depth: int = 2,
    width: int = 256,
    activation: str = "relu",
    optimizer: str = "adam",
    learning_rate: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    warmup_fraction: float = 0.05,
    loss: str = "square",
    batch_size: int = 256,
    steps: int = 2000,
    log_every: int = 100,
    init_scale: float = 1.0,
    eval_size: int = 1024,
    regime: str = "online",
    hold_bytes: int = 2**28,
) -> Learner:
    """The `sgd` learner at validated hyperparameters (see the module docstring)."""
    # Long: by design (docs/learners.md, The learner contract): a factory whose fit, fit_online
    # and estimate are closures over the validated hyperparameters and the helpers below.
    config = {
        "depth": validation.check_int("depth", depth, low=1),
        "width": validation.check_int("width", width, low=1),
        "activation": validation.check_choice("activation", activation, ACTIVATIONS),
        "optimizer": validation.check_choice("optimizer", optimizer, OPTIMIZERS),
        "learning_rate": validation.check_float(
            "learning_rate", learning_rate, low=0.0, low_open=True
        ),
        "momentum": validation.check_float("momentum", momentum, low=0.0),
        "weight_decay": validation.check_float("weight_decay", weight_decay, low=0.0),
        "schedule": validation.check_choice("schedule", schedule, SCHEDULES),
        "warmup_fraction": validation.check_float("warmup_fraction", warmup_fraction, low=0.0),
        "loss": validation.check_choice("loss", loss, LOSSES),
        "batch_size": validation.check_int("batch_size", batch_size, low=1),
        "steps": validation.check_int("steps", steps, low=1),
        "log_every": validation.check_int("log_every", log_every, low=1),
        "init_scale": validation.check_float("init_scale", init_scale, low=0.0),
        "eval_size": validation.check_int("eval_size", eval_size, low=1),
        "regime": validation.check_choice("regime", regime, REGIMES),
        "hold_bytes": validation.check_int("hold_bytes", hold_bytes, low=0),
    }
    if config["momentum"] >= 1.0:
        raise ValueError(f"momentum must be < 1, got {config['momentum']}")
    if config["warmup_fraction"] >= 1.0:
        raise ValueError(f"warmup_fraction must be < 1, got {config['warmup_fraction']}")
    net = Network(config["depth"], config["width"], config["activation"], config["init_scale"])
    lr, batch = config["learning_rate"], config["batch_size"]
    logistic = config["loss"] == "logistic"

    def apply(state: Any, x: Array) -> Array:
        f = net.forward(state, x)
        return jax.nn.sigmoid(f) if logistic else f

    def objective(state: Any, x: Array, y: Array) -> Array:
        f = net.forward(state, x)
        y = y.astype(f.dtype)
        if logistic:
            return jnp.mean(optax.sigmoid_binary_cross_entropy(f, y))
        return jnp.mean((f - y) ** 2)

    def transform(num_steps: int) -> optax.GradientTransformation:
        if config["schedule"] == "constant":
            rate: Any = lr
        elif config["schedule"] == "cosine":
            rate = optax.cosine_decay_schedule(lr, num_steps)
        else:
            warmup = int(config["warmup_fraction"] * num_steps)
            rate = optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(num_steps, warmup + 1))
        decay = config["weight_decay"]
        if config["optimizer"] == "adamw":
            return optax.adamw(rate, weight_decay=decay)
        base = (
            optax.adam(rate)
            if config["optimizer"] == "adam"
            else optax.sgd(rate, momentum=config["momentum"] or None)
        )
        return optax.chain(optax.add_decayed_weights(decay), base) if decay > 0 else base

    def train(
        key: Array,
        d: int,
        num_steps: int,
        draw: Callable[[Array, Array], tuple[Array, Array]],
        monitor_batch: tuple[Array, Array],
        monitor: Monitor | None,
    ) -> Predictor:
        """`num_steps` optimizer steps on batches `draw(key_data, t)`, logging every
        `log_every` steps; a scan over log points, so memory does not grow with `num_steps`."""
        k_init, k_data = jax.random.split(key)
        params0 = net.init(k_init, d)
        tx = transform(num_steps)

        def step(carry):
            params, opt, t, bad = carry
            xb, yb = draw(k_data, t)
            value, grads = jax.value_and_grad(objective)(params, xb, yb)
            updates, opt = tx.update(grads, opt, params)
            params = optax.apply_updates(params, updates)
            return params, opt, t + 1, bad | ~jnp.isfinite(value)

        def log(params, t):
            moved = jax.tree.map(lambda a, b: a - b, params, params0)
            out = {
                "step": t,
                "train_loss": objective(params, *monitor_batch),
                "weight_movement": jnp.sqrt(sum(jnp.sum(v**2) for v in jax.tree.leaves(moved))),
            }
            if monitor is not None:
                extra = monitor(lambda x: apply(params, x), net.first_layer(params))
                clash = sorted(set(extra) & set(RESERVED))
                if clash:
                    raise ValueError(f"{NAME}: monitor output names {clash} are reserved")
                out.update({k: jnp.asarray(v) for k, v in extra.items()})
            return out

        # log point b follows step min(b · log_every, num_steps): the steps in between run in a
        # while loop whose trip count depends on b alone (never on data), so step and log are
        # each traced once and vmap keeps the loop unbatched.
        every = config["log_every"]
        num_logs = -(-num_steps // every) + 1

        def segment(carry, _):
            train_carry, b = carry
            target = jnp.minimum(b * every, num_steps)
            train_carry = lax.while_loop(lambda c: c[2] < target, step, train_carry)
            return (train_carry, b + 1), log(train_carry[0], train_carry[2])

        zero = jnp.zeros((), jnp.int32)
        carry = ((params0, tx.init(params0), zero, jnp.zeros((), bool)), zero)
        (carry, _), info = lax.scan(segment, carry, length=num_logs)
        params, _, _, bad = carry
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
        info["diverged"] = bad | ~finite | ~jnp.all(jnp.isfinite(info["train_loss"]))
        return Predictor(state=params, info=info, apply=apply)

    def fit(
        key: Array, x: Array, y: Array, budget: int | None = None, monitor: Monitor | None = None
    ) -> Predictor:
        """Finite regime: `budget` optimizer steps (default `steps`) on the sample (x, y)."""
        num_steps = config["steps"] if budget is None else validation.check_int("budget", budget, 1)
        validation.check_xy(NAME, x, y)
        num = x.shape[0]

        def draw(k, t):
            if batch >= num:
                return x, y
            rows = jax.random.randint(jax.random.fold_in(k, t), (batch,), 0, num)
            return x[rows], y[rows]

        size = min(config["eval_size"], num)
        return train(key, x.shape[1], num_steps, draw, (x[:size], y[:size]), monitor)

    def holds(rows: int, d: int) -> bool:
        """Whether the finite regime holds its training set (`rows × (d + 1)` floats within
        `hold_bytes`, or one batch covers it) rather than re-drawing rows from the stream."""
        return rows * (d + 1) * 4 <= config["hold_bytes"] or batch >= rows

    def fit_online(
        key: Array, source: Source, budget: int, monitor: Monitor | None = None
    ) -> Predictor:
        """Rows of a stream (`source`). Online regime: `budget // batch_size` steps, step t on
        the fresh rows `t·batch .. (t+1)·batch`. Finite regime: `steps` steps on the training
        set of rows `0 .. budget`, held in memory (then exactly `fit` on it) when `holds`, else
        re-drawn from the stream, step t on the `batch` consecutive rows from a random offset."""
        online = config["regime"] == "online"
        budget = validation.check_int("budget", budget, low=batch if online else 1)
        d, _ = check_source(NAME, source, batch if online else 1)
        if not online and holds(budget, d):
            return fit(key, *read_rows(source, budget), monitor=monitor)
        monitor_batch = read_rows(source, min(config["eval_size"], budget))

        def draw(k, t):
            if online:  # the stream, not the key, fixes the data
                return source(t * batch, batch)
            start = jax.random.randint(jax.random.fold_in(k, t), (), 0, budget - batch + 1)
            return source(start, batch)

        num_steps = budget // batch if online else config["steps"]
        return train(key, d, num_steps, draw, monitor_batch, monitor)

    def estimate(rows: int, d: int) -> tuple[float, float]:
        """Parameters P; memory: P five times (params, grads, Adam's two moments, updates),
        activations of a batch (stored for the backward pass) and the monitoring batch;
        flops: 6 P per sample seen (forward and backward)."""
        w, depth = config["width"], config["depth"]
        params = d * w + w + (depth - 1) * (w * w + w) + w + 1
        online = config["regime"] == "online"
        steps = rows // batch if online else config["steps"]
        acts = (batch + config["eval_size"]) * (d + 4 * w * depth)
        held = 0 if online or not holds(rows, d) else 2 * rows * (d + 1)
        return 4.0 * (5 * params + acts + held), 6.0 * params * batch * steps

    return Learner(
        name=NAME,
        estimate=estimate,
        config=config,
        fit=jit_fit(fit),
        fit_online=jax.jit(fit_online, static_argnames=("source", "budget", "monitor")),
        vmappable=True,
        curves=("train_loss", "weight_movement", "monitor/test_mse", "monitor/cosine_min"),
        first_layer=Network.first_layer,
    )
