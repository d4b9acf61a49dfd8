"""The import rules of docs/architecture.md, checked on every run: a layer imports only what its row allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "eliza_messaging"

# layer -> the layers of ours it may import (besides itself). The composition root may import anything.
ALLOWED: dict[str, set[str]] = {
    "types": set(),
    "tasks": set(),
    "records": {"types"},
    "protocol": {"types"},
    "store": {"records", "types"},
    "fanout": {"tasks", "types"},
    "queue": {"records", "tasks", "types"},
    "models": set(),
    "messaging": {"protocol", "store", "fanout", "queue", "records", "tasks", "types"},
    "agents": {"messaging", "models", "protocol", "records", "types"},
    "gateway": {"protocol", "messaging", "fanout", "records", "types", "__version__"},
    "client": {"protocol", "types", "__version__"},
    "commands": {"client", "protocol", "types", "__version__"},
}
ROOT = {"app", "cli", "collector", "config", "logs", "__init__", "__main__"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    """The top-level names of our package that ``path`` imports (relative or absolute)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    depth_of_file = len(path.relative_to(PACKAGE).parts) - 1  # 0 for modules at the package root
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "eliza_messaging":
                    parts = node.module.split(".")[1:]
                    found.add(parts[0] if parts else node.names[0].name)
                continue
            up = node.level - 1  # levels above the file's own package
            if up < depth_of_file:
                continue  # within the same layer
            module = (node.module or "").split(".")
            found.add(module[0] if module[0] else node.names[0].name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "eliza_messaging" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_layer_is_known() -> None:
    unknown = {_layer(p) for p in _modules()} - set(ALLOWED) - ROOT
    assert not unknown, f"layers missing from ALLOWED and docs/architecture.md: {sorted(unknown)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = _layer(path)
    if layer in ROOT:
        return
    wrong = _imported_layers(path) - ALLOWED[layer] - {layer}
    where = path.relative_to(PACKAGE)
    assert not wrong, f"{where} ({layer}) imports {sorted(wrong)}; allowed: {sorted(ALLOWED[layer])}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """Positive control: an upward import is found, so the rule above can fail."""
    probe = PACKAGE / "store" / "sqlite.py"
    assert "records" in _imported_layers(probe)
    gateway_file = PACKAGE / "gateway" / "socketio.py"
    assert "messaging" in _imported_layers(gateway_file)
    assert "messaging" not in ALLOWED["store"]


def test_the_map_names_every_module() -> None:
    """docs/architecture.md is kept true: each module is named there (``x.py``, or ``x.Thing`` for a base)."""
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    unnamed = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.name not in ("__init__.py", "__main__.py")
        and f"`{p.name}`" not in doc
        and f"`{p.relative_to(PACKAGE)}`" not in doc
        and f"`{p.stem}." not in doc
        and f"({p.name}" not in doc
    ]
    assert not unnamed, f"modules missing from docs/architecture.md: {unnamed}"
