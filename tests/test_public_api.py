"""The plugin author's API: every public name resolves, and the three lists of it agree.

``brandbot/__init__.py`` names its API three times: ``_EXPORTS`` (what ``import brandbot``
loads lazily at run time), the ``TYPE_CHECKING`` imports (what type checkers see) and the
literal ``__all__`` (what mypy --strict takes as explicitly exported).
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

import brandbot


@pytest.mark.parametrize("name", brandbot.__all__)
def test_every_name_in_all_resolves(name: str) -> None:
    assert getattr(brandbot, name) is not None


def test_exports_and_all_agree() -> None:
    assert len(brandbot.__all__) == len(set(brandbot.__all__)), "a name is listed twice"
    assert set(brandbot.__all__) == {*brandbot._EXPORTS, "__version__"}


@pytest.mark.parametrize("name", sorted(brandbot._EXPORTS))
def test_each_export_is_what_its_entry_names(name: str) -> None:
    module, attr = brandbot._EXPORTS[name]
    loaded = importlib.import_module(module)
    expected = loaded if attr is None else getattr(loaded, attr)
    assert getattr(brandbot, name) is expected
    if attr is None:
        assert isinstance(expected, types.ModuleType)


def _type_checking_imports() -> dict[str, tuple[str, str | None]]:
    """The names bound by the ``if TYPE_CHECKING:`` block, as _EXPORTS spells them."""
    tree = ast.parse(Path(brandbot.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    )
    bound: dict[str, tuple[str, str | None]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module, ast.dump(node)
        for alias in node.names:
            target = alias.asname or alias.name
            assert target not in bound, f"{target} imported twice"
            full = f"{node.module}.{alias.name}"
            if _is_module(full):
                bound[target] = (full, None)
            else:
                bound[target] = (node.module, alias.name)
    return bound


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ModuleNotFoundError:
        return False
    return True


def test_type_checking_imports_match_exports() -> None:
    assert _type_checking_imports() == brandbot._EXPORTS


def test_type_checking_imports_are_explicit_reexports() -> None:
    """``from m import X as X`` (or a name in __all__) is what mypy --strict accepts."""
    tree = ast.parse(Path(brandbot.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("brandbot"):
            for alias in node.names:
                if alias.name == (alias.asname or ""):
                    continue
                assert alias.asname in brandbot.__all__, f"{alias.name} is not re-exported"
