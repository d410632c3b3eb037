"""`hardnet-score`: one learner from any framework on a frozen suite, and its score card.

    hardnet-score --learner=examples/sklearn_hgb.py:make --workdir=/tmp/score-hgb
    hardnet-score --learner=mypkg.learners:make --name=mine --suite=hardnet-v1:heldout

Runs the suite tier's grid for the learner (`learners/outside.py`: each cell in a worker under
the tier's time cap; a run that raises, returns NaN or the wrong shape, or hangs is a failed row
and the rest go on), then writes `scorecard.md`, `scorecard.json` (with the leaderboard rows a
pull request adds to `leaderboard/<suite>.jsonl`) and `scorecard.png` into the workdir, beside
the built-in learners' reference results for the same suite version. A killed run resumes.
`--verify` compares the card with the learner's leaderboard entry (it runs the submitted code).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import jax
from absl import app, flags

from hardnet import suites
from hardnet.cli import common

PROG = "hardnet-score"

_LEARNER = flags.DEFINE_string(
    "learner", None, "the learner's factory: module:factory or path/to/file.py:factory"
)
_NAME = flags.DEFINE_string("name", None, "the learner's name in the card (default: the factory's)")
_SUITE = flags.DEFINE_string("suite", f"{suites.DEFAULT}:cpu", "suite and tier: NAME[:tier]")
_SUITE_SEED = flags.DEFINE_integer(
    "suite_seed", None, "heldout tier: the run seed its instances derive from (default: drawn)",
    lower_bound=0,
)  # fmt: skip
_WORKDIR = flags.DEFINE_string("workdir", None, "where the rows and the score card go")
_CELL_TIMEOUT = flags.DEFINE_float(
    "cell_timeout", None, "seconds a cell may run (default: the tier's cap)", lower_bound=1
)
_VERIFY = flags.DEFINE_bool(
    "verify", False, "compare with the learner's row in leaderboard/<suite>.jsonl (exit 1 if not)"
)
_LEADERBOARD = flags.DEFINE_string("leaderboard", "leaderboard", "directory of the leaderboards")
flags.mark_flags_as_required(["learner", "workdir"])


def _seed(suite: suites.Suite, tier: suites.Tier) -> int:
    if not tier.heldout:
        if _SUITE_SEED.value is not None:
            common.fail(PROG, f"--suite_seed is for the heldout tier, not {tier.name}")
        return suite.seed
    return _SUITE_SEED.value if _SUITE_SEED.value is not None else secrets.randbelow(2**31)


def main(argv: list[str]) -> None:
    from hardnet.run import scoring

    if len(argv) > 1:
        common.fail(PROG, f"unexpected arguments: {' '.join(argv[1:])}")
    jax.config.update("jax_platforms", "cpu")  # the driver plans; the worker runs the learner
    from hardnet.learners import outside

    spec = _LEARNER.value
    try:
        target, attr = outside.check_spec(spec)
        suite, tier = suites.parse(_SUITE.value)
    except ValueError as error:
        common.fail(PROG, f"--learner/--suite: {error}")
    if target.endswith(".py"):  # the worker resolves paths from its own directory
        spec = f"{os.path.abspath(target)}:{attr}"
    name = _NAME.value or Path(target).stem.replace(".", "_")
    from hardnet import learners

    if not name.replace("_", "").isalnum():
        common.fail(PROG, f"--name must be letters, digits and _, got {name!r}")
    if name in learners.names():
        common.fail(PROG, f"--name {name!r} is a built-in learner's; choose another")
    workdir = _WORKDIR.value
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        common.fail(PROG, f"--workdir {workdir} exists and is not a directory")
    seed = _seed(suite, tier)
    timeout = _CELL_TIMEOUT.value or tier.cell_timeout_s
    print(f"{PROG}: {name} on {suite.label}:{tier.name} (seed {seed}), cap {timeout:g} s per "
          "cell", flush=True)  # fmt: skip
    try:
        out = scoring.run_score(spec, name, suite, tier, seed, workdir, timeout, prog=PROG)
    except ValueError as error:  # session.SessionError: a busy workdir, a device that fails
        common.fail(PROG, error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished cells are saved in {workdir}", flush=True)
        raise SystemExit(130) from None
    h = out["health"]
    print(f"{PROG}: {h['cells_finished']}/{h['cells']} cells finished; score card: "
          f"{workdir}/scorecard.md", flush=True)  # fmt: skip
    if _VERIFY.value:
        problems = scoring.verify(out, name, _LEADERBOARD.value)
        for p in problems:
            print(f"{PROG}: verify: {p}", flush=True)
        if problems:
            sys.exit(1)
        print(f"{PROG}: verify: the card agrees with the leaderboard within {scoring.TOLERANCE}")


def run() -> None:
    """Entry point of the `hardnet-score` console script."""
    app.run(main, flags_parser=common.flags_parser(PROG))


if __name__ == "__main__":
    run()
