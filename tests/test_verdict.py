"""The verdict (hardnet.analysis.verdict) and the report's figures (hardnet.analysis.figures):
a generic learner's failure on a PRG counts only when it learned the dictator control."""

from __future__ import annotations

from test_report import _noise, _rows

from hardnet import instances
from hardnet.analysis import figures, report, verdict


def _setup(learner, prg_adv, dictator_acc, null_adv=None, budget=2000):
    """One learner on F3 tsa n=32 with its null and dictator twins."""
    null_adv = null_adv or _noise(0.02, seed=1)
    return (
        _rows(learner, adv=prg_adv, acc01=_noise(0.02, 0.5), budget=budget)
        + _rows(learner, null=True, adv=null_adv, acc01=_noise(0.02, 0.5, 2), budget=budget)
        + _rows(learner, predicate="dictator", adv=lambda t: 0.8, acc01=dictator_acc, budget=budget)
    )


def test_verdicts_need_a_learned_dictator_control():
    rows = (
        _setup("sgd", _noise(0.02), lambda t: 0.95)  # control learned, PRG at chance
        + _setup("kernel", _noise(0.02), _noise(0.02, 0.55))  # control not learned
        + _setup("poly", _noise(0.02, 0.5), lambda t: 0.95)  # PRG separated from its null
        + _rows("gf2", adv=lambda t: 1.0, acc01=lambda t: 1.0, budget=512)
        + _rows("gf2", adv=lambda t: 1.0, acc01=lambda t: 1.0, budget=2048)
    )
    summary = report.summarize(rows)
    by = {v["entry"]: v for v in verdict.verdicts(summary)}
    assert by["sgd"]["verdict"] == "consistent" and by["sgd"]["dictator_from"] == 2000
    assert by["kernel"]["verdict"] == "inconclusive"
    assert by["poly"]["verdict"] == "broken" and by["poly"]["significant"]
    assert by["gf2"]["verdict"] == "control" and by["gf2"]["prg_from"] == 512
    (text,) = verdict.paragraphs(summary)
    assert "`gf2` learned the PRG from 512 samples" in text
    assert "Inconclusive for `kernel`" in text
    assert "`sgd`: learned the dictator control" in text
    assert "consistent with hardness" in text
    assert "**Separated the PRG from chance**: `poly`" in text


def test_one_seed_above_every_null_run_is_reported_not_averaged_away():
    """One run of many far above chance on the PRG: the mean is not significant, the verdict is
    "some seeds"; a run above chance but not above the null's runs is not enough."""
    one_high = lambda t: 0.74 if t == 2 else 0.5
    rows = (
        _rows("sgd", adv=lambda t: 0.33 if t == 2 else -0.05, acc01=one_high)
        + _rows("sgd", null=True, adv=lambda t: -0.05, acc01=_noise(0.01, 0.5, 2))
        + _rows("sgd", predicate="dictator", adv=lambda t: 0.8, acc01=lambda t: 0.95)
        + _setup("kernel", _noise(0.02), lambda t: 0.95, null_adv=lambda t: 0.1)
    )
    summary = report.summarize(rows)
    by = {v["entry"]: v for v in verdict.verdicts(summary)}
    assert by["sgd"]["verdict"] == "some seeds" and not by["sgd"]["significant"]
    assert by["sgd"]["above"] == [(0.74, 0.33)]
    assert by["kernel"]["verdict"] == "consistent" and by["kernel"]["above"] == []
    (text,) = verdict.paragraphs(summary)
    assert "**Above chance on some seeds**: `sgd`" in text and "1 of " in text


def _calibrated(learner, variant, acc01, auc, acc01_cal, seed=0, budget=1_000_000):
    """One learner's rows on F3 xor_maj(5,7) n=128 with the calibration-free scores."""
    kw = {"null": variant == "null"}
    if variant == "dictator":
        kw["predicate"] = "dictator"
    else:
        kw["predicate"] = "xor_maj(5,7)"
    return _rows(learner, n=128, budget=budget, block="f3_hard", adv=_noise(0.02, -0.3, seed),
                 acc01=acc01, auc=auc, acc01_cal=acc01_cal, **kw)  # fmt: skip


def test_a_miscalibrated_learned_control_is_learned_and_gives_a_verdict():
    """docs/metrics.md: sgd on the F3 n=128 dictator has acc01 0.43 (every output on one side of
    1/2) but AUC 0.993 and 0.92 at a threshold chosen on held-out rows: learned, so its failure
    on the PRG (AUC 0.49) and the null (0.50) is evidence, in the verdict, the table and the
    headline figure alike."""
    rows = (
        _calibrated("sgd", "dictator", _noise(0.01, 0.43), _noise(0.002, 0.993),
                    _noise(0.01, 0.92, 1))
        + _calibrated("sgd", "main", _noise(0.01, 0.5, 2), _noise(0.01, 0.493, 3),
                      _noise(0.01, 0.5, 4))
        + _calibrated("sgd", "null", _noise(0.01, 0.5, 5), _noise(0.01, 0.502, 6),
                      _noise(0.01, 0.5, 7))
    )  # fmt: skip
    summary = report.summarize(rows)
    dic = next(g for g in summary if g["predicate"] == "dictator")
    assert dic["metric"] == "acc01_cal" and dic["status"] == "learned"
    assert dic["adv"][0] < 0  # adv and acc01 alone would have called it a failure
    (v,) = verdict.verdicts(summary)
    assert v["verdict"] == "consistent" and v["dictator_from"] == 1_000_000
    assert not v["significant"] and abs(v["gap"]) < 0.05  # the auc gap PRG − null
    (gap,) = verdict.dictator_gaps(summary)
    assert gap["score"] == "acc01_cal" and gap["gap"] > 0.3
    (text,) = verdict.paragraphs(summary)
    assert "consistent with hardness" in text
    assert "acc01_cal 0.92" in verdict._acc(dic)


def test_auc_above_half_is_weakly_learned_and_a_gap_to_the_null_breaks_the_prg():
    rows = _calibrated(
        "sgd", "main", _noise(0.01, 0.5), _noise(0.01, 0.62, 1), _noise(0.01, 0.6, 2)
    ) + _calibrated("sgd", "null", _noise(0.01, 0.5, 3), _noise(0.01, 0.5, 4), _noise(0.01, 0.5, 5))
    summary = report.summarize(rows)
    prg = next(g for g in summary if not g["null"])
    assert prg["status"] == "weakly"
    (gap,) = report.null_gaps(summary)
    assert gap["score"] == "auc" and gap["significant"] and gap["gap"] > 0.1
    (v,) = verdict.verdicts(summary)
    assert v["verdict"] == "broken"


def test_one_run_above_every_null_run_by_auc_is_reported():
    rows = _calibrated(
        "sgd", "main", _noise(0.01, 0.5), lambda t: 0.8 if t == 2 else 0.5, _noise(0.01, 0.5, 2)
    ) + _calibrated("sgd", "null", _noise(0.01, 0.5, 3), _noise(0.01, 0.5, 4), _noise(0.01, 0.5, 5))
    rows += _calibrated("sgd", "dictator", _noise(0.01, 0.5, 6), _noise(0.01, 0.99, 7),
                        _noise(0.01, 0.95, 8))  # fmt: skip
    summary = report.summarize(rows)
    (v,) = verdict.verdicts(summary)
    assert v["verdict"] == "some seeds" and len(v["above"]) == 1 and v["above"][0][0] == 0.8
    (text,) = verdict.paragraphs(summary)
    assert "auc 0.80" in text


def test_dictator_gaps_pair_same_budget():
    summary = report.summarize(_setup("sgd", _noise(0.02), lambda t: 0.95))
    (gap,) = verdict.dictator_gaps(summary)
    assert gap["gap"] > 0.4 and gap["p"] < 0.01 and gap["budget"] == 2000


def test_below_on_a_prg_is_chance_unless_acc01_is_below_half():
    rows = _rows("sgd", adv=_noise(0.01, -0.2), acc01=_noise(0.01, 0.5)) + _rows(
        "kernel", adv=_noise(0.01, -0.2), acc01=_noise(0.01, 0.4)
    )
    summary = report.summarize(rows)
    status = {g["entry"]: g["status"] for g in summary}
    assert status == {"sgd": "chance", "kernel": "below"}


def test_report_begins_with_figures_and_verdict(tmp_path):
    rows = _setup("sgd", _noise(0.02), lambda t: 0.95) + _rows(
        "sgd", "easy_depth2", nmse=lambda t: 0.001, block="f6"
    )
    path = report.write_report(tmp_path, rows)
    text = path.read_text()
    assert text.index("![headline](plots/headline.png)") < text.index("## Verdict")
    assert text.index("## Verdict") < text.index("## Deviations") < text.index("| instance |")
    assert (tmp_path / "plots" / "headline.png").stat().st_size > 1000
    assert list((tmp_path / "plots").glob("samples-f3_n_32-*.png"))
    assert "## PRG vs dictator" in text


def test_budget_text():
    assert [figures.budget_text(n) for n in (512, 20_000, 4_000_000, 1_500)] == [
        "512", "20k", "4M", "1.5k"
    ]  # fmt: skip


def _natural(learner, inputs, nmse, budget=2000, block="f5"):
    """F5 rows: `_rows` on F6, re-labelled as natural_depth2 n=16 under `inputs`."""
    rows = _rows(learner, "easy_depth2", nmse=nmse, budget=budget, block=block)
    cell = rows[0]["cell"]  # shared by the rows of one call
    cell["family"], cell["instance_kwargs"] = "natural_depth2", {"n": 16, "inputs": inputs}
    for r in rows:
        r["cell_id"] = f"{block}-{inputs}-{learner}-b{budget}"
    return rows


def test_planted_paragraphs_judge_each_input_distribution_at_the_largest_budget():
    rows = (
        _natural("sgd", "gaussian", lambda t: 0.5, budget=200)  # a smaller budget: not judged
        + _natural("sgd", "gaussian", lambda t: 0.002)
        + _natural("kernel", "gaussian", _noise(0.005, 0.03))
        + _natural("sgd", "clauses", lambda t: 0.001)
        + _natural("poly", "clauses", _noise(0.01, 1.3))
        + _rows("tensor", "easy_depth2", nmse=lambda t: 1e-4, block="f6")
    )
    summary = report.summarize(rows)
    f6, f5 = verdict.planted_paragraphs(summary)  # sorted by family
    assert f5.startswith("**natural_depth2 n=16.**")
    assert (
        "f5 n=16 gaussian inputs: learned by `sgd` (nmse 0.002 at 2,000); weakly learned by "
        "`kernel`" in f5
    )
    assert (
        "f5 n=16 clauses inputs: learned by `sgd` (nmse 0.001 at 2,000); worse than the "
        "mean: `poly`" in f5
    )
    assert "nmse 0.5" not in f5
    assert instances.caveat("natural_depth2") in f5 and "decodes the leak" in f5
    assert f6 == "**easy_depth2 d=16.** f6 d=16: learned by `tensor` (nmse 0.0001 at 2,000)."


def test_labels_name_f5_inputs_unless_the_block_does():
    rows = _natural("sgd", "clauses", lambda t: 0.1, block="f5_clauses") + _natural(
        "sgd", "gaussian", lambda t: 0.1, block="f5"
    )
    labels = {g["label"] for g in report.summarize(rows)}
    assert labels == {"f5_clauses n=16", "f5 n=16 gaussian inputs"}


def _png_size(path):
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_headline_cells_say_what_the_verdict_says(tmp_path):
    """Every cell of the headline figure carries its number, and its color is the verdict's word:
    a control the verdict calls learned is learned in the figure, one it does not is not (rows
    written before acc01_cal, whose stored status went by `adv ≥ 0.9`, included)."""
    cal = dict(auc=_noise(0.01, 0.5), acc01_cal=_noise(0.01, 0.5))
    rows = (
        _setup("sgd", _noise(0.02), lambda t: 0.95)  # consistent (old rows: acc01)
        # old rows: adv 0.95 but acc01 0.8 on the dictator: stored "learned", not learned by acc01
        + _rows("kernel", adv=_noise(0.02), acc01=_noise(0.02, 0.5))
        + _rows("kernel", null=True, adv=_noise(0.02, 0, 1), acc01=_noise(0.02, 0.5, 2))
        + _rows("kernel", predicate="dictator", adv=lambda t: 0.95, acc01=lambda t: 0.8)
        # calibration-free rows on a second setup: dictator learned at acc01_cal 0.97, acc01 0.43
        + _rows("sgd", n=128, block="f3_hard", acc01=lambda t: 0.5, **cal)
        + _rows("sgd", n=128, block="f3_hard", null=True, acc01=lambda t: 0.5, **cal)
        + _rows("sgd", n=128, block="f3_hard", predicate="dictator", acc01=lambda t: 0.43,
                auc=lambda t: 0.99, acc01_cal=_noise(0.005, 0.97))
        + _rows("tensor", "easy_depth2", nmse=lambda t: 2e-4, block="f6")
        + _natural("sgd", "clauses", lambda t: 0.003, block="f5_clauses")
    )  # fmt: skip
    summary = report.summarize(rows)
    drawn = {p.title: p for p in figures.panels(summary)}
    judged = verdict.verdicts(summary)
    assert {v["entry"]: v["verdict"] for v in judged if v["setup"] == "f3 n=32"} == {
        "sgd": "consistent", "kernel": "inconclusive"
    }  # fmt: skip
    for v in judged:
        panel = next(p for p in drawn.values() if p.title.endswith(f"({v['setup'].split()[0]})"))
        cell = {c: panel.cells[(v["entry"], c)][0] for c in panel.columns}
        assert panel.words[v["entry"]] == v["verdict"]
        if v["verdict"] == "consistent":
            assert cell["dictator"] == "learned" and {cell["prg"], cell["null"]} <= {"chance"}
        if v["verdict"] == "inconclusive":
            assert cell["dictator"] != "learned"
    for panel in drawn.values():
        for status, text in panel.cells.values():
            _, number = text.split("\n")
            assert status in figures.COLORS and float(number) == float(number)  # not n/a
    assert drawn["F6 easy_depth2 d=16"].cells[("tensor", "f6 d=16")][1] == "2k\n2e-04"
    assert drawn["F5 natural_depth2 n=16"].cells[("sgd", "f5_clauses n=16")][1] == "2k\n0.003"
    path = figures.headline(summary, tmp_path / "headline.png")
    width, height = _png_size(path)
    assert 800 < width <= 1600 and height > 200
