"""The expected picture of docs/metrics.md, and every departure from it (`deviations`).

Expected (docs/metrics.md, "Expected picture"):
- F6 easy depth-2: `tensor` and `sgd` learned; `kernel` and `poly` partly.
- F1/F3/F4 with `tsa` at n ≥ 32 or `xor_maj(5,7)`: generic learners at chance and no
  PRG-vs-null gap.
- `brute_force` learned at n ≤ 20 from a few hundred samples; `gf2` learned on `tsa` at n ≤ 64
  beyond about n²/2 informative samples, and on `xor`; neither on the null.
- `dictator` controls: generic learners learned or weakly learned.

The claims above that follow from a learner's kind (generic learners on the hard tier, nulls and
dictator controls) are checked here for every learner of that kind; the claims particular to one
learner (brute force, GF(2), F6, the oracle) are declared by the learner itself
(`registry.Expectation`, in `learners/expectations.py`). Besides these, a group is listed when
any of its runs failed, when a non-reference learner is learned or weakly learned on a null, and
when fewer seeds than the design's 5 × 3 were run.

*Below* on a PRG family means that `acc01` itself is significantly under 1/2 (summary.py); a
learner that only misses the public informative test, which the trivial baseline is given, has a
negative `adv` but is at chance. On the hard tier *below* is listed as a deviation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hardnet import learners
from hardnet.analysis.summary import SPEC_SEEDS, null_gaps
from hardnet.core.registry import Expectation
from hardnet.core.textio import canonical

GOOD = ("learned", "weakly")


def _hard(g: Mapping[str, Any]) -> bool:
    """The conjectured-hard tier of the expected picture: tsa at n >= 32, or xor_maj."""
    pred = str(g["predicate"] or "")
    return (pred == "tsa" and (g["n"] or 0) >= 32) or pred.startswith("xor_maj")


def _largest_budget(summary: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The group of the largest budget of each instance and learner entry."""
    out: dict[tuple, Mapping[str, Any]] = {}
    for g in summary:
        key = (g["family"], canonical(g["instance"]), g["entry"])
        if key not in out or g["budget"] > out[key]["budget"]:
            out[key] = g
    return list(out.values())


def fmt_ci(ci: tuple[float, float, float]) -> str:
    mean, low, high = ci
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _where(g: Mapping[str, Any]) -> str:
    return f"`{g['entry']}` on {g['label']} ({g['family']}) at {g['budget']} samples"


def _value(g: Mapping[str, Any]) -> str:
    return f"{g['metric']} {fmt_ci(g[g['metric']])}"


def _by_kind(g: Mapping[str, Any]) -> list[str]:
    """The claims every learner of a kind must meet, and failures, on one group."""
    out, where, value = [], _where(g), _value(g)
    generic, good = g["learner_kind"] == "generic", g["status"] in GOOD
    if g["failed"]:
        out.append(
            f"{where}: {g['failed']}/{g['runs']} runs failed ({'; '.join(g['fail_reasons'])})"
        )
    if generic and g["main"] and g["family_kind"] == "prg" and _hard(g):
        if good:
            out.append(f"{where}: {g['status']} ({value}); expected at chance")
        elif g["status"] == "below":
            out.append(
                f"{where}: below (acc01 {fmt_ci(g['acc01'])}, significantly under 1/2: "
                "anti-correlated with the planted bits); expected at chance"
            )
    if g["status"] == "failed":
        out.append(f"{where}: FAILED, most runs failed; no status from the survivors")
    if g["null"] and good and g["learner_kind"] != "reference":
        out.append(f"{where}: {g['status']} on the null ({value}); expected at chance")
    if generic and g["predicate"] == "dictator" and not g["null"] and not good:
        out.append(
            f"{where}: {g['status']} on the dictator control ({value}); expected learned or weakly"
        )
    return out


def _declared(g: Mapping[str, Any], largest: bool) -> list[str]:
    """The claims the learner's registry entry declares that do not hold on one group."""
    try:
        expected: tuple[Expectation, ...] = learners.entry(g["learner"]).expected
    except ValueError:  # a learner registered by a config that this process did not load
        return []
    return [
        f"{_where(g)}: {g['status']} ({_value(g)}); expected: "
        + (e.claim(g) if callable(e.claim) else e.claim)
        for e in expected
        if e.largest_budget == largest and e.applies(g) and not e.holds(g)
    ]


def deviations(
    summary: Sequence[Mapping[str, Any]], gaps: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    """Lines describing every departure from the expected picture of docs/metrics.md."""
    gaps = null_gaps(summary) if gaps is None else gaps
    out: list[str] = []
    for g in summary:
        out += _by_kind(g) + _declared(g, largest=False)
    for g in _largest_budget(summary):
        out += _declared(g, largest=True)
    for gap in gaps:
        if gap["significant"] and gap["learner_kind"] == "generic":
            out.append(
                f"`{gap['entry']}` on {gap['label']} ({gap['family']}) at {gap['budget']} samples:"
                f" PRG-vs-null gap {gap['gap']:.3f} (p = {gap['p']:.4f}); expected none"
            )
    few = {
        g["entry"] for g in summary
        if g["learner_kind"] == "generic"
        and (g["instance_seeds"] < SPEC_SEEDS[0] or g["learner_seeds"] < SPEC_SEEDS[1])
    }  # fmt: skip
    if few:
        out.append(
            f"fewer seeds than the design's {SPEC_SEEDS[0]} instance x {SPEC_SEEDS[1]} learner "
            f"seeds for: {', '.join(sorted(few))}"
        )
    return out
