"""The domain never commits (issue 17): views, pages and commands do, once per request, event or
job batch. A commit in the middle of domain work would split what must be one transaction."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "loyalty"

# The edges: what a request, a command or a long-running process enters through.
EDGES = ("api", "web", "cli")
# deliver-webhooks' own loop: its lease must be committed before it sends, and each outcome after.
RUNNERS = ("outbound/deliverer.py",)


def ends_a_transaction(tree: ast.AST) -> list[int]:
    """The lines that call something's .commit() or .rollback()."""
    return sorted(node.lineno for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("commit", "rollback"))


def test_the_scan_finds_a_commit():
    assert ends_a_transaction(ast.parse("def work():\n    db.session.commit()\n")) == [2]


def test_no_domain_module_commits_or_rolls_back():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in EDGES or relative in RUNNERS:
            continue
        lines = ends_a_transaction(ast.parse(path.read_text()))
        if lines:
            found[relative] = lines
    assert found == {}
