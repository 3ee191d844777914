"""Grid layouts: parsing, validation and the built-in maps.

A layout is a boolean wall mask plus a start cell. Coordinates are ``(x, y)`` with
``x`` the column and ``y`` the row, origin at the top-left; arrays are indexed
``walls[y, x]``. Layouts include their border walls, and every cell outside the
array counts as a wall, so an agent can never leave the grid.

Text format (one character per cell)::

    #  wall
    .  free cell
    S  start (a free cell); at most one

If there is no ``S`` the start is the free cell closest (Euclidean) to the grid
centre, ties broken in row-major order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LAYOUTS",
    "Layout",
    "get_layout",
    "load_layout",
    "parse_layout",
]

WALL_CHAR = "#"
FREE_CHAR = "."
START_CHAR = "S"
_ACCEPTED = f"accepted: '{WALL_CHAR}' wall, '{FREE_CHAR}' free, '{START_CHAR}' start"


def as_cell(cell: Any, what: str = "cell") -> tuple[int, int]:
    """Convert ``cell`` to an ``(x, y)`` tuple of plain Python ints.

    Parameters
    ----------
    cell
        A pair of integers (tuple, list or integer numpy array of length 2).
    what
        Name used in the error message (e.g. ``"start"`` or ``"goal"``).

    Raises
    ------
    ValueError
        If ``cell`` is not a pair of integers (booleans and floats are rejected).
    """
    try:
        items = list(cell)
    except TypeError:
        raise ValueError(f"{what} must be a pair of ints (x, y), got {cell!r}") from None
    if len(items) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in items
    ):
        raise ValueError(f"{what} must be a pair of ints (x, y), got {cell!r}")
    return int(items[0]), int(items[1])


@dataclass(frozen=True, eq=False)
class Layout:
    """An immutable grid layout.

    Attributes
    ----------
    name
        Human-readable name (the built-in key or the file stem).
    walls
        Read-only boolean array of shape ``(H, W)``; ``True`` marks a wall.
        Indexed ``walls[y, x]``.
    start
        Default start cell ``(x, y)``; always a free cell.
    """

    name: str
    walls: np.ndarray
    start: tuple[int, int]

    def __post_init__(self) -> None:
        walls = np.array(self.walls, dtype=bool, copy=True)
        if walls.ndim != 2 or walls.shape[0] < 1 or walls.shape[1] < 1:
            raise ValueError(f"walls must be a non-empty 2-D array, got shape {walls.shape}")
        if walls.all():
            raise ValueError(f"layout {self.name!r} has no free cell")
        walls.setflags(write=False)
        object.__setattr__(self, "walls", walls)
        start = as_cell(self.start, "start")
        object.__setattr__(self, "start", start)
        if not self.is_free(*start):
            raise ValueError(f"start {start} of layout {self.name!r} is not a free cell")

    @property
    def height(self) -> int:
        """Number of rows ``H`` (including border walls)."""
        return int(self.walls.shape[0])

    @property
    def width(self) -> int:
        """Number of columns ``W`` (including border walls)."""
        return int(self.walls.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``, the shape of the wall array."""
        return self.height, self.width

    def free_cells(self) -> list[tuple[int, int]]:
        """All free cells as ``(x, y)`` tuples in row-major order (y, then x)."""
        ys, xs = np.nonzero(~self.walls)
        return [(int(x), int(y)) for y, x in zip(ys, xs, strict=True)]

    def is_free(self, x: int, y: int) -> bool:
        """Whether ``(x, y)`` is inside the grid and not a wall."""
        return 0 <= x < self.width and 0 <= y < self.height and not bool(self.walls[y, x])

    def require_free(self, cell: Any, what: str = "cell") -> tuple[int, int]:
        """Validate that ``cell`` is a free cell and return it as ``(x, y)`` ints.

        Raises
        ------
        ValueError
            If ``cell`` is not a pair of ints, or is a wall / outside the grid.
        """
        x, y = as_cell(cell, what)
        if not self.is_free(x, y):
            inside = 0 <= x < self.width and 0 <= y < self.height
            where = "a wall" if inside else "outside the grid"
            raise ValueError(
                f"{what} {(x, y)} is {where} in layout {self.name!r} "
                f"(size {self.width}x{self.height}); it must be a free cell"
            )
        return x, y

    def to_text(self) -> str:
        """Render the layout in the text format accepted by :func:`parse_layout`."""
        rows = []
        for y in range(self.height):
            chars = [WALL_CHAR if w else FREE_CHAR for w in self.walls[y]]
            if y == self.start[1]:
                chars[self.start[0]] = START_CHAR
            rows.append("".join(chars))
        return "\n".join(rows) + "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Layout):
            return NotImplemented
        return (
            self.name == other.name
            and self.start == other.start
            and self.walls.shape == other.walls.shape
            and bool(np.array_equal(self.walls, other.walls))
        )

    def __hash__(self) -> int:
        return hash((self.name, self.start, self.walls.shape, self.walls.tobytes()))

    def __repr__(self) -> str:
        return (
            f"Layout(name={self.name!r}, size={self.width}x{self.height}, "
            f"start={self.start}, free_cells={int((~self.walls).sum())})"
        )


def _centre_start(walls: np.ndarray) -> tuple[int, int]:
    """The free cell closest to the grid centre; ties broken row-major."""
    h, w = walls.shape
    ys, xs = np.nonzero(~walls)  # row-major order
    # Doubled coordinates keep the squared distance an exact integer.
    d2 = (2 * xs - (w - 1)) ** 2 + (2 * ys - (h - 1)) ** 2
    i = int(np.argmin(d2))  # argmin returns the first minimum -> row-major tie break
    return int(xs[i]), int(ys[i])


def parse_layout(text: str, name: str = "custom") -> Layout:
    """Parse a layout from text.

    Parameters
    ----------
    text
        Rows of ``#`` (wall), ``.`` (free) and ``S`` (start). Trailing whitespace
        on each line and blank leading/trailing lines are ignored.
    name
        Name stored in the returned :class:`Layout`.

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        For empty text, ragged rows, unknown characters, more than one ``S`` or a
        layout without free cells. Messages name the (1-based) line and column
        numbers of the original text.

    Examples
    --------
    >>> layout = parse_layout('''
    ... #####
    ... #S..#
    ... #####
    ... ''')
    >>> layout.width, layout.height, layout.start
    (5, 3, (1, 1))
    """
    if not isinstance(text, str):
        raise TypeError(f"layout text must be a str, got {type(text).__name__}")
    numbered = [(i + 1, line.rstrip()) for i, line in enumerate(text.splitlines())]
    while numbered and not numbered[0][1]:
        numbered.pop(0)
    while numbered and not numbered[-1][1]:
        numbered.pop()
    if not numbered:
        raise ValueError(
            f"layout {name!r} is empty: no non-blank line found; expected at least one line "
            f"of characters ({_ACCEPTED})"
        )

    first_lineno, first_line = numbered[0]
    width = len(first_line)
    walls = np.ones((len(numbered), width), dtype=bool)
    start: tuple[int, int] | None = None
    start_pos: tuple[int, int] | None = None  # (line, column) of the first S
    for y, (lineno, line) in enumerate(numbered):
        if len(line) != width:
            raise ValueError(
                f"layout {name!r}: line {lineno} has length {len(line)}, expected {width} "
                f"(the length of line {first_lineno}); all rows must have the same width"
            )
        for x, ch in enumerate(line):
            if ch == WALL_CHAR:
                continue
            if ch == FREE_CHAR:
                walls[y, x] = False
            elif ch == START_CHAR:
                if start_pos is not None:
                    raise ValueError(
                        f"layout {name!r}: line {lineno}, column {x + 1}: second start "
                        f"'{START_CHAR}' (the first is at line {start_pos[0]}, column "
                        f"{start_pos[1]}); at most one '{START_CHAR}' is allowed"
                    )
                walls[y, x] = False
                start = (x, y)
                start_pos = (lineno, x + 1)
            else:
                raise ValueError(
                    f"layout {name!r}: line {lineno}, column {x + 1}: unknown character "
                    f"{ch!r}; {_ACCEPTED}"
                )
    if walls.all():
        raise ValueError(
            f"layout {name!r} (lines {first_lineno}-{numbered[-1][0]}) has no free cell; "
            f"mark free cells with '{FREE_CHAR}' or '{START_CHAR}'"
        )
    if start is None:
        start = _centre_start(walls)
    return Layout(name=name, walls=walls, start=start)


def load_layout(path: str | os.PathLike[str]) -> Layout:
    """Read a layout text file; the layout's name is the file stem.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    ValueError
        If the file is not UTF-8 text (e.g. an image or a binary file) or its content is not
        a valid layout (see :func:`parse_layout`).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"layout file not found: '{p}' (no such file)")
    data = p.read_bytes()
    bad = data.find(b"\x00")  # NUL bytes decode as UTF-8 but no text file holds them
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = err.start if bad < 0 else min(bad, err.start)
    if bad >= 0:
        raise ValueError(
            f"layout file '{p}' is not a text file (byte {bad} is {data[bad : bad + 1]!r}); "
            f"expected lines of characters ({_ACCEPTED})"
        )
    return parse_layout(text, name=p.stem)


# --------------------------------------------------------------------------------------
# Built-in layouts
# --------------------------------------------------------------------------------------


def _empty_text(n: int) -> str:
    """An ``n x n`` free interior surrounded by a border wall, start in the centre."""
    size = n + 2
    rows = [WALL_CHAR * size]
    for y in range(1, size - 1):
        row = [WALL_CHAR] + [FREE_CHAR] * n + [WALL_CHAR]
        if y == size // 2:
            row[size // 2] = START_CHAR
        rows.append("".join(row))
    rows.append(WALL_CHAR * size)
    return "\n".join(rows)


# A 1-cell-wide zig-zag corridor (13 columns, 5 runs, 69 free cells). The agent
# starts at one end; the far end is 68 moves away, so short uniform-random action
# sequences essentially never get there.
_MOUNTAIN = """
###############
#S............#
#############.#
#.............#
#.#############
#.............#
#############.#
#.............#
#.#############
#.............#
###############
"""

# Sutton, Precup & Singh (1999) four rooms: 11x11 interior, four doorways.
_FOUR_ROOMS = """
#############
#.....#.....#
#.....#.....#
#..S........#
#.....#.....#
#.....#.....#
##.####.....#
#.....###.###
#.....#.....#
#.....#.....#
#...........#
#.....#.....#
#############
"""

LAYOUTS: Mapping[str, Layout] = {
    "empty-7x7": parse_layout(_empty_text(7), name="empty-7x7"),
    "empty-13x13": parse_layout(_empty_text(13), name="empty-13x13"),
    "mountain": parse_layout(_MOUNTAIN, name="mountain"),
    "four-rooms": parse_layout(_FOUR_ROOMS, name="four-rooms"),
}
"""Built-in layouts by name (see the module docstring of :mod:`gridworld`)."""


def get_layout(spec: str | Layout | os.PathLike[str]) -> Layout:
    """Resolve a layout specification.

    Parameters
    ----------
    spec
        A :class:`Layout` (returned unchanged), the name of a built-in layout
        (a key of :data:`LAYOUTS`), or a path to an existing layout text file.

    Raises
    ------
    ValueError
        If ``spec`` is neither a built-in name nor a path to an existing file.
    """
    if isinstance(spec, Layout):
        return spec
    if isinstance(spec, str) and spec in LAYOUTS:
        return LAYOUTS[spec]
    if isinstance(spec, str | os.PathLike) and Path(spec).is_file():
        return load_layout(spec)
    names = ", ".join(repr(n) for n in LAYOUTS)
    raise ValueError(
        f"unknown layout {spec!r}: expected a Layout, one of the built-in names "
        f"({names}), or a path to an existing layout text file"
    )
