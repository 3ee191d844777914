"""The built documentation site (`make docs`) works offline: no page loads a script or a
stylesheet from the network, MathJax is a local copy, and every image a page shows is in the
build. Skipped when the site is not built (`make test` builds it before pytest runs).
The same checks in a real browser: tools/check_site.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

SITE = Path(__file__).resolve().parent.parent / "docs" / "_build" / "html"
REMOTE = re.compile(r"^\s*(https?:)?//", re.I)

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").is_file(),
    reason=f"the documentation site is not built ({SITE}); run `make docs`",
)


class Assets(HTMLParser):
    """Collects what a page loads: <script src>, <link href> (stylesheets, preloads, icons),
    <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []  # (tag, url) fetched when the page opens
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.loads.append((tag, a["src"]))
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "icon", "shortcut"} & set(rel):
                self.loads.append((tag, a["href"]))
        elif tag == "img" and a.get("src"):
            self.images.append(a["src"])


def pages() -> list[Path]:
    """The site's pages (not the theme's template fragments under _static/)."""
    return sorted(p for p in SITE.rglob("*.html") if p.relative_to(SITE).parts[0] != "_static")


def parse(page: Path) -> Assets:
    p = Assets()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def local_file(page: Path, url: str) -> Path:
    return (page.parent / unquote(urlsplit(url).path)).resolve()


def test_site_has_the_landing_page_notebooks_and_guides():
    assert (SITE / "README.html").is_file()
    assert len(list((SITE / "notebooks").glob("*.html"))) >= 10
    assert list((SITE / "docs").glob("*.html"))


def test_no_page_loads_a_script_or_stylesheet_from_the_network():
    remote = [
        f"{page.relative_to(SITE)}: <{tag}> {url}"
        for page in pages()
        for tag, url in parse(page).loads
        if REMOTE.match(url)
    ]
    assert not remote, "pages load from the network:\n" + "\n".join(remote)


def test_scripts_stylesheets_and_images_are_in_the_build():
    missing = []
    for page in pages():
        parsed = parse(page)
        for url in [u for _, u in parsed.loads] + parsed.images:
            if REMOTE.match(url) or url.startswith("data:"):
                continue
            if not local_file(page, url).is_file():
                missing.append(f"{page.relative_to(SITE)}: {url}")
    assert not missing, "referenced but not in the build:\n" + "\n".join(missing)


def test_pages_with_maths_load_the_local_mathjax():
    mathjax = SITE / "_static" / "mathjax" / "tex-mml-chtml.js"
    assert mathjax.is_file()
    fonts = list((SITE / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert fonts, "MathJax's CHTML fonts are not in the build"
    with_maths = [p for p in pages() if 'class="math' in p.read_text(encoding="utf-8")]
    for page in with_maths:
        srcs = [u for tag, u in parse(page).loads if tag == "script"]
        assert any(local_file(page, u) == mathjax.resolve() for u in srcs), page
