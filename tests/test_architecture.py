"""The shape of the code, checked: imports flow one way between layers, no import circles, small modules
and functions, and the README's command table matches the real CLI.

Read from the source with `ast`, so nothing is imported and the test takes well under a second.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import typer.main

from rag.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rag", "ingest", "ui")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# A layer may import its own rank and lower ranks only. The first matching prefix decides.
LAYERS: tuple[tuple[str, int], ...] = (
    ("rag.errors", 0),
    ("rag.types", 0),
    ("rag.settings", 0),
    ("rag.tokens", 0),
    ("rag.privacy", 0),
    ("rag.verify", 0),
    ("rag.prompts", 0),
    ("rag.auth", 0),
    ("rag.rules", 0),
    ("rag.store", 1),
    ("rag.llm", 1),
    ("ingest", 2),
    ("rag.retrieval", 3),
    ("rag.answer", 4),
    ("rag.summaries", 5),
    ("rag.clauses", 5),
    ("rag.batch", 6),
    ("rag.service", 7),
    ("rag.eval", 8),
    ("rag.cli", 9),
    ("ui", 9),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def rank(module: str) -> int | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules imported by a file (at any depth: a lazy import is still a dependency)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(path, known) - {name} for name, path in found.items()}


def test_every_module_has_a_layer():
    unranked = [n for n in modules() if rank(n) is None and n not in PACKAGES and not n.endswith("__main__")]
    assert not unranked, f"give these modules a layer in LAYERS: {unranked}"


def test_imports_flow_down_the_layers():
    wrong = []
    for module, imported in import_graph().items():
        if module.endswith("__main__") or rank(module) is None:
            continue
        for target in imported:
            if target in PACKAGES:
                continue
            if rank(target) is not None and rank(target) > rank(module):  # type: ignore[operator]
                wrong.append(f"{module} (layer {rank(module)}) imports {target} (layer {rank(target)})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_circles():
    graph = import_graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in modules().items():
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines (at most {MAX_FUNCTION_LINES})")
    assert not too_long, "\n".join(too_long)


def cli_commands() -> set[str]:
    """Every runnable command path of the real Typer app, e.g. `batch status`."""
    found: set[str] = set()

    def walk(command, prefix: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found.add(prefix)
            return
        if getattr(command, "invoke_without_command", False) and prefix:
            found.add(prefix)
        for name, sub in subcommands.items():
            walk(sub, f"{prefix} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def readme_commands() -> set[str]:
    """Command paths in the README's command table (`| `quire batch status DIR` | ...`)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Command line", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for row in re.findall(r"^\| `quire ([^`]*)`", section, re.M):
        words = [w for w in row.split() if re.fullmatch(r"[a-z][a-z-]*", w)]
        paths.add(" ".join(words[:2]))
    return paths


def test_readme_command_table_matches_the_cli():
    cli = cli_commands()
    documented = readme_commands()
    # a row names a command and maybe its subcommand (`quire batch FOLDER` runs the default `batch run`)
    rows = {next((p for p in (row, f"{row} run", row.split()[0]) if p in cli), row) for row in documented}
    assert not rows - cli, f"README documents commands the CLI lacks: {sorted(rows - cli)}"
    assert not cli - rows, f"commands missing from the README's command table: {sorted(cli - rows)}"


@pytest.mark.parametrize("package", ["rag.answer", "rag.batch", "rag.clauses", "rag.retrieval", "rag.store"])
def test_packages_say_what_they_hold(package):
    init = ROOT / package.replace(".", "/") / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} needs a docstring"
