"""The arrow of imports in DESIGN.md: cli -> demo/reader -> imaging, text -> shared; shared knows
neither modality, and no modality knows the reader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import racelens

PACKAGE = Path(racelens.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("sub,forbidden", [
    ("shared", ("racelens.imaging", "racelens.text", "racelens.reader", "racelens.cli",
                "racelens.demo.run")),
    ("imaging", ("racelens.text", "racelens.reader", "racelens.cli", "racelens.demo.run")),
    ("text", ("racelens.imaging", "racelens.reader", "racelens.cli", "racelens.demo.run")),
    # the reader study sits above both modalities, below the CLI and the demo
    ("reader", ("racelens.cli", "racelens.demo")),
])
def test_subpackage_imports_follow_the_arrow(sub: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / sub).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(forbidden)
    }
    assert not offenders, sorted(offenders)
