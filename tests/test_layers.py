"""vitkit's layers point one way: no import cycle between its modules, and the use stage and inspection never
reach into training, export or the CLI.

Every ``import``/``from ... import`` inside vitkit is read from the source (module level and inside
functions alike: a deferred import still ties two modules together), resolved to a module or package, and
the graph searched for cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vitkit

ROOT = Path(vitkit.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a vitkit module or package."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> the vitkit modules it imports (a package's submodule edges point at the submodule)."""
    known = _modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                resolved = _resolve(target, known) if target.startswith("vitkit") else None
                # an edge to one's own package (its __init__ re-exporting) is not a dependency of the module
                if resolved and resolved != module and not module.startswith(resolved + "."):
                    graph[module].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_vitkit():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_use_stage_and_models_do_not_depend_on_later_stages():
    graph = import_graph()

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    for module in ("vitkit.use.embed", "vitkit.use.evaluate", "vitkit.use.neighbors", "vitkit.use.fewshot"):
        bad = {m for m in reaches(module) if m.startswith(("vitkit.export", "vitkit.train", "vitkit.cli"))}
        assert not bad, f"{module} depends on {sorted(bad)}"
    for module in [m for m in graph if m.startswith(("vitkit.models", "vitkit.config", "vitkit.device"))]:
        bad = {m for m in reaches(module) if m.startswith(("vitkit.train", "vitkit.cli", "vitkit.use"))}
        assert not bad, f"{module} depends on {sorted(bad)}"
