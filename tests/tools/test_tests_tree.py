"""The tests' own tree keeps its shape: it mirrors the product's packages, each folder of tests
is a package, and no test module imports another (what tests share is in ``tests/factories.py``
and the conftest fixtures), as import-linter would forbid it."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HOMES = {"edge", "cloud", "shared", "hardware_sim", "tools", "e2e"}


def modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def imported(path: Path) -> set[str]:
    """Every module *path* imports, relative imports resolved within ``tests``."""
    package = ["tests", *path.relative_to(TESTS).parent.parts]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)  # ``from tests import x``
    return names


def test_no_test_module_imports_another() -> None:
    found = {f"{p.relative_to(TESTS)} imports {name}"
             for p in modules() for name in imported(p)
             if name.split(".")[0] == "tests" and name.split(".")[-1].startswith("test_")}
    assert not found, sorted(found)


def test_the_tests_mirror_the_product() -> None:
    folders = {p.parent for p in TESTS.rglob("test_*.py")}
    assert {f.name for f in folders} == HOMES, "tests live in one of the homes, none at the top"
    for folder in folders:
        assert (folder / "__init__.py").is_file(), f"{folder} is a package"
