"""Benchmark results grouped and judged with honest statistics (docs/metrics.md).

Input: the rows of a workdir's `results.jsonl` (one per run, `hardnet/run/runner.py`). Runs are
grouped by instance (family + validated instance config) × learner (config entry) × budget.
Per group, over instance seeds × learner seeds (failed runs excluded from the statistics):

- mean and 95% percentile-bootstrap interval (`stats.bootstrap_mean_ci`) of `adv`, `adv_mean`,
  `acc01`, `auc`, `acc01_cal`, `nmse` and `mse_all`; the headline metric is the
  calibration-free `acc01_cal` on PRG families (`adv` for rows written before it existed) and
  `nmse` elsewhere (F6, F5);
- status: **learned** (`acc01_cal ≥ 0.9`, or `nmse ≤ 0.01`; `adv ≥ 0.9` on old rows), **weakly**
  learned (`auc ≥ 0.55` with its interval above 1/2; for `nmse`, explained variance
  `1 − nmse ≥ 0.05` with the interval of `nmse` below 1; `adv ≥ 0.05` with the interval
  excluding 0 on old rows), **below** trivial (`adv ≤ −0.05` with the interval below 0 and the
  `acc01` interval below 1/2 on PRG families, since the trivial baseline knows the public
  informative test and a learner that does not is otherwise merely at chance; `nmse ≥ 1.05` with
  the interval above 1),
  **at chance** (`chance`) otherwise; **failed** when more than half of the runs failed (the
  survivors' mean is not reported as a status), every failure counted in `failed`; `flagged` counts
  the scored runs that carry the learner's own diagnosis (`flags`, e.g. tensor's "no eigengap").

PRG vs null (`null_gaps`): each PRG group is paired with its `null=True` twin (same instance config
otherwise, same learner and budget); gap = mean auc(PRG) − mean auc(null) (`adv` on old rows),
two-sided permutation p-value (`stats.permutation_pvalue`); flagged when p < 0.01 and gap > 0.05.

Frontier (`frontier`): per learner, family and target, the largest n (d for families without n)
learned, the smallest budget learned there and its wall time (compile + run seconds of the
cell), where the target is the main instance (not null, not dictator; status learned) or its
dictator control (learned: `acc01_cal ≥ 0.9`); reference learners left out. Compute accounting as
in LWE benchmarking: the hardest instance solved, and at what cost.

Groups know what their pieces are from the rows (`learner_kind`, `family_kind`,
`informative_fraction`, written by the runner); rows written before those fields existed get the
kinds from the registries.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hardnet import instances, learners
from hardnet.analysis import stats
from hardnet.core.rows import SCORES, Row
from hardnet.core.textio import canonical, from_jsonable

LEARNED_ADV, WEAK_ADV, LEARNED_NMSE = 0.9, 0.05, 0.01
LEARNED_ACC, WEAK_AUC = 0.9, 0.55  # calibration-free rule on PRG families (docs/metrics.md)
GAP_P, GAP_MIN = 0.01, 0.05
SPEC_SEEDS = (5, 3)  # instance seeds x learner seeds (docs/metrics.md)
METRICS = SCORES  # summarized per group (core/rows.py)
STATUSES = ("learned", "weakly", "chance", "below", "failed")


def read_rows(workdir: str | Path) -> list[Row]:
    """The rows of `<workdir>/results.jsonl` ("nan"/"inf" strings decoded)."""
    path = Path(workdir) / "results.jsonl"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [from_jsonable(json.loads(line)) for line in f if line.strip()]


def _finite(rows: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    v = np.array([float(r.get(name, math.nan)) for r in rows], dtype=np.float64)
    return v[np.isfinite(v)] if v.size else v


def label(cell: Mapping[str, Any]) -> str:
    inst = cell.get("instance_kwargs", {})
    parts = [str(cell.get("block") or cell["family"])]
    if cell.get("variant", "main") != "main":
        parts.append(str(cell["variant"]))
    elif inst.get("null"):
        parts.append("null")
    if inst.get("n") is not None:
        parts.append(f"n={inst['n']}")
    elif inst.get("d") is not None:
        parts.append(f"d={inst['d']}")
    if inst.get("predicate") is not None and cell.get("variant") != "dictator":
        parts.append(str(inst["predicate"]))
    if inst.get("inputs") is not None and str(inst["inputs"]) not in parts[0]:
        parts.append(f"{inst['inputs']} inputs")  # F5, unless its block's name says them
    return " ".join(parts)


def status(
    metric: str,
    ci: tuple[float, float, float],
    runs: int = 1,
    failed: int = 0,
    auc: tuple[float, float, float] | None = None,
) -> str:
    """learned / weakly / chance / below / failed (module docstring); `auc` is the interval
    that decides "weakly" when `metric` is `acc01_cal`."""
    mean, low, high = ci
    if not math.isfinite(mean) or 2 * failed > runs:
        return "failed"
    if metric == "acc01_cal":
        if mean >= LEARNED_ACC:
            return "learned"
        if auc is not None and auc[0] >= WEAK_AUC and auc[1] > 0.5:
            return "weakly"
        return "chance"  # "below" is judged on adv and acc01 (summarize)
    if metric == "adv":
        if mean >= LEARNED_ADV:
            return "learned"
        if mean >= WEAK_ADV and low > 0:
            return "weakly"
        return "below" if mean <= -WEAK_ADV and high < 0 else "chance"
    if mean <= LEARNED_NMSE:
        return "learned"
    if mean <= 1 - WEAK_ADV and high < 1:
        return "weakly"
    return "below" if mean >= 1 + WEAK_ADV and low > 1 else "chance"


def _kinds(row: Mapping[str, Any]) -> dict[str, Any]:
    """`learner_kind`, `family_kind` and `informative_fraction` of a row; from the registries
    (None where unknown) for rows written without them."""
    cell = row["cell"]
    out = {k: row.get(k) for k in ("learner_kind", "family_kind", "informative_fraction")}
    for field, lookup, name in (
        ("learner_kind", lambda x: learners.entry(x).kind, cell["learner"]),
        ("family_kind", instances.kind, cell["family"]),
    ):
        if out[field] is None:
            try:
                out[field] = lookup(name)
            except ValueError:
                pass
    return out


def summarize(rows: Iterable[Row], resamples: int = 2000) -> list[dict[str, Any]]:
    """One dict per instance × learner × budget group (module docstring), sorted by label."""
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        c = r["cell"]
        if (c.get("tuning") or {}).get("split") == "validation":
            continue  # a tuning trial, scored on validation rows (report: Tuning)
        key = (c["family"], canonical(c.get("instance_kwargs", {})), c.get("entry", c["learner"]))
        groups[(*key, c["learner"], int(c["budget"]))].append(r)
    out = []
    for (family, inst_json, entry, learner, budget), rs in groups.items():
        cell = rs[0]["cell"]
        inst = json.loads(inst_json)
        ok = [r for r in rs if not r.get("failed")]
        kinds = _kinds(rs[0])
        metric = "nmse"
        if kinds["family_kind"] == "prg":
            metric = "acc01_cal" if _finite(ok, "acc01_cal").size else "adv"
        g: dict[str, Any] = {
            "family": family,
            **kinds,
            "instance": inst,
            "block": cell.get("block"),
            "variant": cell.get("variant", "null" if inst.get("null") else "main"),
            "label": label(cell),
            "n": inst.get("n"),
            "size": inst.get("n", inst.get("d")),
            "predicate": inst.get("predicate"),
            "null": bool(inst.get("null", False)),
            "main": _main(cell, inst),
            "entry": entry,
            "learner": learner,
            "budget": budget,
            "runs": len(rs),
            "failed": len(rs) - len(ok),
            "fail_reasons": sorted({str(r.get("fail_reason")) for r in rs if r.get("failed")}),
            "flagged": sum(bool(r.get("flags")) for r in ok),
            "flags": sorted({str(r["flags"]) for r in ok if r.get("flags")}),
            "instance_seeds": len({r.get("instance_seed") for r in rs}),
            "learner_seeds": len({r.get("learner_seed") for r in rs}),
            "metric": metric,
            "wall_s": _wall(rs),
        }
        for name in METRICS:
            vals = _finite(ok, name)
            g[f"{name}_values"] = vals
            g[name] = stats.bootstrap_mean_ci(vals, resamples=resamples)
        g["status"] = status(metric, g[metric], g["runs"], g["failed"], g["auc"])
        if metric != "nmse" and g["status"] in ("chance", "below"):
            # below only when acc01 itself is below 1/2 (module docstring)
            below = status("adv", g["adv"]) == "below" and g["acc01"][2] < 0.5
            g["status"] = "below" if below else "chance"
        out.append(g)
    out.sort(key=lambda g: (g["label"], g["family"], g["entry"], g["budget"]))
    return out


def accuracy(g: Mapping[str, Any]) -> str:
    """The 0-1 accuracy that says whether a PRG group is learned: `acc01_cal`, or `acc01` for
    rows written before it existed."""
    return "acc01_cal" if g["metric"] == "acc01_cal" else "acc01"


def separation(g: Mapping[str, Any]) -> str:
    """The score whose PRG-versus-null difference is tested: `auc`, or `adv` for old rows."""
    return "auc" if g["metric"] == "acc01_cal" else "adv"


def _wall(rows: Sequence[Mapping[str, Any]]) -> float:
    """Compile + run seconds of the cells of a group (shared by the rows of a cell)."""
    per_cell = {}
    for r in rows:
        t = float(r.get("compile_s", math.nan)) + float(r.get("run_s", math.nan))
        per_cell[(r.get("cell_id"), r.get("seed_base"))] = t
    vals = [t for t in per_cell.values() if math.isfinite(t)]
    return float(sum(vals)) if vals else math.nan


def _twin_key(g: Mapping[str, Any], null: bool) -> tuple:
    inst = {**g["instance"], "null": null}
    return (g["family"], canonical(inst), g["entry"], g["budget"])


def null_gaps(summary: Sequence[Mapping[str, Any]], resamples: int = 5000) -> list[dict[str, Any]]:
    """PRG groups paired with their null twins: the gap of `separation(g)` (auc, or adv on old
    rows) with its permutation p-value and significance, and both groups' adv."""
    nulls = {_twin_key(g, True): g for g in summary if g["null"]}
    out = []
    for g in summary:
        if g["null"] or g["family_kind"] != "prg":
            continue
        twin = nulls.get(_twin_key(g, True))
        if twin is None:
            continue
        score = separation(g)
        a, b = g[f"{score}_values"], twin[f"{score}_values"]
        gap = float(np.mean(a) - np.mean(b)) if a.size and b.size else math.nan
        p = stats.permutation_pvalue(a, b, resamples=resamples)
        out.append(
            {
                "label": g["label"],
                "family": g["family"],
                "predicate": g["predicate"],
                "n": g["n"],
                "entry": g["entry"],
                "learner": g["learner"],
                "learner_kind": g["learner_kind"],
                "budget": g["budget"],
                "adv": g["adv"][0],
                "adv_null": twin["adv"][0],
                "score": score,
                "prg_score": g[score][0],
                "null_score": twin[score][0],
                "gap": gap,
                "p": p,
                "significant": bool(p < GAP_P and gap > GAP_MIN),
            }
        )
    return out


def _main(cell: Mapping[str, Any], inst: Mapping[str, Any]) -> bool:
    """A main instance: not a null, not a dictator control."""
    plain = cell.get("variant", "main") in ("main", None)
    return plain and not inst.get("null") and inst.get("predicate") != "dictator"


def _learned_on(g: Mapping[str, Any]) -> str | None:
    """ "instance" for a learned main instance, "dictator" for a learned dictator control (status
    learned, or `accuracy(g)` at least 0.9 on fresh informative rows), else None."""
    if g["status"] == "failed" or g["learner_kind"] == "reference" or g["size"] is None:
        return None
    if g["main"] and g["status"] == "learned":
        return "instance"
    dictator = g["predicate"] == "dictator" and not g["null"]
    if dictator and (g["status"] == "learned" or g[accuracy(g)][0] >= LEARNED_ACC):
        return "dictator"
    return None


def frontier(summary: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per learner entry, family and target (the instance itself, or its dictator control): the
    largest n (d) learned, the smallest budget learned there and its compile + run seconds."""
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for g in summary:
        target = _learned_on(g)
        if target is None:
            continue
        key = (g["entry"], g["family"], target)
        cur = best.get(key)
        if cur is None or (g["size"], -g["budget"]) > (cur["size"], -cur["samples"]):
            best[key] = {
                "entry": g["entry"],
                "learner": g["learner"],
                "family": g["family"],
                "target": target,
                "size": g["size"],
                "predicate": g["predicate"],
                "samples": g["budget"],
                "wall_s": g["wall_s"],
                "label": g["label"],
            }
    return [best[k] for k in sorted(best)]
