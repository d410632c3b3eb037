"""The report's figures (PNG, matplotlib's Agg backend), drawn from summary groups.

- `headline`: learners as rows; per PRG setup (`verdict.setup_of`) the columns PRG · null ·
  dictator; each cell colored by the status at the largest budget run there, with that budget
  (and the acc01_cal of the PRG families) written in it. Structure-aware controls (brute force,
  GF(2)) appear as rows wherever they ran; the easy family (F6) has its own column.
- `sample_complexity`: per PRG setup, one panel per learner: acc01_cal (mean and 95% interval)
  against training samples, the PRG, null and dictator curves overlaid, chance at 1/2.
- `curves`: per instance, the headline metric against budget, one line per learner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
VARIANTS = ("prg", "null", "dictator")
LINES = {"prg": ("C3", "o"), "null": ("C7", "s"), "dictator": ("C0", "^")}


def budget_text(samples: int) -> str:
    """`512`, `20k`, `4M`: a sample count in a few characters."""
    for scale, suffix in ((10**6, "M"), (10**3, "k")):
        if samples >= scale:
            return f"{samples / scale:.3g}{suffix}"
    return str(samples)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _largest(summary: Sequence[Group]) -> dict[tuple, Group]:
    """(column, entry) -> the group of the largest budget, where a column is a (setup,
    variant) of a PRG family or the instance label elsewhere."""
    out: dict[tuple, Group] = {}
    for g in summary:
        if g["learner_kind"] == "reference":
            continue
        if g["family_kind"] == "prg":
            column = (setup_label(setup_of(g)), variant_of(g))
        elif not g["main"]:
            continue
        else:
            column = (g["label"], "")
        key = (column, g["entry"])
        if key not in out or g["budget"] > out[key]["budget"]:
            out[key] = g
    return out


def _columns(cells: Mapping[tuple, Group]) -> list[tuple[str, str]]:
    order = {v: i for i, v in enumerate(("",) + VARIANTS)}
    return sorted({c for c, _ in cells}, key=lambda c: (c[0], order.get(c[1], 9)))


def headline(summary: Sequence[Group], path: str | Path) -> Path | None:
    """The headline figure (module docstring); None when there is nothing to draw."""
    cells = _largest(summary)
    if not cells:
        return None
    plt = _pyplot()
    columns = _columns(cells)
    kinds = {g["entry"]: g["learner_kind"] for g in cells.values()}
    rows = sorted(kinds, key=lambda e: (kinds[e] != "generic", e))
    fig, ax = plt.subplots(figsize=(1.2 + 1.15 * len(columns), 0.9 + 0.5 * len(rows)))
    for i, entry in enumerate(rows):
        for j, column in enumerate(columns):
            g = cells.get((column, entry))
            color = "white" if g is None else COLORS.get(g["status"], "white")
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white", lw=2))
            if g is None:
                continue
            text = budget_text(g["budget"])
            if g["metric"] != "nmse" and np.isfinite(g[accuracy(g)][0]):
                text += f"\n{g[accuracy(g)][0]:.2f}"
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks(np.arange(len(columns)) + 0.5)
    ax.set_xticklabels([f"{c}\n{v}" if v else c for c, v in columns], fontsize=7, rotation=30)
    ax.set_yticks(np.arange(len(rows)) + 0.5)
    ax.set_yticklabels(rows, fontsize=8)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    ax.legend(handles, list(COLORS), ncol=len(COLORS), fontsize=7, frameon=False,
              loc="lower center", bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    ax.set_title("status at the largest budget (samples; acc01_cal on fresh informative rows)",
                 fontsize=8, pad=22)  # fmt: skip
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
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
        fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6), squeeze=False)
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
            ax.axhline(0.9, color="gray", lw=0.8, ls="--")
            ax.set_xscale("log")
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
        ax.set_xscale("log")
        if metric == "adv":
            ax.axhline(LEARNED_ADV, color="gray", ls="--", lw=0.8)
            ax.axhline(0.0, color="gray", lw=0.8)
        elif metric == "acc01_cal":
            ax.axhline(LEARNED_ACC, color="gray", ls="--", lw=0.8)
            ax.axhline(0.5, color="gray", lw=0.8)
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
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
