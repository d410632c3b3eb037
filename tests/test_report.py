"""The report (hardnet.analysis.report) and its statistics (hardnet.analysis.stats): bootstrap
intervals, permutation p-values, status marks, PRG-vs-null gaps, deviations, and report.md + PNG
plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hardnet.analysis import report, stats
from hardnet.core import textio

# ---------------------------------------------------------------------------------- statistics


def test_bootstrap_ci_covers_mean_and_is_deterministic():
    v = np.random.default_rng(1).normal(0.3, 1.0, size=40)
    mean, low, high = stats.bootstrap_mean_ci(v)
    assert mean == pytest.approx(v.mean())
    assert low < mean < high
    # half-width close to the normal approximation 1.96 s / sqrt(n)
    assert (high - low) / 2 == pytest.approx(1.96 * v.std(ddof=1) / math.sqrt(v.size), rel=0.2)
    assert stats.bootstrap_mean_ci(v) == (mean, low, high)
    assert stats.bootstrap_mean_ci(v, seed=1) != (mean, low, high)


def test_bootstrap_ci_coverage():
    rng = np.random.default_rng(2)
    hits = 0
    for t in range(200):
        _, low, high = stats.bootstrap_mean_ci(rng.normal(1.0, 2.0, 30), resamples=500, seed=t)
        hits += low <= 1.0 <= high
    assert 0.85 <= hits / 200 <= 0.99


def test_bootstrap_ci_edge_cases():
    assert stats.bootstrap_mean_ci([0.5]) == (0.5, 0.5, 0.5)
    assert all(math.isnan(x) for x in stats.bootstrap_mean_ci([math.nan]))
    assert stats.bootstrap_mean_ci([1.0, math.nan, 3.0])[0] == 2.0
    with pytest.raises(ValueError, match="confidence"):
        stats.bootstrap_mean_ci([1.0, 2.0], confidence=1.5)


def test_permutation_pvalue():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 15), rng.normal(0, 1, 15)
    assert stats.permutation_pvalue(a, b) > 0.05
    assert stats.permutation_pvalue(a, a) == 1.0
    p = stats.permutation_pvalue(a + 3.0, b)
    assert 0 < p < 0.001
    assert stats.permutation_pvalue(b, a + 3.0) == pytest.approx(p, abs=2e-3)  # two-sided
    assert stats.permutation_pvalue(a, b) == stats.permutation_pvalue(a, b)
    assert math.isnan(stats.permutation_pvalue([], b))
    # calibrated under the null: about 5% of p-values below 0.05
    small = sum(
        stats.permutation_pvalue(rng.normal(size=10), rng.normal(size=10), 500, seed=t) < 0.05
        for t in range(200)
    )
    assert small <= 22


# ------------------------------------------------------------------------------ synthetic rows

SEEDS = [(i, j) for i in range(5) for j in range(3)]


def _rows(
    learner="sgd",
    family="prg_gauss3_smoothed",
    n=32,
    predicate="tsa",
    null=False,
    budget=2000,
    adv=None,
    nmse=None,
    acc01=None,
    block="f3",
    failed=False,
    seeds=SEEDS,
    auc=None,
    acc01_cal=None,
):
    """Rows in the runner's format; `adv`/`nmse`/`acc01`/`auc`/`acc01_cal` are callables of the
    run index (`auc` and `acc01_cal` left out by default: rows written before they existed)."""
    variant = "null" if null else ("dictator" if predicate == "dictator" else "main")
    inst = {"d": 16, "m": 8} if family == "easy_depth2" else {"n": n, "predicate": predicate}
    if family != "easy_depth2":
        inst["null"] = null
    cell = {
        "block": block,
        "variant": variant,
        "family": family,
        "instance_kwargs": inst,
        "entry": learner,
        "learner": learner,
        "learner_kwargs": {},
        "budget": budget,
        "test_size": 256,
        "instance_seeds": sorted({i for i, _ in seeds}),
        "learner_seeds": sorted({j for _, j in seeds}),
    }
    cell_id = f"{block}.{variant}-{learner}-b{budget}-{abs(hash(json.dumps(inst))) % 10**6}"
    out = []
    for t, (i, j) in enumerate(seeds):
        row = {
            "cell": cell,
            "cell_id": cell_id,
            "seed_base": 0,
            "instance_seed": i,
            "learner_seed": j,
            "samples": budget,
            "compile_s": 1.0,
            "run_s": 0.5,
            "failed": failed,
            "fail_reason": "non-finite predictions" if failed else None,
        }
        if failed:
            out.append(row)
            continue
        row["nmse"] = nmse(t) if nmse else 1.0
        row["mse_all"] = row["nmse"] * 0.25
        if family != "easy_depth2":
            row["adv"] = adv(t) if adv else 0.0
            row["acc01"] = acc01(t) if acc01 else 0.5
            if auc:
                row["auc"] = auc(t)
            if acc01_cal:
                row["acc01_cal"] = acc01_cal(t)
        out.append(row)
    return out


def _noise(scale, centre=0.0, seed=0):
    v = np.random.default_rng(seed).normal(centre, scale, len(SEEDS))
    return lambda t: float(v[t])


def _one(summary, **match):
    found = [g for g in summary if all(g[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, [(g["label"], g["entry"]) for g in summary])
    return found[0]


def test_summarize_marks():
    rows = (
        _rows("brute_force", "prg_boolean", 16, adv=lambda t: 1.0 - 1e-3 * (t % 2), block="f1")
        + _rows("sgd", adv=_noise(0.05))
        + _rows("kernel", adv=_noise(0.02, centre=0.2))
        + _rows("sgd", "easy_depth2", nmse=lambda t: 0.001 * (1 + t % 3), block="f6")
        + _rows("poly", "easy_depth2", nmse=_noise(0.05, centre=0.5), block="f6")
        + _rows("tensor", "easy_depth2", failed=True, block="f6")
    )
    summary = report.summarize(rows)
    assert len(summary) == 6
    bf = _one(summary, learner="brute_force")
    assert bf["status"] == "learned" and bf["runs"] == 15 and bf["metric"] == "adv"
    sgd = _one(summary, learner="sgd", family="prg_gauss3_smoothed")
    _, low, high = sgd["adv"]
    assert low < 0 < high and sgd["status"] == "chance"
    assert _one(summary, learner="kernel")["status"] == "weakly"
    f6 = _one(summary, learner="sgd", family="easy_depth2")
    assert f6["metric"] == "nmse" and f6["status"] == "learned"
    assert _one(summary, learner="poly")["status"] == "weakly"
    tensor = _one(summary, learner="tensor")
    assert tensor["status"] == "failed" and tensor["failed"] == 15


def test_below_trivial_and_mostly_failed_marks():
    below = _rows("kernel", adv=_noise(0.02, centre=-0.2), acc01=_noise(0.02, 0.4))
    for r in below:
        r["adv_mean"] = 0.0
    half = _rows("sgd", "easy_depth2", nmse=lambda t: 1e-3, block="f6")
    for r in half[:8]:  # 8 of 15 runs failed: the 7 survivors' "learned" is not a status
        r.update(failed=True, fail_reason="diverged (info['diverged'])")
    few = _rows("poly", "easy_depth2", nmse=lambda t: 1e-3, block="f6")
    few[0].update(failed=True, fail_reason="non-finite predictions")
    small = _rows("trivial", adv=_noise(0.01, centre=-0.02))  # below 0 but within ±0.05
    summary = report.summarize(below + half + few + small)
    assert _one(summary, learner="kernel")["status"] == "below"
    assert _one(summary, learner="sgd")["status"] == "failed"
    assert _one(summary, learner="poly")["status"] == "learned"
    assert _one(summary, learner="trivial")["status"] == "chance"
    text = report.table(summary)
    assert "FAILED (8/15 failed)" in text and "**learned** (1/15 failed)" in text
    assert "below chance" in text
    devs = report.deviations(summary)
    (line,) = [d for d in devs if "`kernel`" in d]
    assert "below (acc01 0.39" in line and "expected at chance" in line
    assert any("FAILED, most runs failed" in d and "`sgd`" in d for d in devs)
    assert report.frontier(summary) == [
        f for f in report.frontier(summary) if f["entry"] != "sgd"
    ]  # a mostly-failed group is on no frontier


def test_gf2_learned_before_n2_over_2_is_listed():
    rows = _rows("gf2", "prg_boolean", 24, adv=lambda t: 1.0, block="f1", budget=130)
    rows += _rows("gf2", "prg_boolean", 16, adv=lambda t: 1.0, block="f1", budget=256)
    devs = report.deviations(report.summarize(rows))
    assert any("at 130 samples: learned" in d and "n²/2 = 288" in d for d in devs), devs
    assert not any("at 256 samples" in d for d in devs), devs


@pytest.mark.parametrize("fmt", ["md", "csv", "parquet"])
def test_export_flat_table(tmp_path, fmt):
    rows = _rows("sgd", adv=_noise(0.05)) + _rows("tensor", "easy_depth2", nmse=lambda t: 0.1)
    rows[0]["curves"] = {"step": [0, 1], "train_loss": [1.0, 0.5]}
    path = report.export(rows, tmp_path / f"runs.{fmt}", fmt)
    if fmt == "parquet":
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(path).to_pylist()
    elif fmt == "csv":
        import csv

        with open(path) as f:
            table = list(csv.DictReader(f))
    else:
        lines = path.read_text().splitlines()
        header = [c.strip() for c in lines[0].strip("|").split("|")]
        table = [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True))
                 for ln in lines[2:]]  # fmt: skip
    assert len(table) == 30
    first = table[0]
    assert first["learner"] == "sgd" and str(first["instance.n"]) == "32"
    assert float(first["adv"]) == pytest.approx(rows[0]["adv"], rel=1e-6)
    assert "curves" not in first and "cell" not in first
    assert str(table[-1]["instance.d"]) == "16" and table[-1]["learner"] == "tensor"
    with pytest.raises(ValueError, match="format"):
        report.export(rows, tmp_path / "x", "xlsx")


def test_null_gap_flagged():
    rows = (
        _rows("sgd", adv=_noise(0.05, centre=0.3))
        + _rows("sgd", null=True, adv=_noise(0.05, seed=1))
        + _rows("poly", adv=_noise(0.05, seed=2))
        + _rows("poly", null=True, adv=_noise(0.05, seed=3))
    )
    summary = report.summarize(rows)
    gaps = {g["learner"]: g for g in report.null_gaps(summary)}
    assert set(gaps) == {"sgd", "poly"}
    assert gaps["sgd"]["significant"] and gaps["sgd"]["p"] < 0.01
    assert gaps["sgd"]["gap"] == pytest.approx(0.3, abs=0.05)
    assert not gaps["poly"]["significant"]
    devs = report.deviations(summary)
    assert any("`sgd`" in d and "PRG-vs-null gap" in d for d in devs)
    assert not any("`poly`" in d for d in devs)


def test_deviations():
    rows = (
        _rows("sgd", adv=lambda t: 0.95)  # a generic learner "learned" tsa n=32
        + _rows("kernel", adv=_noise(0.05))  # trivial: as expected
        + _rows("poly", predicate="dictator", adv=_noise(0.05))  # dictator not learned
        + _rows("gf2", null=True, adv=lambda t: 1.0)  # learned the null
        + _rows("brute_force", "prg_boolean", 16, adv=_noise(0.05), block="f1", budget=256)
        + _rows("tensor", "easy_depth2", nmse=lambda t: 0.5, block="f6")
        + _rows("sgd", "easy_depth2", failed=True, block="f6")
    )
    devs = report.deviations(report.summarize(rows))
    text = "\n".join(devs)
    assert any("`sgd` on f3 n=32 tsa" in d and "expected at chance" in d for d in devs), text
    assert not any("`kernel`" in d for d in devs), text
    assert any("`poly`" in d and "dictator" in d for d in devs), text
    assert any("`gf2`" in d and "null" in d for d in devs), text
    assert any(
        "`brute_force`" in d and "expected: brute_force learned at n <= 20" in d for d in devs
    ), text
    assert any("`tensor` on f6" in d and "expected: learned on F6" in d for d in devs), text
    assert any("15/15 runs failed" in d for d in devs), text
    assert not any("fewer seeds" in d for d in devs), text
    few = report.deviations(report.summarize(_rows("sgd", seeds=[(0, 0), (1, 0)])))
    assert any("fewer seeds" in d for d in few)


def test_frontier():
    rows = (
        _rows("gf2", "prg_boolean", 16, adv=lambda t: 1.0, block="f1", budget=128)
        + _rows("gf2", "prg_boolean", 16, adv=lambda t: 1.0, block="f1", budget=512)
        + _rows("gf2", "prg_boolean", 32, adv=lambda t: 1.0, block="f1", budget=512)
        + _rows("gf2", "prg_boolean", 64, adv=_noise(0.05), block="f1", budget=512)
        + _rows("gf2", "prg_boolean", 64, null=True, adv=lambda t: 1.0, block="f1", budget=512)
        + _rows("sgd", adv=_noise(0.05))
        + _rows("sgd", n=64, predicate="dictator", adv=lambda t: 0.5, acc01=lambda t: 0.95)
        + _rows("sgd", n=128, predicate="dictator", adv=lambda t: 0.1, acc01=lambda t: 0.6)
    )
    front = report.frontier(report.summarize(rows))
    assert [(f["entry"], f["target"]) for f in front] == [("gf2", "instance"), ("sgd", "dictator")]
    assert front[0]["size"] == 32 and front[0]["samples"] == 512
    assert front[0]["wall_s"] == pytest.approx(1.5)
    assert front[1]["size"] == 64  # the dictator control at n=128 was not learned


# ---------------------------------------------------------------------------------- end to end


def _check_report(workdir, path):
    text = path.read_text()
    for section in (
        "## Deviations",
        "## Learners x instances",
        "## PRG vs null",
        "## Frontier",
        "## Learning curves",
    ):
        assert section in text
    assert text.index("## Deviations") < text.index("## Learners x instances")
    pngs = sorted((workdir / "plots").glob("*.png"))
    assert pngs
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return text


def test_write_report_synthetic(tmp_path):
    rows = (
        _rows("sgd", adv=_noise(0.05, centre=0.3), budget=2000)
        + _rows("sgd", adv=_noise(0.05, centre=0.5), budget=20000)
        + _rows("sgd", null=True, adv=_noise(0.05, seed=1), budget=2000)
        + _rows("tensor", "easy_depth2", nmse=lambda t: 1e-3, block="f6")
    )
    lines = [json.dumps(textio.to_jsonable(r)) for r in rows]
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n")
    text = _check_report(tmp_path, report.write_report(tmp_path))
    assert "**significant**" in text and "PRG-vs-null gap" in text
    names = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert len(names) == 5 and "headline.png" in names  # 3 instances, headline, 1 PRG setup


def test_write_report_real_rows(tmp_path):
    from hardnet.configs import smoke
    from hardnet.run import grid, runner

    cells = [
        c
        for c in grid.expand(smoke.get_config())
        if c.family == "prg_boolean" and c.learner in ("brute_force", "trivial")
    ]
    store_rows = [r for c in cells for r in runner.run_cell(c)]
    with open(tmp_path / "results.jsonl", "w") as f:
        for r in store_rows:
            f.write(json.dumps(textio.to_jsonable(r)) + "\n")
    rows = report.read_rows(tmp_path)
    assert len(rows) == len(store_rows) == 4
    summary = report.summarize(rows)
    assert _one(summary, learner="brute_force")["status"] == "learned"
    # the smoke config's trivial averages 16 draws of s, the runner's baseline 256: a noisier
    # estimate of the same function, so at or a little below the baseline
    assert _one(summary, learner="trivial")["status"] in ("chance", "below")
    text = _check_report(tmp_path, report.write_report(tmp_path))
    assert "| brute_force | prg_boolean | instance | 8 |" in text  # the frontier row
