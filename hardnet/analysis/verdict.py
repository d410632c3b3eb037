"""What the results say, per PRG setup (docs/metrics.md, "PRG versus dictator" and "Verdict").

A *setup* is one PRG instance of the grid with its controls: the groups of one config block and
one `n` (`setup_of`), in three variants: the PRG itself (`prg`), its null (`null`: labels from a
fresh seed per row, so nothing is learnable) and its dictator control (`dictator`: the same
hyperedges and encoding, predicate `P(s_S) = s_{S_1}`, learnable by design).

The judging scores are calibration-free (docs/metrics.md): `acc01_cal` says whether a group is
learned, `auc` separates the PRG from its null (`acc01` and `adv` for rows written before they
existed: `summary.accuracy`, `summary.separation`).

- `dictator_gaps`: per PRG group, the dictator twin at the same learner entry and budget:
  `acc01_cal(dictator) − acc01_cal(PRG)` with a two-sided permutation p-value over runs.
- `verdicts`: per setup and learner entry, from the largest budget run on each variant:
  - `broken`: learned or weakly learned on the PRG, or a significant PRG-versus-null gap;
  - `consistent`: the dictator control learned (`acc01_cal ≥ 0.9`), the PRG and its null at
    chance: "consistent with hardness at these budgets";
  - `inconclusive`: the dictator control not learned at the budgets run, so a failure on the PRG
    says nothing about the PRG;
  - `some seeds`: neither of the above on the mean over seeds, but some runs on the PRG are
    above chance (`auc ≥ WEAK_AUC`) and above every run on its null (`above_null`): a
    seed-dependent finding that the mean hides;
  - `control`: a structure-aware control or reference (brute force, GF(2), oracle): learned or
    not on the PRG, the proof that the information is in the samples.
- `paragraphs`: the verdict in words, one paragraph per setup.
- `planted_paragraphs`: the planted families (F5, F6), scored by `nmse`: per family and size,
  which learners learned each instance at their largest budget, and what the family's
  construction can and cannot show (`instances.caveat`, from docs/instances.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hardnet import instances
from hardnet.analysis import stats
from hardnet.analysis.summary import (
    GAP_MIN,
    GAP_P,
    LEARNED_ACC,
    WEAK_ADV,
    WEAK_AUC,
    accuracy,
    separation,
)

GOOD = ("learned", "weakly")
Group = Mapping[str, Any]


def variant_of(g: Group) -> str:
    """ "prg", "null" or "dictator" for a group of a PRG family."""
    if g["null"]:
        return "null"
    return "dictator" if g["predicate"] == "dictator" else "prg"


def setup_of(g: Group) -> tuple[str, str, Any]:
    """(family, block, n): the PRG instance a group belongs to, with its controls."""
    return (g["family"], g.get("block") or g["family"], g["n"])


def setup_label(setup: tuple[str, str, Any]) -> str:
    _, block, n = setup
    return f"{block} n={n}" if n is not None else block


def _by_variant(summary: Sequence[Group]) -> dict[tuple, dict[str, dict[str, list[Group]]]]:
    """setup -> learner entry -> variant -> groups (sorted by budget), PRG families only."""
    out: dict[tuple, dict[str, dict[str, list[Group]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for g in summary:
        if g["family_kind"] == "prg":
            out[setup_of(g)][g["entry"]][variant_of(g)].append(g)
    for entries in out.values():
        for variants in entries.values():
            for gs in variants.values():
                gs.sort(key=lambda g: g["budget"])
    return out


def dictator_gaps(summary: Sequence[Group], resamples: int = 5000) -> list[dict[str, Any]]:
    """Per PRG group with a dictator twin at the same entry and budget: the gap of
    `accuracy(g)` (acc01_cal; acc01 on old rows), named in `score`."""
    out = []
    for setup, entries in _by_variant(summary).items():
        for entry, variants in entries.items():
            twins = {g["budget"]: g for g in variants.get("dictator", [])}
            for g in variants.get("prg", []):
                d = twins.get(g["budget"])
                if d is None:
                    continue
                score = accuracy(g)
                a, b = d[f"{score}_values"], g[f"{score}_values"]
                gap = float(np.mean(a) - np.mean(b)) if a.size and b.size else math.nan
                out.append({
                    "setup": setup_label(setup), "label": g["label"], "family": g["family"],
                    "entry": entry, "budget": g["budget"], "score": score,
                    "prg_score": g[score][0], "dictator_score": d[score][0], "gap": gap,
                    "p": stats.permutation_pvalue(a, b, resamples=resamples),
                })  # fmt: skip
    return out


def status(g: Group) -> str:
    """The status the verdict reads a group by, and the headline figure draws: on PRG families
    "learned" means `accuracy(g) ≥ LEARNED_ACC` (acc01_cal; acc01 on rows written before it,
    whose stored status went by `adv`), a stored "learned" short of it counts as "weakly";
    elsewhere, or without that accuracy, the stored status (`nmse`)."""
    acc = g[accuracy(g)][0] if g["family_kind"] == "prg" else math.nan
    if not math.isfinite(acc) or g["status"] == "failed":
        return g["status"]
    if acc >= LEARNED_ACC:
        return "learned"
    return "weakly" if g["status"] == "learned" else g["status"]


def _dictator_learned(g: Group | None) -> bool:
    return g is not None and status(g) == "learned"


def _first_learned(gs: Sequence[Group]) -> Group | None:
    """The smallest-budget group learned (`status`)."""
    for g in gs:
        if status(g) == "learned":
            return g
    return None


def gap_test(prg: Group | None, null: Group | None) -> tuple[bool, float, float]:
    """(significant, gap, p) of the PRG against its null at one budget: the mean gap of the
    separation score (`auc`) and its permutation p-value; nan where a side has no runs."""
    if prg is None or null is None:
        return False, math.nan, math.nan
    score = separation(prg)
    a, b = prg[f"{score}_values"], null[f"{score}_values"]
    gap = float(np.mean(a) - np.mean(b)) if a.size and b.size else math.nan
    p = stats.permutation_pvalue(a, b)
    return bool(p < GAP_P and gap > GAP_MIN), gap, p


def _ranking(g: Group) -> tuple[str, str, float]:
    """(score that ranks runs, score that says "above chance", its floor): `auc` for both with
    floor WEAK_AUC, or (acc01, adv, WEAK_ADV) on rows written before the calibration-free
    scores."""
    if separation(g) == "auc":
        return "auc", "auc", WEAK_AUC
    return "acc01", "adv", WEAK_ADV


def above_null(prg: Group | None, null: Group | None) -> list[tuple[float, float]]:
    """`(auc, adv)` of the PRG runs with `auc ≥ WEAK_AUC` whose auc exceeds every run of the null
    at the same budget (the null sets the learner's own scale of chance); `(acc01, adv)` with
    `adv ≥ WEAK_ADV` on old rows."""
    if prg is None or null is None or prg["budget"] != null["budget"]:
        return []
    rank, floor_score, floor = _ranking(prg)
    if not null[f"{rank}_values"].size:
        return []
    ceiling = float(np.max(null[f"{rank}_values"]))
    pairs = zip(prg[f"{rank}_values"], prg[f"{floor_score}_values"], prg["adv_values"], strict=True)
    return [(float(a), float(v)) for a, f, v in pairs if f >= floor and a > ceiling]


def verdicts(summary: Sequence[Group]) -> list[dict[str, Any]]:
    """One verdict per (setup, learner entry) (module docstring), judged at the largest budget
    run on each variant."""
    out = []
    for setup, entries in sorted(_by_variant(summary).items(), key=lambda kv: str(kv[0])):
        for entry, variants in sorted(entries.items()):
            last = {v: gs[-1] for v, gs in variants.items() if gs}
            prg, null, dic = last.get("prg"), last.get("null"), last.get("dictator")
            kind = next(iter(last.values()))["learner_kind"]
            if kind == "reference":  # the oracle and the baseline bound the scale; no verdict
                continue
            significant, gap, p = gap_test(prg, null)
            above = above_null(prg, null)
            first_dic = _first_learned(variants.get("dictator", []))
            first_prg = _first_learned(variants.get("prg", []))
            if kind != "generic":
                verdict = "control"
            elif (prg is not None and status(prg) in GOOD) or significant:
                verdict = "broken"
            elif above:
                verdict = "some seeds"
            elif _dictator_learned(dic):
                verdict = "consistent"
            else:
                verdict = "inconclusive"
            out.append({
                "setup": setup_label(setup), "family": setup[0], "entry": entry, "kind": kind,
                "verdict": verdict, "prg": prg, "null": null, "dictator": dic,
                "dictator_from": None if first_dic is None else first_dic["budget"],
                "prg_from": None if first_prg is None else first_prg["budget"],
                "gap": gap, "p": p, "significant": significant, "above": above,
            })  # fmt: skip
    return out


def _acc(g: Group | None) -> str:
    if g is None:
        return "—"
    return f"{accuracy(g)} {g[accuracy(g)][0]:.2f} at {g['budget']:,}"


def paragraphs(
    summary: Sequence[Group], judged: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    """The verdict in words: one paragraph per setup (`judged`: `verdicts(summary)`, when the
    caller already has it; each verdict runs permutation tests)."""
    by_setup: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in verdicts(summary) if judged is None else judged:
        by_setup[f"{v['setup']} ({v['family']})"].append(v)
    out = []
    for setup, vs in by_setup.items():
        generic = [v for v in vs if v["kind"] == "generic"]
        controls = [v for v in vs if v["kind"] == "control" and v["prg"] is not None]
        parts = [f"**{setup}.**"]
        learned = [v for v in generic if v["dictator_from"] is not None]
        missed = [v for v in generic if v["dictator"] is not None and v["dictator_from"] is None]
        if learned:
            who = [f"`{v['entry']}` (from {v['dictator_from']:,} samples)" for v in learned]
            parts.append(f"Dictator control learned by {', '.join(who)}.")
        if missed:
            who = [f"`{v['entry']}` ({_acc(v['dictator'])})" for v in missed]
            parts.append(f"Not learned by {', '.join(who)}.")
        for v in controls:
            if v["prg_from"] is not None:
                parts.append(f"`{v['entry']}` learned the PRG from {v['prg_from']:,} samples.")
            else:
                parts.append(f"`{v['entry']}` did not learn the PRG ({_acc(v['prg'])}).")
        by = defaultdict(list)
        for v in generic:
            by[v["verdict"]].append(v)
        if by["broken"]:
            who = [
                f"`{v['entry']}` ({status(v['prg'])}, null gap {v['gap']:.3f}, p {v['p']:.3g})"
                for v in by["broken"]
            ]
            parts.append(
                f"**Separated the PRG from chance**: {', '.join(who)}; a finding to examine, "
                "not a tuning artefact."
            )
        for v in by["some seeds"]:
            rank = _ranking(v["prg"])[0]
            runs = ", ".join(f"{rank} {a:.2f} (adv {d:.2f})" for a, d in v["above"])
            ceiling = float(np.max(v["null"][f"{rank}_values"]))
            parts.append(
                f"**Above chance on some seeds**: `{v['entry']}` at {v['prg']['budget']:,} "
                f"samples, {len(v['above'])} of {v['prg'][f'{rank}_values'].size} runs on the "
                f"PRG ({runs}) above every run on its null ({rank} at most {ceiling:.2f}); the "
                f"mean over seeds is {v['prg'][rank][0]:.2f} (PRG−null p {v['p']:.3g}). A "
                "seed-dependent finding to examine, not a tuning artefact."
            )
        if by["consistent"]:
            who = ", ".join(f"`{v['entry']}`" for v in by["consistent"])
            parts.append(
                f"{who}: learned the dictator control but stayed at chance on the PRG and its "
                "null with no significant gap: consistent with hardness at these budgets."
            )
        if by["inconclusive"]:
            who = ", ".join(f"`{v['entry']}`" for v in by["inconclusive"])
            parts.append(
                f"Inconclusive for {who}: the dictator control was not learned at the budgets "
                "run, so failing on the PRG says nothing about the PRG."
            )
        out.append(" ".join(parts))
    return out


PLANTED_WORDS = {
    "learned": "learned by",
    "weakly": "weakly learned by",
    "chance": "at chance:",
    "below": "worse than the mean:",
    "failed": "failed:",
}


def _nmse(g: Group) -> str:
    return f"nmse {g['nmse'][0]:.3g} at {g['budget']:,}"


def planted_paragraphs(summary: Sequence[Group]) -> list[str]:
    """The planted families (module docstring): one paragraph per (family, size), one sentence
    per instance, naming each generic learner's status at its largest budget."""
    largest: dict[tuple, dict[str, dict[str, Group]]] = defaultdict(lambda: defaultdict(dict))
    for g in summary:
        if g["family_kind"] == "prg" or g["learner_kind"] != "generic" or not g["main"]:
            continue
        size = f"n={g['n']}" if g["n"] is not None else f"d={g['size']}"
        by_entry = largest[(g["family"], size)][g["label"]]
        if g["entry"] not in by_entry or g["budget"] > by_entry[g["entry"]]["budget"]:
            by_entry[g["entry"]] = g
    out = []
    for (family, size), labels in sorted(largest.items(), key=lambda kv: str(kv[0])):
        parts = [f"**{family} {size}.**"]
        for lab, entries in sorted(labels.items()):
            by: dict[str, list[str]] = defaultdict(list)
            for entry, g in sorted(entries.items()):
                by[g["status"]].append(f"`{entry}` ({_nmse(g)})")
            said = [f"{PLANTED_WORDS[st]} {', '.join(by[st])}" for st in PLANTED_WORDS if by[st]]
            parts.append(f"{lab}: {'; '.join(said)}.")
        if instances.caveat(family):
            parts.append(instances.caveat(family))
        out.append(" ".join(parts))
    return out
