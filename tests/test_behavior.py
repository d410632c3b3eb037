"""The smoke config's rows do not change when the code is reorganized: every field of the rows
recorded in `tests/data/smoke_rows.jsonl` (written by `hardnet-bench --config=smoke.py` before
the runner, scoring and layout were split apart; timings left out) is reproduced by the runner
today. Rows may gain fields; none may lose or change one.

If a change is meant to alter results, regenerate the file from the new code and say why in the
commit: `hardnet-bench --config=hardnet/configs/smoke.py --workdir=W`, then the rows of
`W/results.jsonl` without `compile_s` and `run_s`, sorted by (cell_id, instance_seed,
learner_seed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from hardnet.configs import smoke
from hardnet.core.textio import from_jsonable, to_jsonable
from hardnet.run import grid, runner

GOLDEN = Path(__file__).parent / "data" / "smoke_rows.jsonl"
RTOL, ATOL = 1e-5, 1e-7  # float32 programs; identical on the machine that wrote the file


def _same(want: Any, got: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        for k, v in want.items():
            assert k in got, f"{where}.{k} is missing"
            _same(v, got[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        if math.isnan(want):
            assert isinstance(got, float) and math.isnan(got), f"{where}: {got} != nan"
        else:
            assert got == pytest.approx(want, rel=RTOL, abs=ATOL), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.slow
def test_smoke_rows_unchanged():
    golden = [from_jsonable(json.loads(line)) for line in GOLDEN.read_text().splitlines()]
    caches = runner.Caches()
    rows = [r for c in grid.expand(smoke.get_config()) for r in runner.run_cell(c, 0, caches)]
    got = {
        (r["cell_id"], r["instance_seed"], r["learner_seed"]): from_jsonable(to_jsonable(r))
        for r in rows
    }
    assert len(got) == len(golden)
    for want in golden:
        key = (want["cell_id"], want["instance_seed"], want["learner_seed"])
        assert key in got, f"no row {key}"
        _same(want, got[key], "/".join(map(str, key)))
