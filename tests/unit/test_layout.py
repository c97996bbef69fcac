"""tests/unit mirrors src/relaygate (README.md here), so the test of a module is found
where the module is: every folder below is a package's counterpart, and a test module at
the top is named after a top-level module (``test_settings_docs.py`` for settings.py)."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parent
SRC = UNIT.parents[1] / "src" / "relaygate"


def _folders() -> set[Path]:
    return {path.parent.relative_to(UNIT) for path in UNIT.rglob("*.py")} - {Path()}


def test_every_folder_has_a_counterpart_in_src() -> None:
    assert sorted(str(d) for d in _folders() if not (SRC / d).is_dir()) == []


def test_every_folder_is_a_package() -> None:
    """Without __init__.py two test modules of one name in two folders collide."""
    assert sorted(str(d) for d in _folders() if not (UNIT / d / "__init__.py").is_file()) == []


def test_a_top_level_test_is_named_after_a_top_level_module() -> None:
    modules = [path.stem for path in SRC.glob("*.py")]
    strays = [
        path.name
        for path in UNIT.glob("test_*.py")
        if path.name != "test_layout.py"
        and not any(path.stem == f"test_{m}" or path.stem.startswith(f"test_{m}_") for m in modules)
    ]
    assert sorted(strays) == []
