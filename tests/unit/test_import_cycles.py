"""No import circle in loyalty/ (issue 17): counted on every import, function-level ones included.

A circle held apart only by an import inside a function still ties the modules together: each
needs the other to be understood, and moving that import to the top breaks the app at start-up.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "loyalty"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported_by(tree: ast.AST, modules: dict) -> set[str]:
    """The project's modules an import anywhere in `tree` names: `from a import b` names a.b when
    that is a module, else a."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imported_by(ast.parse(path.read_text()), modules) - {name} for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter = counter + 1
        stack.append(start), on_stack.add(start)
        while work:
            node, edges = work[-1]
            following = next(edges, None)
            if following is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif following not in index:
                index[following] = low[following] = counter = counter + 1
                stack.append(following), on_stack.add(following)
                work.append((following, iter(sorted(graph[following]))))
            elif following in on_stack:
                low[node] = min(low[node], index[following])
    return found


def test_the_finder_sees_a_circle_through_a_function_level_import():
    tree = ast.parse("def later():\n    from loyalty.b import thing\n")
    graph = {"loyalty.a": imported_by(tree, {"loyalty.a": 0, "loyalty.b": 0}), "loyalty.b": {"loyalty.a"}}
    assert circles(graph) == [["loyalty.a", "loyalty.b"]]


def test_no_module_of_loyalty_imports_itself_back():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    assert circles(graph) == []
