"""Imports flow framework -> compiler -> isa <- hw (DESIGN.md); a back-edge fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# package -> packages it may import from (besides itself and third-party libraries)
ALLOWED = {
    "framework": set(),
    "isa": set(),
    "compiler": {"framework", "isa"},
    "hw": {"isa"},
    "reports": {"hw", "compiler", "isa", "framework"},
    "workloads": {"framework"},
    "archsim": {"framework", "compiler", "isa", "hw", "reports", "workloads"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_imports_follow_layering() -> None:
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imports(path) & set(ALLOWED):
                if name != package and name not in allowed:
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "layering violations:\n" + "\n".join(bad)
