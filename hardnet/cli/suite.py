"""`hardnet-suite`: list a frozen suite, verify its fingerprints, or freeze a new version.

    hardnet-suite list   [--suite=hardnet-v1]     setups, roles and tiers
    hardnet-suite verify [--suite=hardnet-v1]     recompute every fingerprint; exit 1 on a change
    hardnet-suite freeze --suite=NAME             write NAME.fingerprints.json (unreleased suites,
                                                  or a released one that has none yet)

A change in a generator that alters a released suite's instances fails `verify` (and the test
that runs it): such a change needs a new suite version (docs/suites.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from absl import app, flags

from hardnet import suites
from hardnet.cli import common

PROG = "hardnet-suite"
ACTIONS = ("list", "verify", "freeze")

_SUITE = flags.DEFINE_string("suite", suites.DEFAULT, "suite name (hardnet/suites/<name>.json)")


def describe(suite: suites.Suite) -> str:
    """The suite's setups, roles and tiers, one line each."""
    lines = [f"{suite.label} (version {suite.version}, seed {suite.seed}): {suite.description}"]
    for s in suite.setups.values():
        lines.append(f"  setup {s.name:12s} {s.title:28s} {s.family} roles={','.join(s.roles)}")
    for t in suite.tiers.values():
        seeds = "drawn at scoring time (--suite_seed)" if t.heldout else f"{t.instance_seeds}"
        lines.append(f"  tier  {t.name:8s} seeds {seeds}, test {t.test_size}, cap "
                     f"{t.cell_timeout_s:g} s per cell: {t.about}")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    from hardnet.run import fingerprint

    if len(argv) != 2 or argv[1] not in ACTIONS:
        common.fail(PROG, f"give one action, one of {', '.join(ACTIONS)}; got {argv[1:]}")
    try:
        suite = suites.load(_SUITE.value)
        if argv[1] == "list":
            print(describe(suite))
        elif argv[1] == "freeze":
            print(f"{PROG}: {fingerprint.freeze_suite(suite)}")
        else:
            problems = fingerprint.verify_suite(suite)
            for p in problems:
                print(f"{PROG}: {suite.name}: {p}")
            if problems:
                sys.exit(1)
            print(f"{PROG}: {suite.name}: every fingerprint matches")
    except ValueError as error:
        common.fail(PROG, error)


def run() -> None:
    """Entry point of the `hardnet-suite` console script."""
    app.run(main, flags_parser=common.flags_parser(PROG))


if __name__ == "__main__":
    run()
