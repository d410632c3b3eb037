"""One family against one learner: the smallest grid, chosen on the command line.

Commands:
    hardnet-bench --config=hardnet/configs/single.py:family=easy_depth2,learner=sgd \
        --workdir=/tmp/one
    hardnet-bench --workdir=/tmp/gf2 --config.instances.prg_boolean.null_control=True \
        --config='hardnet/configs/single.py:family=prg_boolean,n=16,learner=gf2,budget=64/256'

The argument after `:` is comma-separated `key=value` pairs (commas inside parentheses, as in
`predicate=xor_maj(5,7)`, do not split):
- `family=ID` (required): a family of `hardnet.instances.families()`;
- `learner=ID` (required): a learner of `hardnet.learners.names()` (registered ones included);
- `budget=N` (default 2000): the number of training samples; several as `budget=500/2000`;
- `learner.KEY=VALUE`: a keyword of the learner, e.g. `learner.width=64`;
- any other `KEY=VALUE`: a keyword of the family, e.g. `n=16`, `d=8`, `tau=1e-5`.
Values are Python literals where they parse as one (`8`, `1e-5`, `True`), strings otherwise.

Every other field is an ordinary `--config.` override: `--config.instance_seeds=5`,
`--config.learner_seeds=3`, `--config.test_size=4096`, and for PRG families the controls
`--config.instances.<family>.null_control=True` / `...dictator_control=True` (the block is
named after the family).

Expected runtime: seconds to minutes on 2 CPU cores, depending on the learner and budget (the
first example: about a minute, mostly compilation). Expected result: one report row per
(instance variant, budget); whatever the learner achieves — this config asserts nothing.
"""

from __future__ import annotations

import ast
from typing import Any

import ml_collections

from hardnet import instances, learners

DEFAULT_BUDGET = 2000


def split_pairs(arg: str) -> list[tuple[str, str]]:
    """`"a=1,b=f(2,3)"` -> `[("a", "1"), ("b", "f(2,3)")]`: split on commas outside brackets."""
    parts, depth, current = [], 0, []
    for char in arg:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"single.py argument: expected key=value pairs, got {part!r} in {arg!r}"
            )
        pairs.append((key.strip(), value.strip()))
    return pairs


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _budgets(value: str) -> list[int]:
    try:
        budgets = [int(v) for v in value.split("/")]
    except ValueError:
        budgets = []
    if not budgets or min(budgets) < 1:
        raise ValueError(f"budget must be positive integers joined by '/', got {value!r}")
    return budgets


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """The grid of one family (its main instance) × one learner at one or more budgets."""
    if not arg:
        raise ValueError(
            "single.py needs an argument: --config=hardnet/configs/single.py:family=ID,learner=ID"
        )
    fixed: dict[str, Any] = {}
    learner_kwargs: dict[str, Any] = {}
    chosen: dict[str, str] = {}
    budgets = [DEFAULT_BUDGET]
    for key, value in split_pairs(arg):
        if key in ("family", "learner"):
            chosen[key] = value
        elif key == "budget":
            budgets = _budgets(value)
        elif key.startswith("learner."):
            name = key.removeprefix("learner.")
            if name in learners.KNOWLEDGE:
                raise ValueError(f"learner.{name} is supplied by the runner, not the config")
            learner_kwargs[name] = _literal(value)
        else:
            fixed[key] = _literal(value)
    family, learner = chosen.get("family"), chosen.get("learner")
    if family not in instances.families():
        raise ValueError(f"family must be one of {', '.join(instances.families())}, got {family!r}")
    if learner not in learners.names():
        raise ValueError(f"learner must be one of {', '.join(learners.names())}, got {learner!r}")

    config = ml_collections.ConfigDict()
    config.instances = ml_collections.ConfigDict(
        {family: dict(family=family, fixed=fixed, null_control=False, dictator_control=False)}
    )
    config.learners = ml_collections.ConfigDict({learner: dict(kwargs=learner_kwargs)})
    config.budgets = tuple(budgets)  # a tuple: `--config.budgets="(500, 2000)"` overrides it
    config.test_size = 2048
    config.instance_seeds = 2
    config.learner_seeds = 2
    return config
