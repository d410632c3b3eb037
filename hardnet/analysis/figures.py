"""The report's figures (PNG, matplotlib's Agg backend), drawn from summary groups.

- `headline`: small multiples, one panel per setup (`panels`): per PRG setup
  (`verdict.setup_of`) learners as rows and the columns PRG · null · dictator, then the
  verdict's word for the learner; per planted family and size (F6, F5) a column per instance.
  Each cell is colored by the status the verdict reads (`verdict.status`: on PRG families
  "learned" is `acc01_cal ≥ 0.9`) at the largest budget run there, and shows that budget and
  its number (acc01_cal, or nmse on planted families). Reference learners are left out.
- `sample_complexity`: per PRG setup, one panel per learner: acc01_cal (mean and 95% interval)
  against training samples, the PRG, null and dictator curves overlaid, chance at 1/2.
- `curves`: per instance, the headline metric against budget, one line per learner.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hardnet import instances
from hardnet.analysis import verdict
from hardnet.analysis.summary import LEARNED_ACC, LEARNED_ADV, LEARNED_NMSE, accuracy
from hardnet.analysis.verdict import setup_label, setup_of, variant_of
from hardnet.core.textio import slug

Group = Mapping[str, Any]
COLORS = {  # status -> cell color of the headline figure
    "learned": "#1a9850",
    "weakly": "#a6d96a",
    "chance": "#d9d9d9",
    "below": "#fdae61",
    "failed": "#d73027",
}
STATUS_WORDS = {
    "learned": "learned",
    "weakly": "weakly learned",
    "chance": "at chance",
    "below": "below chance",
    "failed": "failed",
}
VARIANTS = ("prg", "null", "dictator")
LINES = {"prg": ("C3", "o"), "null": ("C7", "s"), "dictator": ("C0", "^")}


def budget_text(samples: int) -> str:
    """`512`, `20k`, `4M`: a sample count in a few characters."""
    for scale, suffix in ((10**6, "M"), (10**3, "k")):
        value = samples / scale
        if value >= 1 and (round(value, 1) == value or value >= 100):
            return f"{value:.3g}{suffix}"
    return str(samples)


def samples_axis(ax: Any, samples: Sequence[float]) -> None:
    """A log axis of training samples with a label at every decade only ("1k", "100k", "1M"),
    widened to hold at least one decade, and no minor-tick labels."""
    from matplotlib import ticker

    lo, hi = float(min(samples)) / 1.6, float(max(samples)) * 1.6
    if math.floor(math.log10(hi)) < math.ceil(math.log10(lo)):  # no decade inside
        lo = min(lo, 10 ** math.floor(math.log10(lo)))
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, numticks=12))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: budget_text(round(x))))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclasses.dataclass(frozen=True)
class Panel:
    """One setup of the headline figure: learners (rows) × columns, each cell a status and the
    text drawn in it (budget, then acc01_cal or nmse), and per learner the verdict's word."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[str, ...]
    cells: dict[tuple[str, str], tuple[str, str]]  # (entry, column) -> (status, text)
    words: dict[str, str]  # entry -> the verdict's word (PRG setups)


def _cell(g: Group) -> tuple[str, str]:
    """(status as the verdict reads it, "budget\nnumber") for one group."""
    score = accuracy(g) if g["family_kind"] == "prg" else "nmse"
    value = g[score][0]
    number = (
        "n/a"
        if not np.isfinite(value)
        else f"{value:.2f}"
        if score != "nmse"
        else (f"{value:.2g}" if value >= 1e-3 else f"{value:.0e}")
    )
    return verdict.status(g), f"{budget_text(g['budget'])}\n{number}"


def panels(
    summary: Sequence[Group], judged: Sequence[Mapping[str, Any]] | None = None
) -> list[Panel]:
    """The headline figure's panels: one per PRG setup (columns PRG · null · dictator, largest n
    first) and one per planted family and size (a column per instance: F5's two input
    distributions side by side), each cell at the largest budget run there; reference learners
    left out (they bound the scale, docs/metrics.md). `judged`: `verdict.verdicts(summary)`,
    when the caller already has it (each verdict runs permutation tests)."""
    largest: dict[tuple, dict[tuple[str, str], Group]] = defaultdict(dict)
    for g in summary:
        if g["learner_kind"] == "reference" or (g["family_kind"] != "prg" and not g["main"]):
            continue
        if g["family_kind"] == "prg":
            setup, column = ("prg", *setup_of(g)), variant_of(g)
        else:
            size = f"n={g['n']}" if g["n"] is not None else f"d={g['size']}"
            setup, column = ("planted", g["family"], size), g["label"]
        key = (g["entry"], column)
        if key not in largest[setup] or g["budget"] > largest[setup][key]["budget"]:
            largest[setup][key] = g
    judged = verdict.verdicts(summary) if judged is None else judged
    words = {(v["setup"], v["entry"]): v["verdict"] for v in judged}

    def order(setup: tuple) -> tuple:
        if setup[0] == "prg":
            return (0, -(setup[3] or 0), setup[2])
        return (1, setup[1], setup[2])

    out = []
    for setup in sorted(largest, key=order):
        groups = largest[setup]
        kinds = {e: g["learner_kind"] for (e, _), g in groups.items()}
        rows = tuple(sorted(kinds, key=lambda e: (kinds[e] != "generic", e)))
        code = instances.code(setup[1])
        if setup[0] == "prg":
            label = setup_label(setup[1:])
            columns = tuple(v for v in VARIANTS if any(c == v for _, c in groups))
            predicate = next((g["predicate"] for g in groups.values() if not g["null"]
                              and g["predicate"] != "dictator"), None)  # fmt: skip
            title = f"{code} {predicate or ''} n={setup[3]}  ({setup[2]})"
            said = {e: words.get((label, e), "") for e in rows}
        else:
            # Gaussian inputs (the regime of the positive results) before the others
            columns = tuple(sorted({c for _, c in groups}, key=lambda c: ("gauss" not in c, c)))
            title, said = f"{code} {setup[1]} {setup[2]}", {}
        cells = {key: _cell(g) for key, g in groups.items()}
        out.append(Panel(title, columns, rows, cells, said))
    return out


def _short(column: str) -> str:
    """A planted column's header: F5's input distribution, else the block."""
    for inputs in ("gaussian", "clauses"):
        if inputs in column:
            return inputs
    return column.split()[0]


PANEL_UNITS = 4.7  # cell widths per panel: three columns and the verdict's word


def _draw_panel(ax: Any, panel: Panel, plt: Any) -> None:
    for i, entry in enumerate(panel.rows):
        for j, column in enumerate(panel.columns):
            status, text = panel.cells.get((entry, column), ("", ""))
            color = COLORS.get(status, "white")
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white", lw=2))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7.5)
        if panel.words:
            ax.text(len(panel.columns) + 0.12, i + 0.5, panel.words.get(entry, ""), ha="left",
                    va="center", fontsize=7.5, style="italic")  # fmt: skip
    ax.set_xlim(0, PANEL_UNITS)
    ax.set_ylim(len(panel.rows), 0)
    ax.set_xticks(np.arange(len(panel.columns)) + 0.5)
    ax.set_xticklabels([_short(c) if not panel.words else c for c in panel.columns], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(np.arange(len(panel.rows)) + 0.5)
    ax.set_yticklabels(panel.rows, fontsize=8.5)
    ax.tick_params(length=0, pad=2)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(panel.title, fontsize=9, pad=16, loc="left")


def headline(
    summary: Sequence[Group],
    path: str | Path,
    ncols: int = 4,
    judged: Sequence[Mapping[str, Any]] | None = None,
) -> Path | None:
    """The headline figure (module docstring): `panels` as small multiples, `ncols` to a row,
    about 1500 px wide; None when there is nothing to draw."""
    drawn = panels(summary, judged)
    if not drawn:
        return None
    plt = _pyplot()
    ncols = min(ncols, len(drawn))
    grid = [drawn[i : i + ncols] for i in range(0, len(drawn), ncols)]
    head = 1.3  # cell heights above a panel: its title and column names
    heights = [max(len(p.rows) for p in line) + head + 0.4 for line in grid]
    top = 0.6  # inches above the panels: the title and the legend
    fig = plt.figure(figsize=(3.6 * ncols, 0.4 * sum(heights) + top))
    height = fig.get_figheight()
    spec = fig.add_gridspec(len(grid), ncols, height_ratios=heights, hspace=0, wspace=0.5,
                            top=1 - top / height, bottom=0.0, left=0.07, right=0.99)  # fmt: skip
    for r, line in enumerate(grid):
        for c, panel in enumerate(line):
            rows = len(panel.rows)
            ratios = [head, rows, heights[r] - head - rows]  # panels aligned at the top
            sub = spec[r, c].subgridspec(3, 1, height_ratios=ratios, hspace=0)
            _draw_panel(fig.add_subplot(sub[1]), panel, plt)
    fig.suptitle(
        "Who learns what, at the largest budget run: samples, then acc01_cal (PRG families, "
        f"learned ≥ {LEARNED_ACC}) or nmse (planted, learned ≤ {LEARNED_NMSE}); the verdict in "
        "italics", fontsize=9.5, y=1 - 0.12 / height,
    )  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    fig.legend(handles, [STATUS_WORDS[s] for s in COLORS], ncol=len(COLORS), fontsize=8.5,
               frameon=False, loc="upper center",
               bbox_to_anchor=(0.5, 1 - 0.32 / height))  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def sample_complexity(summary: Sequence[Group], plots_dir: str | Path) -> list[Path]:
    """One PNG per PRG setup (module docstring)."""
    by_setup: dict[tuple, dict[str, dict[str, list[Group]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for g in summary:
        if g["family_kind"] == "prg" and g["learner_kind"] != "reference":
            by_setup[setup_of(g)][g["entry"]][variant_of(g)].append(g)
    plt, paths = _pyplot(), []
    for setup, entries in sorted(by_setup.items(), key=lambda kv: str(kv[0])):
        names = sorted(entries)
        width = max(2.6 * len(names), 4.2)  # room for the title over a single panel
        fig, axes = plt.subplots(1, len(names), figsize=(width, 2.6), squeeze=False)
        for ax, entry in zip(axes[0], names, strict=True):
            for variant, gs in sorted(entries[entry].items()):
                gs = sorted(gs, key=lambda g: g["budget"])
                x = np.array([g["budget"] for g in gs], dtype=float)
                ci = np.array([g[accuracy(g)] for g in gs], dtype=float)
                err = np.abs(np.stack([ci[:, 0] - ci[:, 1], ci[:, 2] - ci[:, 0]]))
                color, marker = LINES.get(variant, ("k", "."))
                ax.errorbar(x, ci[:, 0], yerr=err, color=color, marker=marker, capsize=2,
                            ms=4, label=variant)  # fmt: skip
            ax.axhline(0.5, color="gray", lw=0.8)
            ax.axhline(LEARNED_ACC, color="gray", lw=0.8, ls="--")
            samples_axis(ax, [g["budget"] for gs in entries[entry].values() for g in gs])
            ax.set_ylim(0.3, 1.02)
            ax.set_title(entry, fontsize=9)
            ax.set_xlabel("training samples", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0][0].set_ylabel("acc01_cal (fresh informative rows)", fontsize=8)
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(f"{setup_label(setup)} ({setup[0]})", fontsize=9)
        fig.tight_layout()
        path = Path(plots_dir) / f"samples-{slug(setup_label(setup))}-{slug(setup[0])}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def curves(summary: Sequence[Group], plots_dir: str | Path) -> list[Path]:
    """One PNG per instance: headline metric (mean, 95% CI bars) against budget, per learner."""
    plt = _pyplot()
    plots_dir = Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    by_inst: dict[tuple[str, str], list[Group]] = defaultdict(list)
    for g in summary:
        by_inst[(g["label"], g["family"])].append(g)
    paths = []
    for (label, family), gs in sorted(by_inst.items()):
        metric = gs[0]["metric"]
        fig, ax = plt.subplots(figsize=(6, 4))
        by_learner: dict[str, list[Group]] = defaultdict(list)
        for g in gs:
            by_learner[g["entry"]].append(g)
        for entry, lg in sorted(by_learner.items()):
            lg = sorted(lg, key=lambda g: g["budget"])
            x = np.array([g["budget"] for g in lg], dtype=float)
            ci = np.array([g[metric] for g in lg], dtype=float)
            err = np.abs(np.stack([ci[:, 0] - ci[:, 1], ci[:, 2] - ci[:, 0]]))
            ax.errorbar(x, ci[:, 0], yerr=err, marker="o", capsize=3, label=entry)
        samples_axis(ax, [g["budget"] for g in gs])
        if metric == "adv":
            ax.axhline(LEARNED_ADV, color="gray", ls="--", lw=0.8)
            ax.axhline(0.0, color="gray", lw=0.8)
        elif metric == "acc01_cal":
            ax.axhline(LEARNED_ACC, color="gray", ls="--", lw=0.8)
            ax.axhline(0.5, color="gray", lw=0.8)
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_ylim(bottom=0)  # nmse is never negative
            ax.axhline(LEARNED_NMSE, color="gray", ls="--", lw=0.8)
        ax.set_xlabel("training samples")
        ax.set_ylabel(metric)
        ax.set_title(f"{label} ({family})")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = plots_dir / f"{slug(label) or 'plot'}-{slug(family)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths
