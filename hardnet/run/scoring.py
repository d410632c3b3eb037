"""A learner's score card on a suite tier: the run behind `hardnet-score` (docs/outside.md).

`run_score` runs the tier's grid for one outside learner (`hardnet.run.session`, each cell in a
watched worker), summarizes its rows into a card (`analysis.scorecard`) with the built-in
learners' reference results beside it, and writes the card; `verify` compares a card with the
learner's leaderboard rows, within `TOLERANCE`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hardnet import learners, suites
from hardnet.analysis import scorecard, summary
from hardnet.run import executors, provenance, session

TOLERANCE = 0.05  # verify: largest difference of a mean score (acc01_cal; nmse relative)


def _reference(suite: suites.Suite) -> dict[str, Any] | None:
    path = suite.path("reference")
    return json.loads(path.read_text()) if path.exists() else None


def run_score(
    spec: str,
    name: str,
    suite: suites.Suite,
    tier: suites.Tier,
    seed: int,
    workdir: str,
    cell_timeout: float,
    prog: str = "hardnet-score",
) -> dict[str, Any]:
    """Run `tier` of `suite` for the outside learner `spec` under the entry `name` (run seed
    `seed`, each cell in a worker capped at `cell_timeout` s) into `workdir`, then write its
    score card there (`scorecard.md`, `scorecard.json`, `scorecard.png`); returns the card."""

    entry = {"name": learners.OUTSIDE, "kwargs": {"factory": spec}}
    config = suites.config(suite, tier, {name: entry}, seed)
    options = {"cell_timeout": cell_timeout, "workdir": workdir, "preload": [],
               "jax_config": executors.jax_options()}  # fmt: skip
    start = time.perf_counter()
    ran = session.run_grid(
        config, workdir, seed, 0, 1, tensorboard=False, executor_options=options, prog=prog
    )
    wall = time.perf_counter() - start
    rows = [r for r in summary.read_rows(workdir) if r["cell"]["entry"] == name]
    scored = scorecard.card(rows, suite, tier.budgets)
    frameworks = sorted({r.get("framework") for r in rows if r.get("framework")})
    about = {
        "suite": suite.name, "suite_version": suite.version, "tier": tier.name, "seed": seed,
        "fingerprints": suite.fingerprints_digest(),
        "hardnet": _version(), "device": provenance.processor(),
        "framework": ", ".join(frameworks) or "?",
        "factory": spec, "verified": False,
        # the tier's wall time in this process, workers and data included; None when resumed
        "wall_s": round(wall, 1) if ran == len({r["cell_id"] for r in rows}) else None,
    }  # fmt: skip
    out = {"about": about, **scored,
           "leaderboard_rows": scorecard.leaderboard_rows(scored, about)}  # fmt: skip
    root = Path(workdir)
    (root / "scorecard.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    header = (f"# Score card: {name} (as submitted)\n\n{suite.label} tier `{tier.name}` "
              f"(seed {seed}; fingerprints {about['fingerprints']}), hardnet {about['hardnet']}, "
              f"{about['device']}, framework: {about['framework']}. Reference rows: the "
              "built-in learners on the same suite version, at their largest budget.")  # fmt: skip
    (root / "scorecard.md").write_text(scorecard.markdown(scored, _reference(suite), header))
    scorecard.figure(scored, root / "scorecard.png", name)
    return out


def _version() -> str:
    """hardnet's version and, in a git checkout, its revision: "0.1.0 (3581bd3)"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("hardnet")
    except PackageNotFoundError:
        text = "unknown"
    rev = provenance.git_revision()
    return f"{text} ({rev[:7]})" if rev else text


def verify(out: dict[str, Any], name: str, leaderboard: str) -> list[str]:
    """Differences between this card and the learner's leaderboard rows (same suite and tier)."""
    about = out["about"]
    path = Path(leaderboard) / f"{about['suite']}.jsonl"
    if not path.exists():
        return [f"no leaderboard {path}"]
    stored = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    stored = {(r["setup"], r["budget"]): r for r in stored
              if r["learner"] == name and r["tier"] == about["tier"]}  # fmt: skip
    if not stored:
        return [f"{path}: no rows of {name!r} on tier {about['tier']}"]
    problems = []
    for row in out["leaderboard_rows"]:
        old = stored.get((row["setup"], row["budget"]))
        if old is None:
            problems.append(f"{row['setup']} at {row['budget']}: not on the leaderboard")
            continue
        for key in ("main", "null", "dictator", "nmse"):
            a, b = row.get(key), old.get(key)
            if a is None or b is None:
                continue
            scale = max(abs(b), 1e-3) if key == "nmse" else 1.0
            if abs(a - b) / scale > TOLERANCE:
                problems.append(f"{row['setup']} at {row['budget']}: {key} {a} != {b}")
    return problems
