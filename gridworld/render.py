"""Rendering helpers: a fast pure-numpy RGB renderer and matplotlib plots.

:func:`render_rgb` uses numpy only (it backs :meth:`GridWorldEnv.render`).
:func:`plot_layout` and :func:`plot_value_map` import matplotlib lazily, so
importing :mod:`gridworld` never requires a display or matplotlib itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from gridworld.layouts import Layout, as_cell, get_layout

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["COLORS", "plot_layout", "plot_value_map", "render_rgb"]

COLORS: dict[str, tuple[int, int, int]] = {
    "wall": (64, 64, 64),
    "free": (255, 255, 255),
    "grid": (190, 190, 190),
    "path": (173, 216, 255),
    "goal": (60, 179, 113),
    "agent": (220, 40, 40),
}
"""RGB colours used by :func:`render_rgb` (and for walls in the matplotlib plots)."""

LayoutSpec = str | Layout | os.PathLike[str]


def _disc_mask(cell_px: int) -> np.ndarray:
    """Boolean ``(cell_px, cell_px)`` mask of a filled disc centred in a cell."""
    c = (cell_px - 1) / 2.0
    r = max(cell_px * 0.35, 0.5)
    yy, xx = np.mgrid[0:cell_px, 0:cell_px]
    return (xx - c) ** 2 + (yy - c) ** 2 <= r * r


def render_rgb(
    layout: LayoutSpec,
    agent: Sequence[int] | None = None,
    goal: Sequence[int] | None = None,
    cell_px: int = 16,
    path: Iterable[Sequence[int]] | None = None,
) -> np.ndarray:
    """Render a layout to an RGB image with numpy only.

    Parameters
    ----------
    layout
        A :class:`Layout` or anything :func:`get_layout` accepts.
    agent
        Optional agent cell ``(x, y)``, drawn as a red disc.
    goal
        Optional goal cell ``(x, y)``, filled green.
    cell_px
        Side of one cell in pixels (>= 1). Grid lines are drawn when ``cell_px >= 4``.
    path
        Optional iterable of ``(x, y)`` cells, filled light blue (under goal and agent).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(H * cell_px, W * cell_px, 3)``.
    """
    lay = get_layout(layout)
    if isinstance(cell_px, bool) or not isinstance(cell_px, int | np.integer) or cell_px < 1:
        raise ValueError(f"cell_px must be an int >= 1, got {cell_px!r}")
    cell_px = int(cell_px)
    h, w = lay.shape

    cells = np.empty((h, w, 3), dtype=np.uint8)
    cells[:] = COLORS["free"]
    cells[lay.walls] = COLORS["wall"]
    if path is not None:
        for c in path:
            x, y = lay.require_free(c, "path cell")
            cells[y, x] = COLORS["path"]
    if goal is not None:
        gx, gy = lay.require_free(goal, "goal")
        cells[gy, gx] = COLORS["goal"]

    img = np.repeat(np.repeat(cells, cell_px, axis=0), cell_px, axis=1)

    if cell_px >= 4:
        # One-pixel lines on the top and left edge of every cell plus the outer frame.
        grid = np.array(COLORS["grid"], dtype=np.uint8)
        img[::cell_px, :] = grid
        img[:, ::cell_px] = grid
        img[-1, :] = grid
        img[:, -1] = grid

    if agent is not None:
        ax_, ay_ = as_cell(agent, "agent")
        if not (0 <= ax_ < w and 0 <= ay_ < h):
            raise ValueError(f"agent {(ax_, ay_)} is outside the {w}x{h} grid")
        block = img[ay_ * cell_px : (ay_ + 1) * cell_px, ax_ * cell_px : (ax_ + 1) * cell_px]
        block[_disc_mask(cell_px)] = COLORS["agent"]
    return img


def _wall_rgba() -> tuple[float, float, float, float]:
    r, g, b = COLORS["wall"]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)


def _prepare_axes(ax: Axes | None, lay: Layout) -> Axes:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(0.4 * lay.width + 1.0, 0.4 * lay.height + 0.6))
    return ax


def _style_grid(ax: Axes, lay: Layout) -> None:
    ax.set_xticks(np.arange(-0.5, lay.width, 1.0), minor=True)
    ax.set_yticks(np.arange(-0.5, lay.height, 1.0), minor=True)
    ax.grid(which="minor", color="#bebebe", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xlim(-0.5, lay.width - 0.5)
    ax.set_ylim(lay.height - 0.5, -0.5)


def plot_layout(layout: LayoutSpec, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw a layout with matplotlib: walls dark grey, free cells white, start marked ``S``.

    Parameters
    ----------
    layout
        A :class:`Layout` or anything :func:`get_layout` accepts.
    ax
        Axes to draw into; a new figure is created when ``None``.
    title
        Axes title; defaults to ``"<name> (WxH)"``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    lay = get_layout(layout)
    ax = _prepare_axes(ax, lay)
    ax.imshow(render_rgb(lay, cell_px=1), interpolation="nearest")
    sx, sy = lay.start
    ax.text(
        sx,
        sy,
        "S",
        ha="center",
        va="center",
        color=np.array(COLORS["agent"]) / 255.0,
        fontweight="bold",
    )
    _style_grid(ax, lay)
    ax.set_title(title if title is not None else f"{lay.name} ({lay.width}x{lay.height})")
    return ax


def plot_value_map(
    layout: LayoutSpec,
    values: np.ndarray,
    ax: Axes | None = None,
    cmap: str = "viridis",
    title: str | None = None,
    annotate: bool = False,
    colorbar: bool = True,
    fmt: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cbar_label: str | None = None,
) -> Axes:
    """Draw a per-cell value map (e.g. BFS distances or goal-achievement rates).

    Parameters
    ----------
    layout
        A :class:`Layout` or anything :func:`get_layout` accepts.
    values
        Array of shape ``(H, W)``. Wall cells and non-finite values (use ``nan``)
        are drawn dark grey regardless of their value.
    ax
        Axes to draw into; a new figure is created when ``None``.
    cmap
        Matplotlib colormap name.
    title
        Axes title.
    annotate
        Write each free cell's value into the cell.
    colorbar
        Add a colorbar next to the axes.
    fmt
        Format spec for annotations; defaults to ``"d"`` for integral values and
        ``".2g"`` otherwise.
    vmin, vmax
        Colour scale limits; default to the range of the shown values (pass 0 and 1
        for rates, so maps drawn side by side share one scale).
    cbar_label
        Label of the colorbar (what the colour measures, with its unit).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib as mpl

    lay = get_layout(layout)
    vals = np.asarray(values, dtype=float)
    if vals.shape != lay.shape:
        raise ValueError(f"values must have shape {lay.shape} (H, W), got {vals.shape}")
    mask = lay.walls | ~np.isfinite(vals)
    data = np.ma.masked_array(vals, mask=mask)
    cm = mpl.colormaps[cmap].with_extremes(bad=_wall_rgba())

    ax = _prepare_axes(ax, lay)
    shown = vals[~mask]
    if vmin is None:
        vmin = float(shown.min()) if shown.size else 0.0
    if vmax is None:
        vmax = float(shown.max()) if shown.size else 1.0
    im = ax.imshow(data, cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest")
    _style_grid(ax, lay)
    if colorbar:
        cbar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if cbar_label is not None:
            cbar.set_label(cbar_label)
    if annotate:
        if fmt is None:
            fmt = "d" if shown.size and np.all(shown == np.round(shown)) else ".2g"
        mid = (vmin + vmax) / 2.0
        for y, x in zip(*np.nonzero(~mask), strict=True):
            v = vals[y, x]
            text = format(int(v), fmt) if fmt == "d" else format(v, fmt)
            ax.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="black" if v > mid else "white",
            )
    if title is not None:
        ax.set_title(title)
    return ax
