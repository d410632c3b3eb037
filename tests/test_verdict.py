"""The verdict (hardnet.analysis.verdict) and the report's figures (hardnet.analysis.figures):
a generic learner's failure on a PRG counts only when it learned the dictator control."""

from __future__ import annotations

from test_report import _noise, _rows

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
        + _rows("gf2", adv=lambda t: 1.0, budget=512)
        + _rows("gf2", adv=lambda t: 1.0, budget=2048)
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
