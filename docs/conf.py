"""Sphinx configuration of the documentation site (`make docs`).

The site is built from the repository root, with this folder as the configuration folder:

    sphinx-build -b html -c docs -E -W --keep-going -n -q . docs/_build/html   (make docs)

so that the README (the landing page) and the docs pages keep the very links they have on
GitHub (`docs/install.md`, `notebooks/01_glamor_gridworld.ipynb`, `docs/figures/x.png`).
Only README.md, docs/*.md and notebooks/*.ipynb are pages (README.html is the landing page,
index.html forwards to it). The notebooks are rendered from their committed outputs, never
executed. Maths is typeset by a local copy of MathJax 3 (the `django-static-mathjax` package,
which has no dependency of its own), so the site works offline.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

project = "glamor-mini"
author = "glamor-mini contributors"
copyright = "glamor-mini contributors"
html_title = "glamor-mini"

extensions = ["myst_nb"]

# -- which files are pages ---------------------------------------------------------------------
root_doc = "README"
# docs/figures/**/table1.md are generated tables (data), not pages: a link to one is a download.
include_patterns = ["README.md", "docs/*.md", "notebooks/*.ipynb"]
exclude_patterns = [
    ".venv", ".git", "docs/_build", "runs", "build", "dist", "**/.ipynb_checkpoints",
    "**/__pycache__", "*.egg-info", ".ruff_cache", ".pytest_cache", "node_modules",
]
templates_path = ["_templates"]

# -- MyST and the notebooks ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 4          # README's `#quickstart`-style links resolve
nb_execution_mode = "off"         # render the committed outputs; never run a notebook here
nb_merge_streams = True
# Offline: no ipywidgets JavaScript (myst-nb's default loads it from a CDN); a widget output
# (a tqdm bar, say) shows its text/plain form instead.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
suppress_warnings: list[str] = []

# -- navigation: README is the root; the toctrees are added to it when Sphinx reads it ---------
# Guides in a reading order; pages not named here follow alphabetically, and names that do not
# exist are skipped, so the docs pages can be renamed without touching this file.
GUIDE_ORDER = [
    "install", "runbook", "results", "evaluation", "speed", "design", "investigations",
    "run_directory", "atari",
]


def _guides() -> list[str]:
    names = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    ordered = [n for n in GUIDE_ORDER if n in names]
    return ordered + [n for n in names if n not in ordered]


def _toctrees() -> str:
    guides = "\n".join(f"docs/{name}" for name in _guides())
    return (
        "\n\n```{toctree}\n:hidden:\n:caption: Learn\n:glob:\n\nnotebooks/*\n```\n"
        f"\n```{{toctree}}\n:hidden:\n:caption: Guides\n\n{guides}\n```\n"
    )


def _add_toctrees(app, docname: str, source: list[str]) -> None:
    if docname == app.config.root_doc:
        source[0] += _toctrees()


# -- offline maths: MathJax 3 from the `mathjax` package (django-static-mathjax) -------------------
_spec = importlib.util.find_spec("mathjax")
MATHJAX_DIR = (
    Path(_spec.origin).parent / "static" / "mathjax" / "es5" if _spec and _spec.origin else None
)
if MATHJAX_DIR is None or not (MATHJAX_DIR / "tex-mml-chtml.js").is_file():
    raise RuntimeError(
        "the local MathJax copy is missing: install the docs extra "
        "(pip install -e '.[docs]', which brings django-static-mathjax)"
    )
mathjax_path = "mathjax/tex-mml-chtml.js"   # relative to _static/
mathjax3_config = {"options": {}}           # MyST fills in the classes MathJax may process


def _copy_mathjax(app, exc) -> None:
    if exc is None and app.builder.format == "html":
        dest = Path(app.outdir) / "_static" / "mathjax"
        if not (dest / "tex-mml-chtml.js").is_file():
            shutil.copytree(MATHJAX_DIR, dest, dirs_exist_ok=True)


# -- HTML ------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "use_download_button": True,
    "home_page_in_toc": True,
}
html_static_path: list[str] = []
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False

# A plain index.html that forwards to the landing page (README.html).
html_additional_pages = {"index": "redirect.html"}


def _no_remote_assets(app, pagename, templatename, context, doctree) -> None:
    """Warn (an error under -W) when a page would load a script or stylesheet from the network."""
    remote = re.compile(r"^(https?:)?//")
    for attr in ("script_files", "css_files"):
        for asset in context.get(attr, []):
            name = getattr(asset, "filename", str(asset))
            if remote.match(str(name)):
                logger.warning(f"{pagename} loads {name} from the network (the site must work "
                               "offline: serve a local copy)", type="site", subtype="offline")


def setup(app):
    app.connect("source-read", _add_toctrees)
    app.connect("html-page-context", _no_remote_assets)
    app.connect("build-finished", _copy_mathjax)
