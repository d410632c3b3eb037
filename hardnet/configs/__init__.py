"""Benchmark configs: one file per experiment, `get_config(arg)` returning an ml_collections
ConfigDict (the big_vision convention), each with its command, expected runtime and expected
result in the module docstring. `hardnet.run.grid` expands a config into cells and validates it.

- `headline.py` — the headline experiment: every generic learner (sgd, tensor, kernel, poly)
  against F6 easy depth-2, F5 natural weights and the PRG families F1/F3/F4 with their null and
  dictator controls, plus the `brute_force` and `gf2` controls and the `oracle`/`trivial`
  references. Variants: `:cpu` (the default run of `scripts/bench`), `:gpu` (the
  conjectured-hard tier: n=128 and 256, `xor_maj(5,7)`, budgets 1e5–1e7) and `:rehearsal`.
- `smoke.py` — a tiny grid (seconds) for CI and for testing the runner.
- `single.py` — one family against one learner, chosen on the command line.
- `gpu_check.py` — the hard tier's slice that `scripts/gpu-check` runs.

A config is named by its file, or, for the shipped ones, by its short name (`resolve`), which
works from an installed wheel outside a checkout as well:

    hardnet-bench --config=hardnet/configs/headline.py:cpu --workdir=/tmp/headline
    hardnet-bench --config=headline:cpu --workdir=/tmp/headline
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHORT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<arg>:.*)?$")


def names() -> tuple[str, ...]:
    """The shipped configs' short names."""
    return tuple(sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")))


def resolve(value: str) -> str:
    """`--config`'s value with a shipped config's short name (`headline:cpu`) replaced by the
    packaged file (`/…/hardnet/configs/headline.py:cpu`); a path (anything with a `/` or `.py`,
    or an existing file) is returned unchanged."""
    match = SHORT.match(value)
    if match is None or os.path.exists(match["name"]) or match["name"] not in names():
        return value
    return f"{HERE / (match['name'] + '.py')}{match['arg'] or ''}"
