"""The repository speaks to its users: no references to files they do not have, no tracker numbers, no dead links.

Run: pytest tests/test_repository_text.py
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Files outside the repository, a contracts file that does not exist, and issue-tracker numbers.
FORBIDDEN = re.compile(r"shared/reference|\.\./shared|CONTRACTS\.md|\bissues? #?\d+|\(issue\b|[^/]stack\.md|"
                       r"paper\.md|performance\.md|datasets\.md|tiny_world_measured")
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s]+)\)")


def tracked_text_files() -> list[Path]:
    """Every tracked file except this test (binary images skipped)."""
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if not n.endswith((".png", ".svg")) and n != "tests/test_repository_text.py"]


def test_no_reference_outside_the_repository_and_no_tracker_numbers():
    hits = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
            for path in tracked_text_files() if path.exists()
            for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1) if FORBIDDEN.search(line)]
    assert hits == []


def test_relative_links_in_markdown_and_notebooks_resolve():
    broken = []
    for path in tracked_text_files():
        if path.suffix in (".md", ".ipynb") and path.exists():
            for target in LINK.findall(path.read_text()):
                target = target.split("#")[0].replace("\\n", "")
                if target and not (path.parent / target).exists():
                    broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_forbidden_pattern_catches_what_it_must():
    for text in ["see shared/reference/paper.md", "(issue 10)", "issue 9 said", "notes/CONTRACTS.md"]:
        assert FORBIDDEN.search(text), text
    assert not FORBIDDEN.search("docs/contracts.md and the paper §4")
