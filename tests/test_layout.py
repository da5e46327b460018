"""The package's layout is its architecture: imports run one way down the pipeline, none hides in a function,
and the package map in `blobs_transfer/__init__.py` is complete. Module size is a signal, not a rule: there is no
line cap (a module is split by meaning, never to fit a number).

Read with `ast` from the source files, so nothing is imported and nothing can hide behind an import error.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "blobs_transfer"

# The pipeline, bottom first: a module may import its own stage and the stages below it, never one above.
STAGES = [
    "errors",
    "atomic",
    "seeds",
    "config",
    "problems",
    "model",
    "train",
    "stats",
    "sweep",
    "rundir",
    "render",
    "export",
    "api",
    "cli",
    "__main__",
]
FOUNDATION = {"errors": 0, "atomic": 1, "seeds": 2, "config": 3}  # each imports only those below it

# Function-local imports are allowed only for heavy optional libraries that start-up must not pay for, and for
# the package's own modules that import TensorFlow when they are imported (the tensorflow and keras engines and
# the .keras writer): a local import of those is a TensorFlow import. (numba: stats.transferability's one kernel
# imports it on first use, 0.2 s that importing the statistics does not pay.)
HEAVY = {
    "tensorflow",
    "keras",
    "mlflow",
    "dask",
    "distributed",
    "matplotlib",
    "scipy",
    "sklearn",
    "threadpoolctl",
    "numba",
}


def modules() -> dict[str, Path]:
    """Dotted name (blobs_transfer.x.y) -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_kernels" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(path: Path, name: str) -> list[tuple[str, bool, int]]:
    """(imported module, at function level?, line) for every import in a file, relative ones resolved; for
    `from package import x` the module package.x where x is one of the package's modules, else package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = set(modules())
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, local, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                subs = [f"{base}.{a.name}" for a in child.names if f"{base}.{a.name}" in known]
                found.extend((target, local, child.lineno) for target in (subs or [base]))
            elif isinstance(child, ast.If) and _type_checking(child):
                continue  # annotations only: no import at run time
            else:
                visit(child, inner)

    visit(tree, False)
    return found


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def stage_of(module: str) -> int:
    part = module.split(".")[1] if "." in module else "__init__"
    return STAGES.index(part) if part in STAGES else -1


def internal_edges() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any level), only those that exist as modules."""
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, _, _ in imports_of(path, name):
            if target.startswith("blobs_transfer") and target in mods and target != name:
                edges[name].add(target)
    return edges


def tensorflow_modules() -> set[str]:
    """Package modules that import TensorFlow or Keras at their top level."""
    return {
        name
        for name, path in modules().items()
        if any(t.split(".")[0] in ("tensorflow", "keras") and not local for t, local, _ in imports_of(path, name))
    }


def test_the_package_has_the_pipeline_subpackages():
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} == {
        "config",
        "model",
        "train",
        "stats",
        "sweep",
        "rundir",
        "render",
        "export",
        "api",
        "cli",
    }


def cycles_of(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle a depth-first walk meets, each as the modules along it back to its first."""
    # a package's __init__ may gather its own submodules; that is not a cycle of the pipeline
    graph = {m: {t for t in ts if not (m.count(".") == 1 and t.startswith(m + "."))} for m, ts in edges.items()}
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles = []

    def walk(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in seen:
                walk(nxt, stack + [nxt])
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            walk(module, [module])
    return cycles


def test_imports_have_no_cycle():
    cycles = cycles_of(internal_edges())
    assert not cycles, cycles


def test_imports_only_go_down_the_pipeline():
    wrong = []
    for module, targets in internal_edges().items():
        if module == "blobs_transfer":
            continue
        for target in targets:
            if stage_of(target) > stage_of(module):
                wrong.append((module, target))
            elif {module.split(".")[1], target.split(".")[1]} <= set(FOUNDATION) and FOUNDATION[
                target.split(".")[1]
            ] > FOUNDATION[module.split(".")[1]]:
                wrong.append((module, target))
    assert not wrong, wrong


def test_no_function_local_imports_but_heavy_optional_ones():
    heavy_modules = tensorflow_modules()
    assert {
        "blobs_transfer.train.tensorflow_engine",
        "blobs_transfer.train.reference",
        "blobs_transfer.model.keras_model",
    } <= heavy_modules
    local = []
    for name, path in modules().items():
        for target, is_local, line in imports_of(path, name):
            if is_local and target.split(".")[0] not in HEAVY and target not in heavy_modules:
                local.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not local, "\n".join(local)


@pytest.mark.parametrize("name", sorted(modules()))
def test_every_module_opens_with_a_docstring(name):
    assert ast.get_docstring(ast.parse(modules()[name].read_text(encoding="utf-8"))), name


def test_the_package_map_names_every_module():
    """The map in blobs_transfer/__init__.py names every subpackage and module, so a newcomer finds where a thing
    lives from it; each subpackage's own docstring names its modules."""
    top = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")))
    missing = [
        m for m in modules() if m != "blobs_transfer" and m.removeprefix("blobs_transfer.").split(".")[0] not in top
    ]
    assert not missing, missing
    for sub in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        doc = ast.get_docstring(ast.parse((sub / "__init__.py").read_text(encoding="utf-8"))) or ""
        unnamed = [p.stem for p in sub.glob("*.py") if p.stem != "__init__" and f"`{p.stem}`" not in doc]
        assert not unnamed, (sub.name, unnamed)


def test_the_layout_test_sees_a_cycle_and_a_local_import(tmp_path):
    """The checks above can fail: the cycle walk finds a cycle of three modules (and none once it is cut, nor in
    a package's __init__ gathering its own modules), and a hand-made module with a local import of a sibling is
    reported."""
    pkg, a, b, c = "blobs_transfer.stats", "blobs_transfer.stats.a", "blobs_transfer.render.b", "blobs_transfer.api.c"
    graph = {pkg: {a}, a: {b}, b: {c}, c: {a, pkg}}
    assert cycles_of(graph) == [[c, a, b, c]]
    graph[c] = {pkg}
    assert cycles_of(graph) == []
    path = tmp_path / "x.py"
    path.write_text("import os\n\ndef f():\n    from blobs_transfer.train import plan\n    return plan\n")
    assert imports_of(path, "blobs_transfer.render.x") == [("os", False, 1), ("blobs_transfer.train.plan", True, 4)]
    assert stage_of("blobs_transfer.render.x") > stage_of("blobs_transfer.train.plan")
