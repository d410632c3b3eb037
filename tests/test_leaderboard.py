"""The leaderboard: generated from its rows (analysis/leaderboard.py, docs/leaderboard.md)."""

from pathlib import Path

from hardnet import suites
from hardnet.analysis import leaderboard

ROOT = Path(__file__).resolve().parents[1]


def _rows():
    suite = suites.load()
    return suite, leaderboard.read(ROOT / "leaderboard" / f"{suite.name}.jsonl")


def test_docs_leaderboard_is_generated_from_the_jsonl_and_lists_the_built_in_learners():
    suite, rows = _rows()
    assert (ROOT / "docs" / "leaderboard.md").read_text() == leaderboard.page(rows, suite)
    built_in = {r["learner"] for r in rows if r.get("built_in")}
    assert {"sgd", "kernel", "poly", "tensor", "gf2", "brute_force"} <= built_in
    assert all(r["suite"] == suite.name and r["fingerprints"] == suite.fingerprints_digest()
               for r in rows)  # fmt: skip


def test_readme_table_is_the_cpu_tier_of_the_jsonl():
    suite, rows = _rows()
    readme = (ROOT / "README.md").read_text()
    table = readme.split(leaderboard.START)[1].split(leaderboard.END)[0].strip()
    assert table == leaderboard.table(rows, suite, "cpu").strip()


def test_merge_replaces_a_learners_rows_on_a_tier_and_keeps_the_others():
    old = [{"learner": "a", "tier": "cpu", "v": 1}, {"learner": "a", "tier": "gpu", "v": 1},
           {"learner": "b", "tier": "cpu", "v": 1}]  # fmt: skip
    new = [{"learner": "a", "tier": "cpu", "v": 2}]
    merged = leaderboard.merge(old, new)
    assert sorted((r["learner"], r["tier"], r["v"]) for r in merged) == [
        ("a", "cpu", 2),
        ("a", "gpu", 1),
        ("b", "cpu", 1),
    ]
