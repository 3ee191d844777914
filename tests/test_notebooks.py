"""The notebooks as committed: executed top to bottom, with the outputs a reader sees in a viewer.

nbval (``make test``) re-executes every notebook; these tests check the committed files themselves,
so that a notebook saved without its figures and numbers cannot land (``make notebooks`` writes
them), and that the words a user reads carry no development history.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_BYTES = 2_000_000
# a code cell that calls one of these shows something, so it must have a stored output
SHOWS = re.compile(r"(^|[^\w.])(print|display)\(|plt\.show\(")
HISTORY = re.compile(
    r"\b(stop \d+|issue \d+|#\d{2}\b|throwaway|knife[- ]edge|of mine|earlier version|"
    r"before:|session \d+)",
    re.I,
)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 11, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_outputs_from_one_fresh_run(path: Path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c.get("execution_count") for c in code]
    assert all(isinstance(n, int) for n in counts), (
        f"{path.name}: {counts.count(None)} code cell(s) never executed; run `make notebooks "
        f"NB={path.relative_to(REPO)}` and commit the result"
    )
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}: the stored outputs do "
        "not come from one top-to-bottom run in a fresh kernel (`make notebooks`)"
    )
    missing = [i for i, c in enumerate(code) if SHOWS.search(_source(c)) and not c.get("outputs")]
    assert not missing, (
        f"{path.name}: code cells {missing} print or plot but have no stored output "
        "(`make notebooks`)"
    )
    errors = [
        i for i, c in enumerate(code) for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors, f"{path.name}: code cells {errors} stored an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_are_stored_and_the_file_stays_small(path: Path):
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size / 1e6:.1f} MB (at most 2 MB: ~100 dpi PNGs)"
    plots = [
        c
        for c in _cells(path)
        if c["cell_type"] == "code" and re.search(r"plt\.show\(|display\(Image", _source(c))
    ]
    for c in plots:
        assert any("image/png" in o.get("data", {}) for o in c.get("outputs", [])), (
            f"{path.name}: a plotting cell has no PNG output:\n{_source(c)[:200]}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ends_with_try_it_and_speaks_of_the_present(path: Path):
    cells = _cells(path)
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert re.search(r"^#+ .*Try it", text, re.M), f"{path.name}: no 'Try it' section"
    assert "<details>" in text, f"{path.name}: the exercises give no answer to check"
    found = sorted({m.group(0) for c in cells for m in HISTORY.finditer(_source(c))})
    assert not found, f"{path.name}: development history in a notebook: {found}"
