"""The console's own scripts and styles parse: a merge that drops one closing brace stops
every enhancement on every page, and only a browser test of that one feature would notice."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[3] / "src" / "relaygate" / "web" / "assets" / "console"
SCRIPTS = sorted(ASSETS.glob("*.js"))
STYLES = sorted(ASSETS.glob("*.css"))


def test_the_console_has_scripts_and_styles() -> None:
    assert SCRIPTS and STYLES


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed (make install uses npm)"
    done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("style", STYLES, ids=lambda p: p.name)
def test_style_braces_balance(style: Path) -> None:
    text = re.sub(r"/\*.*?\*/", "", style.read_text(), flags=re.S)
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, f"{style.name}: a closing brace without its opening one"
    assert depth == 0, f"{style.name}: {depth} block(s) left open"
