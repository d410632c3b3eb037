"""A tiny grid for the runner's end-to-end tests: 4 cheap cells on F1 tsa n=8 and F6."""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    del arg
    config = ml_collections.ConfigDict()
    config.instances = ml_collections.ConfigDict(
        {
            "f1": dict(family="prg_boolean", fixed=dict(predicate="tsa"), sweep=dict(n=[8])),
            "f6": dict(family="easy_depth2", fixed=dict(d=4, m=2)),
        }
    )
    config.learners = ml_collections.ConfigDict(
        {
            "gf2": dict(blocks=["f1"], learner_seeds=1),
            "oracle": dict(learner_seeds=1),
            "poly": dict(kwargs=dict(degree=2), blocks=["f6"]),
        }
    )
    config.budgets = [64]
    config.test_size = 128
    config.instance_seeds = 2
    config.learner_seeds = 2
    return config
