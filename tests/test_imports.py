"""The package's import structure: no circle, and imports point down (read with ``ast``, nothing is imported).

Counted: every ``import audiolm_lib...`` / ``from audiolm_lib... import`` anywhere in a module, inside functions
and ``if TYPE_CHECKING:`` blocks too; ``from package import submodule`` counts as importing the submodule. A
module's own parent packages are not counted (Python imports them first anyway).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "audiolm_lib"
LOW = ("audiolm_lib.pipeline", "audiolm_lib.lm", "audiolm_lib.codecs", "audiolm_lib.semantic")
HIGH = ("audiolm_lib.training", "audiolm_lib.eval", "audiolm_lib.cli", "audiolm_lib.bench")


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def imports_of(name: str, path: Path) -> set[str]:
    """The audiolm_lib modules ``name`` imports (resolved relative imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found.update(submodules or {module})
    ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    return {m for m in found if m in MODULES and m != name and m not in ancestors}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return result


def test_the_checker_sees_imports_and_circles():
    assert "audiolm_lib.serialization" in GRAPH["audiolm_lib.pipeline"]
    assert "audiolm_lib.training.token_cache" in GRAPH["audiolm_lib.training.trainer"] or \
        "audiolm_lib.training.data" in GRAPH["audiolm_lib.training.trainer"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_in_audiolm_lib():
    assert _cycles(GRAPH) == []


def test_imports_point_down():
    wrong = sorted(f"{name} -> {dep}" for name, deps in GRAPH.items() if _within(name, LOW)
                   for dep in deps if _within(dep, HIGH))
    assert wrong == [], "models and the pipeline must not import training, eval, cli or bench"


def test_evaluation_and_inference_do_not_import_training():
    users = ("audiolm_lib.eval", "audiolm_lib.pipeline", "audiolm_lib.demo", "audiolm_lib.provenance",
             "audiolm_lib.measures")
    wrong = sorted(f"{name} -> {dep}" for name, deps in GRAPH.items() if _within(name, users)
                   for dep in deps if _within(dep, ("audiolm_lib.training", "audiolm_lib.cli")))
    assert wrong == []


def test_the_demo_and_the_datasets_do_not_import_evaluation():
    wrong = sorted(f"{name} -> {dep}" for name, deps in GRAPH.items()
                   if _within(name, ("audiolm_lib.demo", "audiolm_lib.datasets", "audiolm_lib.pipeline"))
                   for dep in deps if _within(dep, ("audiolm_lib.eval",)))
    assert wrong == []
