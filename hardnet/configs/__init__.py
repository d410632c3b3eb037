"""Benchmark configs: one file per experiment, `get_config(arg)` returning an ml_collections
ConfigDict (the big_vision convention), each with its command, expected runtime and expected
result in the module docstring. `hardnet.run.grid` expands a config into cells and validates it.

- `headline.py` — the headline experiment: every generic learner (sgd, tensor, kernel, poly)
  against F6 easy depth-2 and the PRG families F1/F3/F4 with their null and dictator controls,
  plus the `brute_force` and `gf2` controls and the `oracle`/`trivial` references.
  Variants: `:cpu` (the default run of `scripts/bench`, < 10 minutes on 2 cores) and `:gpu`
  (the conjectured-hard tier: n=128 and 256, `xor_maj(5,7)`, budgets 1e5–1e7).
- `smoke.py` — a tiny grid (seconds) for CI and for testing the runner.

    hardnet-bench --config=hardnet/configs/headline.py:cpu --workdir=/tmp/headline
"""
