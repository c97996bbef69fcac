"""The README and docs/ hold no link that leads nowhere, and document the real settings.

Before: README.md linked ../shared/DESIGN.md (outside the repository: a 404 for anyone who
clones it), operator-api.md linked an anchor configuration.md has no heading for, and
configuration.md documented ``usage_flush_interval``, which nothing read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaygate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def _links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8")))


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert broken == []


def _documented_settings() -> list[str]:
    """The first column of the settings table in docs/configuration.md."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for row in re.findall(r"^\| (`[^|]+`) \|", table, re.MULTILINE):
        names += re.findall(r"`([a-z_]+)`", row)
    return names


def test_documented_settings_exist() -> None:
    documented = _documented_settings()
    assert len(documented) > 30
    assert [n for n in documented if n not in Settings.model_fields] == []


def test_every_setting_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    declared = [n for n in Settings.model_fields if n not in {"channels", "models"}]
    assert [n for n in declared if f"`{n}`" not in text] == []


def test_every_setting_is_read() -> None:
    """A documented setting that nothing reads misleads the operator who sets it."""
    src = ROOT / "src" / "relaygate"
    code = "\n".join(
        p.read_text(encoding="utf-8") for p in src.rglob("*.py") if p.name != "settings.py"
    )
    own = (src / "settings.py").read_text(encoding="utf-8")  # properties (base_url)
    declared = [n for n in Settings.model_fields if n not in {"channels", "models"}]
    unread = [n for n in declared if not re.search(rf"\.{n}\b", code)]
    assert [n for n in unread if not re.search(rf"self\.{n}\b", own)] == []
