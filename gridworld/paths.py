"""Shortest paths on a layout (breadth-first search with the four moves).

All functions accept a :class:`~gridworld.Layout` or anything
:func:`~gridworld.get_layout` accepts. Distances count moves; ``-1`` marks walls
and unreachable cells. Cells are ``(x, y)``; arrays are indexed ``[y, x]``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from gridworld.layouts import Layout, get_layout

__all__ = [
    "MAX_TABLE_BYTES",
    "distance_map",
    "distance_table",
    "shortest_path",
    "shortest_path_length",
]

LayoutSpec = str | Layout | os.PathLike[str]


def _multi_source_bfs(walls: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Independent BFS from each source cell, all sources advanced together.

    Parameters
    ----------
    walls
        ``(H, W)`` boolean wall mask.
    xs, ys
        Source coordinates, shape ``(N,)``; must be free cells.

    Returns
    -------
    numpy.ndarray
        ``int32`` array ``(N, H, W)``: distance from source ``i`` to each cell, ``-1``
        for walls and unreachable cells.
    """
    free = ~walls
    n = len(xs)
    h, w = walls.shape
    dist = np.full((n, h, w), -1, dtype=np.int32)
    frontier = np.zeros((n, h, w), dtype=bool)
    frontier[np.arange(n), ys, xs] = True
    visited = frontier.copy()
    dist[frontier] = 0
    nxt = np.empty_like(frontier)
    d = 0
    while frontier.any():
        d += 1
        # Neighbours of the frontier in the four directions (no wrap-around).
        nxt[:] = False
        nxt[:, 1:, :] |= frontier[:, :-1, :]
        nxt[:, :-1, :] |= frontier[:, 1:, :]
        nxt[:, :, 1:] |= frontier[:, :, :-1]
        nxt[:, :, :-1] |= frontier[:, :, 1:]
        nxt &= free
        nxt &= ~visited
        dist[nxt] = d
        visited |= nxt
        frontier, nxt = nxt, frontier
    return dist


MAX_TABLE_BYTES = 2**30
"""Default limit of :func:`distance_table` (1 GiB: an empty 126x126 room)."""


def distance_table(layout: LayoutSpec, max_bytes: int = MAX_TABLE_BYTES) -> np.ndarray:
    """All-pairs shortest-path lengths.

    The table holds ``(H * W) ** 2`` int32 entries (a 500x500 layout: 233 GiB); beyond
    ``max_bytes`` use :func:`distance_map` from the start cells you need instead.

    Returns
    -------
    numpy.ndarray
        ``int32`` array of shape ``(H, W, H, W)`` with ``table[y0, x0, y1, x1]`` the
        number of moves from ``(x0, y0)`` to ``(x1, y1)``; ``-1`` if either cell is a
        wall or the pair is disconnected.

    Raises
    ------
    ValueError
        If the table would exceed ``max_bytes`` (checked before allocating).
    """
    lay = get_layout(layout)
    h, w = lay.shape
    need = 4 * (h * w) ** 2
    if need > max_bytes:
        raise ValueError(
            f"the all-pairs distance table of layout {lay.name!r} ({w}x{h}) would need "
            f"{need / 2**30:.1f} GiB, over the limit max_bytes={max_bytes} "
            f"({max_bytes / 2**30:.1f} GiB); use distance_map(layout, start) per start cell"
        )
    ys, xs = np.nonzero(~lay.walls)
    table = np.full((h, w, h, w), -1, dtype=np.int32)
    table[ys, xs] = _multi_source_bfs(lay.walls, xs, ys)
    return table


def distance_map(layout: LayoutSpec, start: Any) -> np.ndarray:
    """Shortest-path lengths from ``start`` to every cell.

    Parameters
    ----------
    layout
        A :class:`Layout` or anything :func:`get_layout` accepts.
    start
        Free cell ``(x, y)``.

    Returns
    -------
    numpy.ndarray
        ``int32`` array ``(H, W)``; ``-1`` for walls and unreachable cells.

    Raises
    ------
    ValueError
        If ``start`` is not a free cell.
    """
    lay = get_layout(layout)
    x, y = lay.require_free(start, "start")
    return _multi_source_bfs(lay.walls, np.array([x]), np.array([y]))[0]


def shortest_path_length(layout: LayoutSpec, start: Any, goal: Any) -> int:
    """Number of moves on a shortest path from ``start`` to ``goal``; ``-1`` if unreachable.

    Raises
    ------
    ValueError
        If ``start`` or ``goal`` is not a free cell.
    """
    lay = get_layout(layout)
    gx, gy = lay.require_free(goal, "goal")
    return int(distance_map(lay, start)[gy, gx])


def shortest_path(layout: LayoutSpec, start: Any, goal: Any) -> list[tuple[int, int]] | None:
    """One shortest path from ``start`` to ``goal`` as a list of cells (both ends included).

    Among equally short paths the one preferring moves in action order
    (up, right, down, left) at each step is returned. ``None`` if unreachable.

    Raises
    ------
    ValueError
        If ``start`` or ``goal`` is not a free cell.
    """
    lay = get_layout(layout)
    sx, sy = lay.require_free(start, "start")
    gx, gy = lay.require_free(goal, "goal")
    to_goal = distance_map(lay, (gx, gy))
    if to_goal[sy, sx] < 0:
        return None
    path = [(sx, sy)]
    x, y = sx, sy
    while (x, y) != (gx, gy):
        for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)):
            nx, ny = x + dx, y + dy
            if lay.is_free(nx, ny) and to_goal[ny, nx] == to_goal[y, x] - 1:
                x, y = nx, ny
                break
        path.append((x, y))
    return path
