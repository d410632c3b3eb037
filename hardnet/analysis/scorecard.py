"""Score cards: a learner's results on a suite tier beside the built-in ones (docs/outside.md).

`card(rows, suite, tier)` summarizes rows per learner entry and setup:

- PRG setups (roles main, null, dictator): per budget, `acc01_cal` of each role with its 95%
  bootstrap interval over runs, the PRG−null gap of the verdict's separation score (`auc`) with
  its permutation p-value (`verdict.verdicts`), and the learner's verdict on the setup at its
  largest budget ("consistent", "broken", "some seeds", "inconclusive");
- planted setups (F5, F6: no null, no dictator): per budget, `nmse` with its interval and the
  status the report gives it; no PRG verdict;
- health: cells and runs finished, and why the others failed.

`leaderboard_rows(card, ...)` flattens a card into the leaderboard's rows (one per learner ×
setup × budget); `markdown(card, reference)` renders it; `figure(card, path)` draws it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hardnet import suites
from hardnet.analysis import figures, summary, verdict
from hardnet.core.rows import Row

ROLE_OF_VARIANT = {"prg": "main", "null": "null", "dictator": "dictator"}


def _interval(ci: Sequence[float]) -> dict[str, float]:
    mean, lo, hi = (float(v) for v in ci)
    return {"mean": mean, "lo": lo, "hi": hi}


def _role_cell(g: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {"acc01_cal": _interval(g["acc01_cal"]), "auc": _interval(g["auc"]),
            "status": verdict.status(g), "runs": g["runs"], "failed": g["failed"]}  # fmt: skip


def card(rows: Sequence[Row], suite: suites.Suite, budgets: Mapping[str, Sequence[int]]) -> dict:
    """`{"learners": {entry: {setup: {...}}}, "health": {...}}` of `rows` on the setups of
    `budgets` (a tier's, or those the rows ran). Setups are recognized by block name."""
    groups = [g for g in summary.summarize(rows) if g["block"] in budgets]
    judged = {(v["setup"].split(" ")[0], v["entry"]): v for v in verdict.verdicts(groups)}
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for g in groups:
        if g["learner_kind"] == "reference":
            continue
        variant = verdict.variant_of(g) if g["family_kind"] == "prg" else "prg"
        by[(g["entry"], g["block"])].setdefault(g["budget"], {})[variant] = g
    learners: dict[str, dict[str, Any]] = defaultdict(dict)
    order = {name: k for k, name in enumerate(suite.setups)}
    for (entry, block), per_budget in sorted(
        by.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])
    ):
        setup = suite.setups[block]
        out: dict[str, Any] = {"title": setup.title, "prg": setup.prg, "budgets": []}
        for budget, variants in sorted(per_budget.items()):
            if setup.prg:
                _, gap, p = verdict.gap_test(variants.get("prg"), variants.get("null"))
                item = {"budget": budget, "gap": gap, "p": p}
                for variant, role in ROLE_OF_VARIANT.items():
                    item[role] = _role_cell(variants.get(variant))
            else:
                g = variants["prg"]
                item = {"budget": budget, "nmse": _interval(g["nmse"]), "status": g["status"],
                        "runs": g["runs"], "failed": g["failed"]}  # fmt: skip
            out["budgets"].append(item)
        if setup.prg and (v := judged.get((block, entry))) is not None:
            out["verdict"] = v["verdict"]
        learners[entry][block] = out
    return {"learners": dict(learners), "health": health(rows)}


def health(rows: Sequence[Row]) -> dict[str, Any]:
    """Cells that finished (at least one run scored), runs that failed, and why."""
    cells: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        cells[r["cell_id"]].append(r)
    finished = sum(any(not r.get("failed") for r in rs) for rs in cells.values())
    reasons: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.get("failed"):
            reasons[str(r.get("fail_reason"))[:160]] += 1
    return {"cells": len(cells), "cells_finished": finished, "runs": len(rows),
            "runs_failed": sum(reasons.values()), "fail_reasons": dict(reasons)}  # fmt: skip


def leaderboard_rows(scored: Mapping[str, Any], about: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per learner × setup × budget of a card, with `about` (suite, version,
    fingerprints, tier, hardnet version, device, framework, verified) in every row."""
    out = []
    for entry, setups in scored["learners"].items():
        for block, s in setups.items():
            for item in s["budgets"]:
                row = {**about, "learner": entry, "setup": block, "budget": item["budget"]}
                if s["prg"]:
                    for role in ("main", "null", "dictator"):
                        cell = item[role]
                        row[role] = None if cell is None else _round(cell["acc01_cal"]["mean"])
                    row.update(gap=_round(item["gap"]), p=_round(item["p"]),
                               verdict=s.get("verdict"))  # fmt: skip
                else:
                    row.update(nmse=_round(item["nmse"]["mean"]), status=item["status"])
                out.append(row)
    return out


def _round(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(f"{float(x):.4g}")


def _acc(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return "–"
    a = cell["acc01_cal"]
    if not math.isfinite(a["mean"]):
        return f"failed ({cell['failed']}/{cell['runs']})"
    return f"{a['mean']:.2f} [{a['lo']:.2f}, {a['hi']:.2f}]"


def _p(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.2g}"


def markdown(scored: Mapping[str, Any], reference: Mapping[str, Any] | None, header: str) -> str:
    """The score card as Markdown: `header` (who, which suite, where), then per setup the
    learner's rows at every budget and the reference learners' at their largest budget."""
    lines = [header, ""]
    ref = (reference or {}).get("learners", {})
    mine = scored["learners"]
    blocks = list(dict.fromkeys(b for setups in mine.values() for b in setups))
    for block in blocks:
        first = next(s[block] for s in mine.values() if block in s)
        lines += [f"### {first['title']} (`{block}`)", ""]
        rows: list[tuple[str, dict, str]] = []
        for entry, setups in mine.items():
            if block in setups:
                items = setups[block]["budgets"]
                word = setups[block].get("verdict", "")  # judged at the largest budget
                rows += [(f"**{entry}** (as submitted)", i, word if i is items[-1] else "")
                         for i in items]  # fmt: skip
        for entry, setups in ref.items():
            if block in setups:
                s = setups[block]
                rows.append((f"{entry} (reference)", s["budgets"][-1], s.get("verdict", "")))
        if first["prg"]:
            lines += [
                "| learner | budget | PRG acc01_cal [95% CI] | null | dictator | "
                "auc gap PRG−null (p) | verdict |",
                "|---|---:|---|---|---|---|---|",
            ]
            for name, i, word in rows:
                gap = "–" if not math.isfinite(i["gap"]) else f"{i['gap']:+.3f} ({_p(i['p'])})"
                lines.append(
                    f"| {name} | {i['budget']:,} | {_acc(i['main'])} | "
                    f"{_acc(i['null'])} | {_acc(i['dictator'])} | {gap} | {word} |"
                )
        else:
            lines += ["| learner | budget | nmse [95% CI] | status |", "|---|---:|---|---|"]
            for name, i, _ in rows:
                n = i["nmse"]
                text = (
                    "failed"
                    if not math.isfinite(n["mean"])
                    else (f"{n['mean']:.3g} [{n['lo']:.3g}, {n['hi']:.3g}]")
                )
                lines.append(f"| {name} | {i['budget']:,} | {text} | {i['status']} |")
        lines.append("")
    h = scored["health"]
    lines += ["### Health", "",
              f"{h['cells_finished']} of {h['cells']} cells finished; {h['runs_failed']} of "
              f"{h['runs']} runs failed."]  # fmt: skip
    lines += [f"- {n} × {reason}" for reason, n in sorted(h["fail_reasons"].items())]
    return "\n".join(lines) + "\n"


def figure(scored: Mapping[str, Any], path: str | Path, learner: str) -> Path:
    """acc01_cal against budget per PRG setup (PRG, null, dictator), nmse per planted setup,
    and the health bar: small multiples at README width."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setups = scored["learners"].get(learner, {})
    prg = [b for b, s in setups.items() if s["prg"]]
    planted = [b for b, s in setups.items() if not s["prg"]]
    panels = len(prg) + (1 if planted else 0) + 1
    cols = min(4, panels)
    rows_n = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.9 * rows_n), squeeze=False)
    flat = list(axes.ravel())
    colors = {"main": "#c0392b", "null": "#7f8c8d", "dictator": "#2471a3"}
    for ax, block in zip(flat, prg, strict=False):
        s = setups[block]
        for role, label in (("main", "PRG"), ("null", "null"), ("dictator", "dictator")):
            pts = [(i["budget"], i[role]["acc01_cal"]) for i in s["budgets"] if i[role]]
            pts = [(b, a) for b, a in pts if math.isfinite(a["mean"])]
            if not pts:
                continue
            xs = [b for b, _ in pts]
            ax.plot(xs, [a["mean"] for _, a in pts], "o-", color=colors[role], label=label)
            ax.fill_between(xs, [a["lo"] for _, a in pts], [a["hi"] for _, a in pts],
                            color=colors[role], alpha=0.15)  # fmt: skip
        ax.axhline(0.5, color="k", lw=0.6, ls=":")
        figures.samples_axis(ax, [i["budget"] for i in s["budgets"]])
        ax.set_ylim(0.35, 1.03)
        ax.set_title(f"{s['title']}\n{s.get('verdict', '')}", fontsize=9)
        ax.set_xlabel("samples", fontsize=8)
        ax.set_ylabel("acc01_cal", fontsize=8)
        ax.tick_params(labelsize=7)
    if prg:
        flat[0].legend(fontsize=7, loc="center right")
    used = len(prg)
    if planted:
        ax = flat[used]
        for k, block in enumerate(planted):
            items = [i for i in setups[block]["budgets"] if math.isfinite(i["nmse"]["mean"])]
            ax.plot([i["budget"] for i in items], [i["nmse"]["mean"] for i in items], "o-",
                    label=block, color=f"C{k}")  # fmt: skip
        figures.samples_axis(ax, [i["budget"] for b in planted for i in setups[b]["budgets"]])
        ax.set_ylim(bottom=0)
        ax.set_title("F5 / F6: nmse (lower is better)", fontsize=9)
        ax.set_xlabel("samples", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
        used += 1
    ax = flat[used]
    h = scored["health"]
    done, failed = h["cells_finished"], h["cells"] - h["cells_finished"]
    ax.barh(["cells"], [done], height=0.3, color="#27ae60", label="finished")
    ax.barh(["cells"], [failed], height=0.3, left=[done], color="#c0392b", label="failed")
    ax.set_xlim(0, max(1, h["cells"]))
    ax.set_title(f"health: {done}/{h['cells']} cells finished", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.tick_params(labelsize=7)
    for ax in flat[used + 1 :]:
        ax.axis("off")
    fig.suptitle(f"{learner}: score card", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
