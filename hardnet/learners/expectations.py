"""What the expected picture (docs/metrics.md) says of each built-in learner beyond its kind.

Claims that follow from a learner's kind alone (generic learners at chance on the hard tier and
on nulls, learned on dictator controls) are checked for every learner of that kind by
`analysis/expected.py`; the claims here are the learner's own, and the registry
(`learners.REGISTRY`) attaches them to its entry. Each is judged on summary groups
(`analysis/summary.py`): `family`, `family_kind`, `main` (not a null or control variant), `null`,
`n`, `predicate`, `budget`, `informative_fraction`, `status`.
"""

from __future__ import annotations

from hardnet.core.registry import Expectation, Group

BRUTE_FORCE_MAX_N = 20
GF2_TSA_MAX_N = 64


def _learned(g: Group) -> bool:
    return g["status"] == "learned"


def _informative_samples(g: Group) -> float:
    """The expected number of informative training rows at the group's budget."""
    return g["budget"] * (g.get("informative_fraction") or 1.0)


def _prg_main(g: Group, predicate: str | None = None) -> bool:
    return g["family_kind"] == "prg" and g["main"] and predicate in (None, g["predicate"])


def _gf2_tsa(g: Group) -> bool:
    return _prg_main(g, "tsa") and (g["n"] or 0) <= GF2_TSA_MAX_N


BRUTE_FORCE = (
    Expectation(
        f"brute_force learned at n <= {BRUTE_FORCE_MAX_N} (every seed is tried)",
        applies=lambda g: _prg_main(g) and (g["n"] or 0) <= BRUTE_FORCE_MAX_N,
        holds=_learned,
        largest_budget=True,
    ),
)

GF2 = (
    Expectation(
        "gf2 learned on xor",
        applies=lambda g: _prg_main(g, "xor"),
        holds=_learned,
        largest_budget=True,
    ),
    Expectation(
        "gf2 learned on tsa beyond n²/2 informative samples",
        applies=lambda g: _gf2_tsa(g) and _informative_samples(g) >= g["n"] ** 2 / 2,
        holds=_learned,
        largest_budget=True,
    ),
    Expectation(
        lambda g: (
            f"gf2 on tsa not learned before n²/2 = {g['n'] ** 2 // 2} informative samples "
            f"(about {_informative_samples(g):.0f} here; a finding when it is: linearization finds "
            "linear relations among the seed bits earlier)"
        ),
        applies=lambda g: _gf2_tsa(g) and _informative_samples(g) < g["n"] ** 2 / 2,
        holds=lambda g: not _learned(g),
    ),
)

EASY_DEPTH2 = (
    Expectation(
        "learned on F6 (easy depth-2, non-degenerate weights)",
        applies=lambda g: g["family"] == "easy_depth2" and g["main"],
        holds=_learned,
        largest_budget=True,
    ),
)

ORACLE = (
    Expectation(
        "the oracle learned on every non-null instance",
        applies=lambda g: not g["null"],
        holds=_learned,
    ),
)
