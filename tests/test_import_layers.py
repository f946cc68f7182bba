"""The import rule of DESIGN.md: a module imports from its own layer and the layers to its
left, never to its right. scapy only in sources/, click only in cli.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "capture_tls"
LAYERS = ["core", "sources", "reassembly", "protocols", "analysis", "reporting", "cli"]


def layer_of(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "capture_tls"
    if len(parts) == 1:
        return 0
    head = parts[1]
    if head in ("cli", "__main__"):
        return LAYERS.index("cli")
    if head in LAYERS:
        return LAYERS.index(head)
    return 0  # limits, errors, bytereader: the base every layer may use


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out.append((name, path))
    return out


def imports_of(module: str, path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not path.name == "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append(mod)
            # `from capture_tls.protocols import tls` imports capture_tls.protocols.tls
            found.extend(f"{mod}.{a.name}" for a in node.names if mod.startswith("capture_tls"))
    return found


def test_the_package_has_all_layers() -> None:
    names = {m for m, _ in modules()}
    for layer in LAYERS[1:-1]:
        assert f"capture_tls.{layer}" in names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_no_import_to_the_right(module: str, path: Path) -> None:
    mine = layer_of(module)
    for imported in imports_of(module, path):
        if imported.startswith("capture_tls"):
            theirs = layer_of(imported)
            assert theirs <= mine, (
                f"{module} ({LAYERS[mine]}) imports {imported} ({LAYERS[theirs]})"
            )
        top = imported.split(".")[0]
        if top == "scapy":
            assert module.startswith("capture_tls.sources"), f"{module} imports scapy"
        if top == "click":
            assert module == "capture_tls.cli", f"{module} imports click"


def test_the_checker_catches_a_bad_edge(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from capture_tls.reporting import text_report\n")
    found = imports_of("capture_tls.protocols.bad", bad)
    assert any(layer_of(i) > layer_of("capture_tls.protocols.bad") for i in found)
