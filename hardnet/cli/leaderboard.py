"""`hardnet-leaderboard`: add score cards to a suite's leaderboard and render it.

    hardnet-leaderboard --add=/tmp/score-hgb/scorecard.json     # a submission's rows
    hardnet-leaderboard --reference=runs/headline-cpu            # the built-in learners' rows
    hardnet-leaderboard                                          # render only

Rows live in `leaderboard/<suite>.jsonl` (one per learner × setup × budget); `--add` replaces the
learner's rows on that tier. `--reference` reads a `hardnet-bench --config=headline:cpu` workdir:
its rows on the suite's setups and the cpu tier's instance seeds become the built-in learners'
entries and the score cards' reference (`hardnet/suites/<suite>.reference.json`). Then
`docs/leaderboard.md` is written and README's table between the leaderboard markers replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from absl import app, flags

from hardnet import suites
from hardnet.cli import common

PROG = "hardnet-leaderboard"

_SUITE = flags.DEFINE_string("suite", suites.DEFAULT, "suite name")
_ADD = flags.DEFINE_multi_string("add", [], "a score card's scorecard.json to add")
_REFERENCE = flags.DEFINE_string("reference", None, "a headline:cpu workdir: built-in entries")
_VERIFIED = flags.DEFINE_bool("verified", False, "--add: mark the rows verified (rerun by you)")
_DIR = flags.DEFINE_string("dir", "leaderboard", "directory of the leaderboards")
_DOCS = flags.DEFINE_string("docs", "docs/leaderboard.md", "the page to write ('' for none)")
_README = flags.DEFINE_string("readme", "README.md", "README whose table to replace ('' for none)")


def reference_rows(workdir: str, suite: suites.Suite) -> tuple[dict[str, Any], list[dict]]:
    """(reference card, leaderboard rows) of the built-in learners in a headline workdir: rows
    on the suite's setups (same instance config), its seed and the cpu tier's instance seeds."""
    from hardnet.analysis import scorecard, summary
    from hardnet.run.provenance import processor

    tier = suite.tier("cpu")
    rows = []
    for r in summary.read_rows(workdir):
        c = r["cell"]
        setup = suite.setups.get(c.get("block"))
        if setup is None or r.get("seed_base") != suite.seed:
            continue
        kwargs = {k: v for k, v in c["instance_kwargs"].items() if k in setup.instance}
        if c.get("variant") != "dictator" and kwargs != dict(setup.instance):
            continue
        if r["instance_seed"] in tier.instance_seeds:
            rows.append(r)
    if not rows:
        raise ValueError(f"--reference={workdir}: no rows on the setups of {suite.name}")
    meta = json.loads((Path(workdir) / "meta.json").read_text())
    card = scorecard.card(rows, suite, {s: () for s in suite.setups})
    about = {
        "suite": suite.name, "suite_version": suite.version, "tier": tier.name,
        "seed": suite.seed, "fingerprints": suite.fingerprints_digest(),
        "hardnet": meta.get("versions", {}).get("hardnet", "?") + f" ({meta['git_revision'][:7]})",
        "device": processor(), "framework": "jax (built-in)", "factory": "hardnet.learners",
        "verified": True, "built_in": True,
    }  # fmt: skip
    return card, scorecard.leaderboard_rows(card, about)


def main(argv: list[str]) -> None:
    from hardnet.analysis import leaderboard

    if len(argv) > 1:
        common.fail(PROG, f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        suite = suites.load(_SUITE.value)
        path = Path(_DIR.value) / f"{suite.name}.jsonl"
        rows = leaderboard.read(path)
        if _REFERENCE.value:
            card, new = reference_rows(_REFERENCE.value, suite)
            text = json.dumps(card, indent=1, sort_keys=True) + "\n"
            suite.path("reference").write_text(text)
            rows = [r for r in rows if not r.get("built_in")] + new
            print(f"{PROG}: {len(new)} built-in rows; reference: {suite.path('reference')}")
        for card_path in _ADD.value:
            card = json.loads(Path(card_path).read_text())
            new = [dict(r, verified=_VERIFIED.value) for r in card["leaderboard_rows"]]
            if any(r["suite"] != suite.name for r in new):
                raise ValueError(f"--add={card_path}: a score card of another suite")
            rows = leaderboard.merge(rows, new)
            print(f"{PROG}: {len(new)} rows from {card_path}")
        leaderboard.write(path, rows)
        if _DOCS.value:
            Path(_DOCS.value).write_text(leaderboard.page(rows, suite))
        if _README.value:
            readme = Path(_README.value)
            table = leaderboard.table(rows, suite, "cpu")
            readme.write_text(leaderboard.splice(readme.read_text(), table))
    except (ValueError, OSError, KeyError) as error:
        common.fail(PROG, error)
    rendered = ", ".join(p for p in (_DOCS.value, _README.value) if p) or "nothing"
    print(f"{PROG}: {path}: {len(rows)} rows; rendered {rendered}")


def run() -> None:
    """Entry point of the `hardnet-leaderboard` console script."""
    app.run(main, flags_parser=common.flags_parser(PROG))


if __name__ == "__main__":
    run()
