"""The documentation a fresh clone carries: README and docs/ stand on their own (issue 16, item 13)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_nothing_points_outside_the_repository(document):
    text = document.read_text()
    assert "../shared" not in text and "/work/shared" not in text


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves(document):
    targets = [match.group(1) for match in LINK.finditer(document.read_text())
               if not match.group(1).startswith(("http://", "https://", "mailto:"))]
    missing = [target for target in targets if not (document.parent / target).exists()]
    assert missing == []


def test_the_readme_links_the_guide_and_the_guide_covers_its_subjects():
    assert "](docs/guide.md)" in (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", (ROOT / "docs" / "guide.md").read_text(), re.MULTILINE)
    assert headings == ["Concepts", "The rules, with worked examples", "Tasks by role", "Connecting Stripe",
                        "Operations"]


def test_the_guide_names_every_role():
    guide = (ROOT / "docs" / "guide.md").read_text()
    for role in ("admin", "storefront", "manager", "cashier", "customer"):
        assert re.search(rf"^### .*{role.title()}", guide, re.MULTILINE | re.IGNORECASE), role
