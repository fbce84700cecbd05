"""The package's shape: imports only point down the pipeline, and no module imports itself back.

Every import in src/logad counts: module level, inside functions, and `importlib.import_module` /
`__import__` with a literal name (the lazy registries). A module may import from its own layer or
from any layer above it in LAYERS, never from one below; and the import graph between modules has
no circle (a circle inside one layer is as confusing to a reader as one across layers).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "logad"

# top to bottom: what data flows through, in order. A name is the first part after `logad.`
LAYERS: list[set[str]] = [
    {"", "records", "errors", "io", "progress"},
    {"formats", "datasets"},
    {"parsing"},
    {"windowing", "splitting", "features"},
    {"detectors"},
    {"evaluation"},
    {"report"},
    {"pipeline", "experiments"},
    {"tuning", "model"},
    {"service"},
    {"demo"},
    {"cli"},
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
# above a layer, yet still out of bounds: models never load data themselves
FORBIDDEN = {"detectors": {"datasets"}}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module (file) an imported name lives in: the longest prefix that is a module."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_compiled(package: str, name: str) -> bool:
    folder = SRC.joinpath(*package.split("."))
    return folder.is_dir() and any(folder.glob(f"{name}.*.so")) or (folder / f"{name}.c").is_file()


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            # `from pkg import sub` imports the module pkg.sub; `from mod import name` imports mod;
            # `from pkg import _core` names a compiled extension (no Python to follow)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
                     if not _is_compiled(base, a.name)]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                names = [node.args[0].value]
        for name in names:
            if name == "logad" or name.startswith("logad."):
                target = _resolve(name)
                if target and target != module:
                    found.add(target)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer():
    unknown = sorted({_layer(m) for m in MODULES} - set(RANK))
    assert not unknown, f"add these packages to LAYERS in tests/test_layers.py: {unknown}"


def test_no_import_points_up_a_layer():
    upward = sorted(
        f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
        if RANK[_layer(t)] > RANK[_layer(m)] or _layer(t) in FORBIDDEN.get(_layer(m), ())
    )
    assert not upward, "imports pointing up the pipeline:\n" + "\n".join(upward)


def test_no_import_circle():
    # Tarjan's strongly connected components, iteratively (no recursion limit to worry about)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(GRAPH[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_no_source_file_over_800_lines():
    big = sorted(f"{p.relative_to(SRC)} ({n})" for p in MODULES.values()
                 if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800)
    assert not big, f"split these files: {big}"


def test_the_checker_sees_function_level_and_lazy_imports(tmp_path):
    """The walk is only worth something if it finds the imports that are easy to miss."""
    src = "def f():\n    from logad.cli import main\n    import importlib\n    importlib.import_module('logad.model')\n"
    path = tmp_path / "probe.py"
    path.write_text(src)
    found = _imports("logad.records", path)
    assert {"logad.cli", "logad.model"} <= found
