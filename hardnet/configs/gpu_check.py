"""The hard tier's slice that `scripts/gpu-check` runs: F3 and F4 `xor_maj(5,7)` n=128 with their
null and dictator controls, online sgd (the `:gpu` settings) to 10⁷ samples.

Commands:
    hardnet-bench --config=hardnet/configs/gpu_check.py --workdir=/tmp/gpu_check
    hardnet-bench --config=hardnet/configs/gpu_check.py:cpu --workdir=/tmp/gpu_check_cpu

`:gpu` (the default): 2 instance seeds x 1 learner seed per variant, 10⁷ samples (9766 Adam
steps of batch 1024), test sets of 16384 rows. Expected runtime: about two minutes on one H100
(an expectation, not a measurement; `scripts/gpu-check` records what it took). `:cpu`: the same
grid at 2048 samples, 256 test rows and one instance seed, for the check's CPU mode (about a
minute on 2 cores; the numbers mean nothing there).

Expected result on the GPU: the dictator controls learned (F4 at 10⁶ already on the CPU, F3
needs more than one online pass of 10⁶ rows: docs/experiments.md), PRG and null at chance.
"""

import ml_collections

from hardnet.configs import headline

VARIANTS = ("gpu", "cpu")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "gpu" (default) or "cpu" (the check's CPU mode)."""
    arg = arg or "gpu"
    if arg not in VARIANTS:
        raise ValueError(f"gpu_check config variant must be one of gpu, cpu, got {arg!r}")
    prg = dict(fixed=dict(predicate="xor_maj(5,7)"), sweep=dict(n=[128]), null_control=True,
               dictator_control=True)  # fmt: skip
    config = ml_collections.ConfigDict()
    config.instances = ml_collections.ConfigDict(
        {
            "f3_hard": dict(family="prg_gauss3_smoothed", **prg),
            "f4_hard": dict(family="prg_depth2_smoothed", **prg),
        }
    )
    config.learners = ml_collections.ConfigDict(
        {
            "sgd": dict(kwargs=dict(headline.GPU_SGD)),  # the :gpu settings
        }
    )
    config.budgets = [10_000_000 if arg == "gpu" else 2048]
    config.test_size = 16384 if arg == "gpu" else 256
    config.instance_seeds = 2 if arg == "gpu" else 1
    config.learner_seeds = 1
    config.variant = arg
    return config
