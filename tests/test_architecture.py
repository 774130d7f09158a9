"""The layout's rules, read from the source: the layers import downwards only, and no two
modules import each other, counting imports inside functions."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "stores", "pipeline", "snnpipe")
# The one allowed circle, by design: the console script's entry installs its signal
# handlers before it imports the command line (pipeline.entry.main imports pipeline.cli
# inside the function), and `python -m pipeline.cli` installs the same handlers.
ALLOWED = {frozenset({"pipeline.cli", "pipeline.entry"})}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).glob("*.py"):
            name = pkg if path.name == "__init__.py" else f"{pkg}.{path.stem}"
            out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (top level or in a function)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def test_layers_import_downwards_only():
    """engine/ is the model (arrays in and out): it imports neither pipeline/ nor stores/;
    stores/ imports nothing from pipeline/."""
    for name, deps in GRAPH.items():
        if name.startswith("engine"):
            assert not {d for d in deps if d.startswith(("pipeline", "stores"))}, name
        if name.startswith("stores"):
            assert not {d for d in deps if d.startswith("pipeline")}, name


def test_no_two_modules_import_each_other_even_inside_functions():
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for dep in GRAPH[todo.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen
    circles = {frozenset({a, b}) for a in GRAPH for b in GRAPH[a] if a in reach(b)}
    assert circles <= ALLOWED, sorted(map(sorted, circles - ALLOWED))
