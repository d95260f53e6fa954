"""The suite stays navigable: fixtures have one definition each, and test modules never import
one another (shared fixtures live in conftest.py, shared helpers in tests/helpers.py)."""
import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
# Deliberate overrides: tests/unit/conftest.py turns the database transaction off for pure tests.
OVERRIDES = {"_transaction"}


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target) in ("pytest.fixture", "fixture")


def _modules():
    return sorted(path for path in TESTS.rglob("*.py") if ".venv" not in path.parts)


def test_every_fixture_name_is_defined_once():
    places = defaultdict(list)
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_fixture, node.decorator_list)):
                places[node.name].append(f"{path.relative_to(TESTS)}:{node.lineno}")
    twice = {name: where for name, where in places.items() if len(where) > 1 and name not in OVERRIDES}
    assert twice == {}, "one fixture per name: give them distinct names in tests/conftest.py"


def test_no_test_module_imports_another_or_the_conftest():
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                last = name.rsplit(".", 1)[-1]
                if name.startswith("tests") and (last.startswith("test_") or last == "conftest"):
                    found.append(f"{path.relative_to(TESTS)}:{node.lineno} imports {name}")
    assert found == [], "fixtures come from conftest.py by name, helpers from tests/helpers.py"
