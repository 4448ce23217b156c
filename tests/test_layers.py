"""vitkit's layers point one way: every package and root module sits in a declared layer (``LAYERS``), and
imports only from its own package and from layers below its own; no import cycle between modules.

Every ``import``/``from ... import`` inside vitkit is read from the source (module level and inside
functions alike: a deferred import still ties two modules together), resolved to a module or package, and
the graph searched for cycles and for imports that point up (or sideways, between peers of one layer).
"""

from __future__ import annotations

import ast
from pathlib import Path

import vitkit

ROOT = Path(vitkit.__file__).parent

# vitkit's packages and root modules, bottom first: how an image becomes a prediction (docs/architecture.md).
# Each imports only from layers below its own; the packages of one layer are peers and do not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "atomic"),  # VitkitError and ConfigError, the roots of every error; atomic file writes
    ("runtime",),  # where and how fast: the device, threads and compile, MKL on AMD CPUs
    ("data",),  # data sets, decoding, transforms, loaders
    ("models",),  # typed configs, the paper's variants, config -> module, what a model declares, FLOPs
    ("hub",),  # names -> fetched files
    ("checkpoint",),  # any file -> a model, and back
    ("onnx",),  # a model outside torch: ONNX export, onnxruntime, OpenVINO
    ("inspect",),  # the paper's figures of a model
    ("use",),  # predict, evaluate, embed, neighbors, few-shot; the backends that run them
    ("train",),  # train sits above use: it evaluates as it goes
    ("collection",),  # whole collections under torchrun
    ("bench",),
    ("int8",),
    ("serve",),
    ("reproduce",),
    ("demo",),
    ("cli",),
    ("mkl_amd", "__main__"),  # the public name of runtime.mkl_amd; `python -m vitkit`
]


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
        bad = {m for m in reaches(module) if m.startswith(("vitkit.onnx.export", "vitkit.train", "vitkit.cli"))}
        assert not bad, f"{module} depends on {sorted(bad)}"
    for module in [m for m in graph if m.startswith(("vitkit.models", "vitkit.runtime.device"))]:
        bad = {m for m in reaches(module) if m.startswith(("vitkit.train", "vitkit.cli", "vitkit.use"))}
        assert not bad, f"{module} depends on {sorted(bad)}"


def _unit(module: str) -> str:
    """The package (or root module) directly under vitkit that ``module`` belongs to."""
    return module.split(".")[1]


def test_layers_name_every_package_once():
    units = {_unit(m) for m in _modules() if m != "vitkit"}
    declared = [u for layer in LAYERS for u in layer]
    assert len(declared) == len(set(declared)), "a unit declared twice"
    assert units == set(declared), f"undeclared: {sorted(units - set(declared))}; gone: {sorted(set(declared) - units)}"


def test_every_import_points_down_the_layers():
    level = {u: i for i, layer in enumerate(LAYERS) for u in layer}
    bad = []
    for module, targets in import_graph().items():
        if module == "vitkit":  # the public names, imported lazily: the top, above everything
            continue
        for target in targets:
            a, b = _unit(module), _unit(target)
            if a != b and level[b] >= level[a]:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports that point up (or between peers of one layer):\n" + "\n".join(sorted(bad))
