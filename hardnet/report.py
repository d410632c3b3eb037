"""The benchmark report: who learned what, with honest statistics (spec metrics.md).

Input: the rows of a workdir's `results.jsonl` (one per run, `hardnet/runner.py`). Runs are
grouped by instance (family + validated instance config) × learner (config entry) × budget.
Per group, over instance seeds × learner seeds (failed runs excluded from the statistics):

- mean and 95% percentile-bootstrap interval (`stats.bootstrap_mean_ci`) of `adv`, `nmse` and
  `mse_all`; the headline metric is `adv` on PRG families and `nmse` elsewhere (F6, F5);
- status: **learned** (`adv ≥ 0.9`, or `nmse ≤ 0.01`), **weakly** learned (`adv ≥ 0.05` with the
  interval excluding 0; for `nmse`, explained variance `1 − nmse ≥ 0.05` with the interval of
  `nmse` below 1), **trivial** otherwise, **failed** when every run failed.

PRG vs null (`null_gaps`): each PRG group is paired with its `null=True` twin (same instance config
otherwise, same learner and budget); gap = mean adv(PRG) − mean adv(null), two-sided permutation
p-value (`stats.permutation_pvalue`); flagged when p < 0.01 and gap > 0.05.

Frontier (`frontier`): per learner and family, the largest n (d for families without n) with a
learned group on a main instance (not null, not dictator; oracle and trivial left out), the
smallest budget learned there and its wall time (compile + run seconds of the cell).

Deviations (`deviations`) from the expected picture of metrics.md are listed at the top of
`report.md`. Plots (`plots/*.png`): headline metric against budget per learner, one file per
instance, with the 95% intervals as error bars.

Command: `python -m hardnet.report --workdir=DIR` (prints the report path and the table).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hardnet import stats
from hardnet.results import from_jsonable

PRG_FAMILIES = ("prg_boolean", "prg_gauss3_dv21", "prg_gauss3_smoothed", "prg_depth2_smoothed")
GENERIC = ("sgd", "kernel", "tensor", "poly")
REFERENCES = ("oracle", "trivial")
LEARNED_ADV, WEAK_ADV, LEARNED_NMSE = 0.9, 0.05, 0.01
GAP_P, GAP_MIN = 0.01, 0.05
SPEC_SEEDS = (5, 3)  # instance seeds x learner seeds (metrics.md)
MARK = {"learned": "**learned**", "weakly": "weak", "trivial": "trivial", "failed": "FAILED"}


def read_rows(workdir: str | Path) -> list[dict[str, Any]]:
    """The rows of `<workdir>/results.jsonl` ("nan"/"inf" strings decoded)."""
    path = Path(workdir) / "results.jsonl"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [from_jsonable(json.loads(line)) for line in f if line.strip()]


def _canon(x: Any) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"), default=str)


def _finite(rows: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    v = np.array([float(r.get(name, math.nan)) for r in rows], dtype=np.float64)
    return v[np.isfinite(v)] if v.size else v


def _label(cell: Mapping[str, Any]) -> str:
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
    return " ".join(parts)


def _status(metric: str, ci: tuple[float, float, float]) -> str:
    mean, low, high = ci
    if not math.isfinite(mean):
        return "failed"
    if metric == "adv":
        if mean >= LEARNED_ADV:
            return "learned"
        return "weakly" if mean >= WEAK_ADV and low > 0 else "trivial"
    if mean <= LEARNED_NMSE:
        return "learned"
    return "weakly" if mean <= 1 - WEAK_ADV and high < 1 else "trivial"


def summarize(rows: Iterable[Mapping[str, Any]], resamples: int = 2000) -> list[dict[str, Any]]:
    """One dict per instance × learner × budget group (module docstring), sorted by label."""
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        c = r["cell"]
        key = (c["family"], _canon(c.get("instance_kwargs", {})), c.get("entry", c["learner"]))
        groups[(*key, c["learner"], int(c["budget"]))].append(r)
    out = []
    for (family, inst_json, entry, learner, budget), rs in groups.items():
        cell = rs[0]["cell"]
        inst = json.loads(inst_json)
        ok = [r for r in rs if not r.get("failed")]
        metric = "adv" if family in PRG_FAMILIES else "nmse"
        g: dict[str, Any] = {
            "family": family,
            "instance": inst,
            "block": cell.get("block"),
            "variant": cell.get("variant", "null" if inst.get("null") else "main"),
            "label": _label(cell),
            "n": inst.get("n"),
            "size": inst.get("n", inst.get("d")),
            "predicate": inst.get("predicate"),
            "null": bool(inst.get("null", False)),
            "entry": entry,
            "learner": learner,
            "budget": budget,
            "runs": len(rs),
            "failed": len(rs) - len(ok),
            "fail_reasons": sorted({str(r.get("fail_reason")) for r in rs if r.get("failed")}),
            "instance_seeds": len({r.get("instance_seed") for r in rs}),
            "learner_seeds": len({r.get("learner_seed") for r in rs}),
            "metric": metric,
            "wall_s": _wall(rs),
        }
        for name in ("adv", "nmse", "mse_all"):
            vals = _finite(ok, name)
            g[f"{name}_values"] = vals
            g[name] = stats.bootstrap_mean_ci(vals, resamples=resamples)
        g["status"] = _status(metric, g[metric])
        out.append(g)
    out.sort(key=lambda g: (g["label"], g["family"], g["entry"], g["budget"]))
    return out


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
    return (g["family"], _canon(inst), g["entry"], g["budget"])


def null_gaps(summary: Sequence[Mapping[str, Any]], resamples: int = 5000) -> list[dict[str, Any]]:
    """PRG groups paired with their null twins: adv gap, permutation p-value, significance."""
    nulls = {_twin_key(g, True): g for g in summary if g["null"]}
    out = []
    for g in summary:
        if g["null"] or g["family"] not in PRG_FAMILIES:
            continue
        twin = nulls.get(_twin_key(g, True))
        if twin is None:
            continue
        a, b = g["adv_values"], twin["adv_values"]
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
                "budget": g["budget"],
                "adv": g["adv"][0],
                "adv_null": twin["adv"][0],
                "gap": gap,
                "p": p,
                "significant": bool(p < GAP_P and gap > GAP_MIN),
            }
        )
    return out


def _main_instance(g: Mapping[str, Any]) -> bool:
    return not g["null"] and g["predicate"] != "dictator" and g["variant"] in ("main", None)


def frontier(summary: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per learner entry and family: largest n learned (main instances), its budget and time."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for g in summary:
        if g["status"] != "learned" or not _main_instance(g) or g["learner"] in REFERENCES:
            continue
        if g["size"] is None:
            continue
        key = (g["entry"], g["family"])
        cur = best.get(key)
        if cur is None or (g["size"], -g["budget"]) > (cur["size"], -cur["samples"]):
            best[key] = {
                "entry": g["entry"],
                "learner": g["learner"],
                "family": g["family"],
                "size": g["size"],
                "predicate": g["predicate"],
                "samples": g["budget"],
                "wall_s": g["wall_s"],
                "label": g["label"],
            }
    return [best[k] for k in sorted(best)]


def _hard(g: Mapping[str, Any]) -> bool:
    """The conjectured-hard tier of the expected picture: tsa at n >= 32, or xor_maj."""
    pred = str(g["predicate"] or "")
    return (pred == "tsa" and (g["n"] or 0) >= 32) or pred.startswith("xor_maj")


def _largest_budget(summary: Sequence[Mapping[str, Any]]) -> dict[tuple, Mapping[str, Any]]:
    out: dict[tuple, Mapping[str, Any]] = {}
    for g in summary:
        key = (g["family"], _canon(g["instance"]), g["entry"])
        if key not in out or g["budget"] > out[key]["budget"]:
            out[key] = g
    return out


def _fmt_ci(ci: tuple[float, float, float]) -> str:
    mean, low, high = ci
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def deviations(
    summary: Sequence[Mapping[str, Any]], gaps: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    """Lines describing every departure from the expected picture of metrics.md."""
    gaps = null_gaps(summary) if gaps is None else gaps
    out = []
    few = set()
    for g in summary:
        where = f"`{g['entry']}` on {g['label']} ({g['family']}) at {g['budget']} samples"
        value = f"{g['metric']} {_fmt_ci(g[g['metric']])}"
        learner, good = g["learner"], g["status"] in ("learned", "weakly")
        if g["failed"]:
            out.append(
                f"{where}: {g['failed']}/{g['runs']} runs failed ({'; '.join(g['fail_reasons'])})"
            )
        if learner in GENERIC and _main_instance(g) and g["family"] in PRG_FAMILIES and _hard(g):
            if good:
                out.append(f"{where}: {g['status']} ({value}); expected trivial")
        if g["null"] and good and learner not in REFERENCES:
            out.append(f"{where}: {g['status']} on the null ({value}); expected trivial")
        if learner in GENERIC and g["predicate"] == "dictator" and not g["null"] and not good:
            out.append(
                f"{where}: {g['status']} on the dictator control ({value});"
                " expected learned or weakly"
            )
        if learner == "oracle" and g["status"] != "learned" and not g["null"]:
            out.append(f"{where}: the oracle is not learned ({value})")
        if learner in GENERIC and (
            g["instance_seeds"] < SPEC_SEEDS[0] or g["learner_seeds"] < SPEC_SEEDS[1]
        ):
            few.add(g["entry"])
    for g in _largest_budget(summary).values():
        if not _main_instance(g) or g["status"] == "learned":
            continue
        where = f"`{g['entry']}` on {g['label']} ({g['family']}) at {g['budget']} samples"
        value = f"{g['metric']} {_fmt_ci(g[g['metric']])}"
        n, pred = g["n"] or 0, g["predicate"]
        if g["learner"] == "brute_force" and g["family"] in PRG_FAMILIES and n <= 20:
            out.append(f"{where}: brute_force not learned at n <= 20 ({value})")
        if g["learner"] == "gf2" and pred == "xor":
            out.append(f"{where}: gf2 not learned on xor ({value})")
        if g["learner"] == "gf2" and pred == "tsa" and n <= 64:
            # n²/2 informative samples; rows lack the informative count: assume a fraction
            # >= 1/2 on smoothed families (F3 tsa: 0.53) and 1 on prg_boolean
            frac = 1.0 if g["family"] == "prg_boolean" else 0.5
            if g["budget"] * frac >= n * n / 2:
                out.append(f"{where}: gf2 not learned beyond n²/2 informative samples ({value})")
        if g["learner"] in ("tensor", "sgd") and g["family"] == "easy_depth2":
            out.append(f"{where}: {g['learner']} not learned on F6 ({value})")
    for gap in gaps:
        if gap["significant"] and gap["learner"] in GENERIC:
            out.append(
                f"`{gap['entry']}` on {gap['label']} ({gap['family']}) at {gap['budget']} samples:"
                f" PRG-vs-null gap {gap['gap']:.3f} (p = {gap['p']:.4f}); expected none"
            )
    if few:
        out.append(
            f"fewer seeds than the spec's {SPEC_SEEDS[0]} instance x {SPEC_SEEDS[1]} learner "
            f"seeds for: {', '.join(sorted(few))}"
        )
    return out


def table(summary: Sequence[Mapping[str, Any]]) -> str:
    """The learners × instances table (markdown), one line per group."""
    lines = [
        "| instance | family | learner | budget | runs | failed | metric | mean [95% CI] "
        "| status |",
        "|---|---|---|---:|---:|---:|---|---|---|",
    ]
    for g in summary:
        lines.append(
            f"| {g['label']} | {g['family']} | {g['entry']} | {g['budget']} | {g['runs']} | "
            f"{g['failed']} | {g['metric']} | {_fmt_ci(g[g['metric']])} | {MARK[g['status']]} |"
        )
    return "\n".join(lines)


def _gap_table(gaps: Sequence[Mapping[str, Any]]) -> str:
    if not gaps:
        return "No PRG instance has a null twin in these results."
    lines = [
        "| instance | learner | budget | adv | adv (null) | gap | p | flag |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for x in gaps:
        lines.append(
            f"| {x['label']} ({x['family']}) | {x['entry']} | {x['budget']} | {x['adv']:.3f} | "
            f"{x['adv_null']:.3f} | {x['gap']:.3f} | {x['p']:.4f} | "
            f"{'**significant**' if x['significant'] else ''} |"
        )
    return "\n".join(lines)


def _frontier_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "No learner learned a main instance."
    lines = [
        "| learner | family | largest n (d) learned | instance | samples | wall s |",
        "|---|---|---:|---|---:|---:|",
    ]
    for x in rows:
        lines.append(
            f"| {x['entry']} | {x['family']} | {x['size']} | {x['label']} | {x['samples']} | "
            f"{x['wall_s']:.1f} |"
        )
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.") or "plot"


def plot_curves(summary: Sequence[Mapping[str, Any]], plots_dir: str | Path) -> list[Path]:
    """One PNG per instance: headline metric (mean, 95% CI bars) against budget, per learner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    by_inst: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for g in summary:
        by_inst[(g["label"], g["family"])].append(g)
    paths = []
    for (label, family), gs in sorted(by_inst.items()):
        metric = gs[0]["metric"]
        fig, ax = plt.subplots(figsize=(6, 4))
        by_learner: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for g in gs:
            by_learner[g["entry"]].append(g)
        for entry, lg in sorted(by_learner.items()):
            lg = sorted(lg, key=lambda g: g["budget"])
            x = np.array([g["budget"] for g in lg], dtype=float)
            ci = np.array([g[metric] for g in lg], dtype=float)
            err = np.abs(np.stack([ci[:, 0] - ci[:, 1], ci[:, 2] - ci[:, 0]]))
            ax.errorbar(x, ci[:, 0], yerr=err, marker="o", capsize=3, label=entry)
        ax.set_xscale("log")
        if metric == "adv":
            ax.axhline(LEARNED_ADV, color="gray", ls="--", lw=0.8)
            ax.axhline(0.0, color="gray", lw=0.8)
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.axhline(LEARNED_NMSE, color="gray", ls="--", lw=0.8)
        ax.set_xlabel("training samples")
        ax.set_ylabel(metric)
        ax.set_title(f"{label} ({family})")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = plots_dir / f"{_slug(label + '-' + family)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def render(summary: Sequence[Mapping[str, Any]], plots: Sequence[Path] = ()) -> str:
    """The text of report.md."""
    gaps = null_gaps(summary)
    devs = deviations(summary, gaps)
    parts = ["# hardnet benchmark report", "", "## Deviations from the expected picture", ""]
    parts += [f"- {d}" for d in devs] if devs else ["None: the results match metrics.md."]
    parts += [
        "",
        "## Learners x instances",
        "",
        f"Mean [95% bootstrap CI] over instance x learner seeds; `adv` on PRG families (learned "
        f">= {LEARNED_ADV}, weak >= {WEAK_ADV} with the CI excluding 0), `nmse` elsewhere "
        f"(learned <= {LEARNED_NMSE}).",
        "",
        table(summary),
        "",
        "## PRG vs null",
        "",
        f"gap = adv(PRG) - adv(null); two-sided permutation p-value; significant when p < {GAP_P}"
        f" and gap > {GAP_MIN}.",
        "",
        _gap_table(gaps),
        "",
        "## Frontier",
        "",
        _frontier_table(frontier(summary)),
        "",
    ]
    if plots:
        parts += ["## Learning curves", ""]
        parts += [f"![{p.stem}](plots/{p.name})" for p in plots]
        parts.append("")
    return "\n".join(parts)


def write_report(workdir: str | Path, rows: Sequence[Mapping[str, Any]] | None = None) -> Path:
    """Write `<workdir>/report.md` and `<workdir>/plots/*.png`; return the report's path."""
    workdir = Path(workdir)
    return _write(workdir, summarize(read_rows(workdir) if rows is None else rows))


def _write(workdir: Path, summary: Sequence[Mapping[str, Any]]) -> Path:
    from hardnet.results import atomic_write_text

    plots = plot_curves(summary, workdir / "plots") if summary else []
    path = workdir / "report.md"
    atomic_write_text(path, render(summary, plots))
    return path


def main(argv: Sequence[str]) -> None:
    from absl import flags

    if len(argv) > 1:
        raise SystemExit(f"unexpected arguments: {' '.join(argv[1:])}")
    workdir = flags.FLAGS.workdir
    if not workdir or not Path(workdir).is_dir():
        raise SystemExit(f"--workdir must be an existing directory, got {workdir!r}")
    rows = read_rows(workdir)
    if not rows:
        raise SystemExit(f"--workdir={workdir}: no results.jsonl rows")
    summary = summarize(rows)
    print(_write(Path(workdir), summary))
    print(table(summary))


def define_flags() -> None:
    """`--workdir` (skipped when another entry point already defined it)."""
    from absl import flags

    if "workdir" not in flags.FLAGS:
        flags.DEFINE_string("workdir", None, "Benchmark workdir holding results.jsonl.")


def run() -> None:
    """Console-script entry point (`hardnet-report`)."""
    from absl import app

    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
