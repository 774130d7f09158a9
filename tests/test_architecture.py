"""The layout's rules, read from the source: one installed package, the layers import
downwards only, and no two modules import each other, counting imports inside functions."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# snnpipe.engine, snnpipe.stores and snnpipe.pipeline live in the top-level folders of the
# layout; snnpipe/engine, snnpipe/stores, snnpipe/pipeline link to them.
FOLDERS = {"snnpipe": ROOT / "snnpipe", "snnpipe.engine": ROOT / "engine",
           "snnpipe.stores": ROOT / "stores", "snnpipe.pipeline": ROOT / "pipeline"}
# The one allowed circle, by design: the console script's entry installs its signal
# handlers before it imports the command line (entry.main imports cli inside the
# function), and `python -m snnpipe.pipeline.cli` installs the same handlers.
ALLOWED = {frozenset({"snnpipe.pipeline.cli", "snnpipe.pipeline.entry"})}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if rel[0] in ("engine", "stores", "pipeline") and pkg == "snnpipe":
                continue                                   # the links, counted once
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            out[".".join([pkg, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
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
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        found.update(targets)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}
GRAPH = {name: {t for t in deps if t in MODULES and t != name}
         for name, deps in IMPORTS.items()}


def test_the_wheel_installs_one_top_level_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = project["tool"]["setuptools"]["packages"]["find"]
    assert found["include"] == ["snnpipe", "snnpipe.*"]
    assert project["project"]["scripts"] == {"snnpipe": "snnpipe.pipeline.entry:main"}
    for name in ("engine", "stores", "pipeline"):
        link = ROOT / "snnpipe" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), link


def test_code_imports_the_parts_only_through_snnpipe():
    """`engine.x` beside `snnpipe.engine.x` would load every module twice, with two
    different Config classes: the old top-level names are gone, in tests and benchmarks
    too."""
    files = {**MODULES, **{p.stem: p for p in (ROOT / "tests").glob("*.py")},
             **{p.stem: p for p in (ROOT / "benchmarks").glob("*.py")}}
    for name, path in files.items():
        bad = {t for t in _imports(name, path) if t.split(".")[0] in ("engine", "stores",
                                                                        "pipeline")}
        assert not bad, (path, bad)


def test_layers_import_downwards_only():
    """engine/ is the model (arrays in and out): it imports neither pipeline/ nor stores/;
    stores/ imports nothing from pipeline/."""
    for name, deps in GRAPH.items():
        if name.startswith("snnpipe.engine"):
            assert not {d for d in deps
                        if d.startswith(("snnpipe.pipeline", "snnpipe.stores"))}, name
        if name.startswith("snnpipe.stores"):
            assert not {d for d in deps if d.startswith("snnpipe.pipeline")}, name


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
    assert len(GRAPH) > 50 and GRAPH["snnpipe.pipeline.training.train"], "the walk found nothing"


def test_the_module_map_lists_every_module_and_nothing_else():
    """docs/engine.md's layout table is where a newcomer finds a module: it names each file
    once, by the path a reader opens."""
    text = (ROOT / "docs" / "engine.md").read_text()
    table = text[text.index("## Layout"):text.index("`tests/` holds the reference")]
    listed = re.findall(r"^\| `([\w/]+\.py)` \|", table, flags=re.M)
    on_disk = sorted(str(p.relative_to(ROOT)) for p in MODULES.values())
    assert sorted(listed) == on_disk
