"""Smoke test: a tiny grid that exercises every code path of the runner in seconds (CI).

Command:
    hardnet-bench --config=hardnet/configs/smoke.py --workdir=/tmp/smoke

Expected runtime: seconds on 2 CPU cores (an estimate until the runner is measured), mostly
compilation.

Expected result: nothing about learning — the budgets are far too small. Every cell finishes
(`oracle` at nmse 0; no failures), the F1 `tsa` n=8 instance has its null and dictator variants,
`brute_force` and `gf2` run on them and are skipped with a reason on F6, and the report is
written. Cells: 14 (2 instance seeds × 2 learner seeds each).
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    del arg  # one variant
    config = ml_collections.ConfigDict()
    config.instances = ml_collections.ConfigDict(
        {
            "f1": dict(
                family="prg_boolean",
                fixed=dict(predicate="tsa"),
                sweep=dict(n=[8]),
                null_control=True,
                dictator_control=True,
            ),
            "f6": dict(family="easy_depth2", fixed=dict(d=4, m=2)),
        }
    )
    config.learners = ml_collections.ConfigDict(
        {
            "sgd": dict(
                kwargs=dict(
                    depth=1, width=8, batch_size=32, steps=20, log_every=10, regime="finite"
                )
            ),
            "poly": dict(kwargs=dict(degree=2), variants=["main"]),
            "kernel": dict(kwargs=dict(kernel="ntk", depth=1), blocks=["f6"]),
            "tensor": dict(kwargs=dict(m=2, tries=1, lm_steps=5), blocks=["f6"]),
            "brute_force": dict(variants=["main"], learner_seeds=1),
            "gf2": dict(variants=["main"], learner_seeds=1),
            "oracle": dict(variants=["main"], learner_seeds=1),
            "trivial": dict(kwargs=dict(draws=16), variants=["main"], learner_seeds=1),
        }
    )
    config.budgets = [64]
    config.test_size = 256
    config.instance_seeds = 2
    config.learner_seeds = 2
    return config
