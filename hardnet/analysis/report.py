"""The benchmark report: `report.md`, PNG plots and flat exports of a workdir's results.

`write_report(workdir)` (run at the end of every `hardnet-bench` run, and by `hardnet-report`)
writes `<workdir>/report.md`: the headline figure, the sample-complexity figures and the verdict
first (`analysis/figures.py`, `analysis/verdict.py`), then the deviations from the expected
picture (`analysis/expected.py`), the learners × instances table (mean and 95% interval of the
headline metric, with learned / weak / at chance / below / FAILED marks; `analysis/summary.py`),
PRG-versus-null and PRG-versus-dictator gaps with p-values, the frontier table, and learning
curves (`plots/*.png`: headline metric against budget per learner, one file per instance).

`hardnet-report --workdir=DIR [--format=md|csv|parquet]` (`cli/report.py`) also exports the flat
per-run table (`export`): one line per run with the cell parameters flattened (`cell.*`), curves
left out.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hardnet.analysis import figures, verdict
from hardnet.analysis.expected import deviations, fmt_ci
from hardnet.analysis.metrics import trial_score
from hardnet.analysis.summary import (
    GAP_MIN,
    GAP_P,
    LEARNED_ACC,
    LEARNED_NMSE,
    WEAK_AUC,
    accuracy,
    frontier,
    null_gaps,
    read_rows,
    summarize,
)
from hardnet.core.rows import Row
from hardnet.core.textio import atomic_write_text, canonical, markdown_table

__all__ = ["deviations", "export", "frontier", "null_gaps", "read_rows", "summarize"]

MARK = {
    "learned": "**learned**",
    "weakly": "weak",
    "chance": "at chance",
    "below": "below chance",
    "failed": "FAILED",
}


def table(summary: Sequence[Mapping[str, Any]]) -> str:
    """The learners × instances table (markdown), one line per group."""
    rows = []
    for g in summary:
        mark = MARK[g["status"]]
        if g["failed"]:
            mark += f" ({g['failed']}/{g['runs']} failed)"
        if g["flagged"]:
            mark += f" ({g['flagged']}/{g['runs']} flagged)"
        prg = g["metric"] != "nmse"
        num = lambda name: f"{g[name][0]:.2f}" if prg and math.isfinite(g[name][0]) else ""
        rows.append(
            (g["label"], g["family"], g["entry"], g["budget"], g["runs"], g["failed"],
             g["metric"], fmt_ci(g[g["metric"]]), num("auc"), num("acc01"), num("adv"), mark)
        )  # fmt: skip
    header = ("instance", "family", "learner", "budget", "runs", "failed", "metric",
              "mean [95% CI]", "auc", "acc01", "adv", "status")  # fmt: skip
    return markdown_table(header, rows, "lllrrrllrrrl")


def _gap_table(gaps: Sequence[Mapping[str, Any]]) -> str:
    if not gaps:
        return "No PRG instance has a null twin in these results."
    rows = [
        (f"{x['label']} ({x['family']})", x["entry"], x["budget"], x["score"],
         f"{x['prg_score']:.3f}", f"{x['null_score']:.3f}", f"{x['gap']:.3f}", f"{x['p']:.4f}",
         f"{x['adv']:.3f} / {x['adv_null']:.3f}", "**significant**" if x["significant"] else "")
        for x in gaps
    ]  # fmt: skip
    header = ("instance", "learner", "budget", "score", "PRG", "null", "gap", "p",
              "adv PRG / null", "flag")  # fmt: skip
    return markdown_table(header, rows, "llrlrrrrrl")


def _frontier_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "No learner learned a main instance."
    header = ("learner", "family", "learned", "largest n (d)", "instance", "samples", "wall s")
    body = [
        (x["entry"], x["family"], x["target"], x["size"], x["label"], x["samples"],
         f"{x['wall_s']:.1f}")
        for x in rows
    ]  # fmt: skip
    return markdown_table(header, body, "lllrlrr")


def _verdict_table(judged: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for v in judged:
        acc = lambda g: "" if g is None else f"{g[accuracy(g)][0]:.2f} @{g['budget']:,}"
        gap = "" if not math.isfinite(v["gap"]) else f"{v['gap']:.3f} (p {v['p']:.3g})"
        rows.append((v["setup"], v["family"], v["entry"], acc(v["prg"]), acc(v["null"]),
                     acc(v["dictator"]), gap, v["verdict"]))  # fmt: skip
    if not rows:
        return "No PRG family in these results."
    header = ("setup", "family", "learner", "acc01_cal PRG", "acc01_cal null",
              "acc01_cal dictator", "auc gap PRG−null", "verdict")  # fmt: skip
    return markdown_table(header, rows)


def _dictator_table(summary: Sequence[Mapping[str, Any]]) -> str:
    gaps = verdict.dictator_gaps(summary)
    if not gaps:
        return "No PRG instance has a dictator twin in these results."
    rows = [
        (x["setup"], x["entry"], x["budget"], x["score"], f"{x['prg_score']:.3f}",
         f"{x['dictator_score']:.3f}", f"{x['gap']:.3f}", f"{x['p']:.4f}")
        for x in gaps
    ]  # fmt: skip
    header = ("setup", "learner", "budget", "score", "PRG", "dictator", "gap", "p")
    return markdown_table(header, rows, "llrlrrrr")


def _tuning_section(rows: Sequence[Row]) -> list[str]:
    """The tuning protocol as run: per tuned entry and setup, the space, every trial's point and
    validation score, and the frozen choice (run/tuning.py)."""
    trials: dict[tuple, dict[int, list[Row]]] = defaultdict(lambda: defaultdict(list))
    frozen: dict[tuple, Mapping[str, Any]] = {}
    for r in rows:
        cell = r["cell"]
        info = cell.get("tuning")
        if not info:
            continue
        n = cell["instance_kwargs"].get("n", cell["instance_kwargs"].get("d"))
        key = (cell["entry"], cell["block"], n)
        if "trial" in info:
            trials[key][info["trial"]].append(r)
        else:
            frozen[key] = info
    if not trials:
        return []
    out = ["## Tuning", "", "Each tuned learner ran a fixed number of quasi-random trials (Halton "
           "points of its declared space) at the tuning budget, scored on a validation stream of "
           "the setup's dictator control (acc01_cal; F6 and other non-PRG families: −nmse); the "
           "best trial was frozen and run unchanged on the PRG, its null and the dictator control "
           "(docs/metrics.md, Tuning protocol).", ""]  # fmt: skip
    for key, by_trial in sorted(trials.items(), key=lambda kv: str(kv[0])):
        entry, block, n = key
        chosen = frozen.get(key, {})
        prg = any("acc01" in r for rs in by_trial.values() for r in rs)
        first = next(iter(by_trial.values()))[0]["cell"]
        out.append(f"**`{entry}` on {block} n={n}** (budget {first['budget']:,}; space "
                   f"{chosen.get('space', '?')}):")  # fmt: skip
        body = []
        for t in sorted(by_trial):
            point = by_trial[t][0]["cell"]["tuning"]["point"]
            mark = "**frozen**" if chosen.get("frozen") == t else ""
            body.append((t, canonical(point), f"{trial_score(by_trial[t], prg):.3f}", mark))
        out += ["", markdown_table(("trial", "point", "score", ""), body, "lllr"), ""]
    return out


def render(
    summary: Sequence[Mapping[str, Any]],
    figures_: Mapping[str, Any] | None = None,
    rows: Sequence[Row] = (),
    judged: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """The text of report.md: the headline figure, the sample-complexity figures and the
    verdict first (docs/metrics.md, "Verdict"), then deviations, tables and curves."""
    figures_ = figures_ or {}
    gaps = null_gaps(summary)
    devs = deviations(summary, gaps)
    parts = ["# hardnet benchmark report", ""]
    if figures_.get("headline"):
        parts += [f"![headline](plots/{figures_['headline'].name})", ""]
    parts += [f"![{p.stem}](plots/{p.name})" for p in figures_.get("samples", ())]
    parts += ["", "## Verdict", ""]
    if judged is None:  # once: the paragraphs, the table and the figure share it
        judged = verdict.verdicts(summary)
    paragraphs = verdict.paragraphs(summary, judged) + verdict.planted_paragraphs(summary)
    parts += [f"{x}\n" for x in paragraphs] if paragraphs else ["No family in these results.", ""]
    parts += ["", _verdict_table(judged), "", "## Deviations from the expected picture", ""]
    parts += [f"- {d}" for d in devs] if devs else ["None: the results match docs/metrics.md."]
    parts += [
        "",
        "## Learners x instances",
        "",
        f"Mean [95% bootstrap CI] over instance x learner seeds; on PRG families the "
        f"calibration-free `acc01_cal` (learned >= {LEARNED_ACC}; weakly: `auc` >= {WEAK_AUC} "
        f"with its CI above 1/2; `adv` on results written before these scores existed), `nmse` "
        f"elsewhere (learned <= {LEARNED_NMSE}).",
        "",
        table(summary),
        "",
        "## PRG vs null",
        "",
        f"gap = auc(PRG) - auc(null) (adv on results written before auc existed); two-sided "
        f"permutation p-value; significant when p < {GAP_P} and gap > {GAP_MIN}.",
        "",
        _gap_table(gaps),
        "",
        "## PRG vs dictator",
        "",
        "gap = acc01_cal(dictator) - acc01_cal(PRG) at the same learner and budget; two-sided "
        "permutation p-value.",
        "",
        _dictator_table(summary),
        "",
        "## Frontier",
        "",
        _frontier_table(frontier(summary)),
        "",
    ]
    parts += _tuning_section(rows)
    if figures_.get("curves"):
        parts += ["## Learning curves", ""]
        parts += [f"![{p.stem}](plots/{p.name})" for p in figures_["curves"]]
        parts.append("")
    return "\n".join(parts)


def write_report(workdir: str | Path, rows: Sequence[Row] | None = None) -> Path:
    """Write `<workdir>/report.md` and `<workdir>/plots/*.png`; return the report's path."""
    workdir = Path(workdir)
    rows = read_rows(workdir) if rows is None else rows
    return write(workdir, summarize(rows), rows)


def write(workdir: Path, summary: Sequence[Mapping[str, Any]], rows: Sequence[Row] = ()) -> Path:
    """Write `<workdir>/report.md` and its plots from a summary; return the report's path."""
    plots = workdir / "plots"
    drawn = {}
    judged = verdict.verdicts(summary)
    if summary:
        drawn = {
            "headline": figures.headline(summary, plots / "headline.png", judged=judged),
            "samples": figures.sample_complexity(summary, plots),
            "curves": figures.curves(summary, plots),
        }
    path = workdir / "report.md"
    atomic_write_text(path, render(summary, drawn, rows, judged))
    return path


EXPORT_FORMATS = ("md", "csv", "parquet")
_FIRST = ("cell_id", "family", "block", "variant", "entry", "learner", "budget")


def flat_rows(rows: Sequence[Row]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): one flat dict per run. Cell fields become columns (`instance.<k>` and
    `learner.<k>` for the keyword arguments; lists and dicts as JSON text); `curves` are left
    out (TensorBoard has them)."""
    out = []
    for r in rows:
        flat: dict[str, Any] = {}
        cell = r.get("cell", {})
        for k, v in cell.items():
            if k == "instance_kwargs":
                flat.update({f"instance.{a}": b for a, b in v.items()})
            elif k == "learner_kwargs":
                flat.update({f"learner.{a}": b for a, b in v.items()})
            elif k not in ("cell_id", "instance_seeds", "learner_seeds"):
                flat[k] = v
        flat.update({k: v for k, v in r.items() if k not in ("cell", "curves")})
        out.append({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in flat.items()})
    names = {k for r in out for k in r}
    columns = [c for c in _FIRST if c in names] + sorted(names - set(_FIRST))
    return columns, out


def export(rows: Sequence[Row], path: str | Path, fmt: str) -> Path:
    """Write the flat per-run table (`flat_rows`) as `md`, `csv` or `parquet` (needs pyarrow)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    columns, flat = flat_rows(rows)
    path = Path(path)
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError("format parquet needs pyarrow: pip install pyarrow") from None
        data = {c: [r.get(c) for r in flat] for c in columns}
        data = {c: v if _uniform(v) else [None if x is None else str(x) for x in v]
                for c, v in data.items()}  # fmt: skip
        pq.write_table(pa.table(data), path)
        return path
    if fmt == "csv":
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        atomic_write_text(path, buf.getvalue())
        return path
    body = [[r.get(c) for c in columns] for r in flat]
    atomic_write_text(path, markdown_table(columns, body) + "\n")
    return path


def _uniform(values: list[Any]) -> bool:
    """Whether a column holds one scalar type (else parquet gets it as text)."""
    kinds = {bool if isinstance(v, bool) else float if isinstance(v, int | float) else type(v)
             for v in values if v is not None}  # fmt: skip
    return len(kinds) <= 1
