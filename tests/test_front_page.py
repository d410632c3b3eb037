"""README is a front page; the manual lives in docs/ and every link between them resolves."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    for must in ("## The result", "## The leaderboard", "## Score your own learner",
                 "## Two commands", "## Where to go next", "scripts/bench", "scripts/test",
                 "hardnet-score --learner=", "docs/manual.md"):  # fmt: skip
        assert must in text, must


def test_every_link_and_docs_path_in_readme_and_docs_resolves():
    missing = []
    for page in PAGES:
        text = page.read_text()
        for url in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
            if url.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / url).exists():
                missing.append(f"{page.relative_to(ROOT)}: ({url})")
        for ref in set(re.findall(r"(?<![\w/.])docs/[A-Za-z0-9_]+\.md", text)):
            if not (ROOT / ref).exists():
                missing.append(f"{page.relative_to(ROOT)}: {ref}")
    assert not missing, missing


def test_config_docstrings_are_short_and_say_command_runtime_and_result():
    """Each shipped config opens with at most about 20 lines: the command, the expected runtime
    and the expected result (the history lives in docs/experiments.md)."""
    import ast

    long, unsaid = [], []
    for path in sorted((ROOT / "hardnet" / "configs").glob("*.py")):
        if path.name == "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if len(doc.splitlines()) > 24:
            long.append(f"{path.name}: {len(doc.splitlines())} lines")
        lowered = doc.lower()
        if "hardnet-" not in doc or "runtime" not in lowered or "expected" not in lowered:
            unsaid.append(path.name)
    assert not long, long
    assert not unsaid, f"docstrings without command, runtime or expected result: {unsaid}"
