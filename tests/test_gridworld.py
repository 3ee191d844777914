"""Tests for the ``gridworld`` package: layouts, environment, BFS paths and rendering."""

from __future__ import annotations

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gridworld
from gridworld import (
    ACTION_NAMES,
    LAYOUTS,
    MOVES,
    GridWorldEnv,
    Layout,
    distance_map,
    distance_table,
    get_layout,
    goal_observation,
    load_layout,
    parse_layout,
    render_rgb,
    shortest_path,
    shortest_path_length,
)

BUILTIN_NAMES = ["empty-7x7", "empty-13x13", "mountain", "four-rooms"]

EMPTY_3X3 = """
#####
#...#
#...#
#...#
#####
"""

# The wall column forces a detour through the gap at the bottom.
DETOUR = """
#####
#S#.#
#.#.#
#...#
#####
"""

# The right pocket is enclosed: unreachable from the left side.
DISCONNECTED = """
######
#S.#.#
######
"""


def agent_cell(obs: np.ndarray) -> tuple[int, int]:
    """(x, y) of the single 255 in the agent channel."""
    assert obs[0].sum() == 255, "exactly one agent pixel expected"
    y, x = np.unravel_index(int(np.argmax(obs[0])), obs[0].shape)
    return int(x), int(y)


# --------------------------------------------------------------------------- layouts


def test_builtin_layout_sizes_and_starts() -> None:
    assert list(LAYOUTS) == BUILTIN_NAMES
    expected = {
        "empty-7x7": ((9, 9), (4, 4), 49),
        "empty-13x13": ((15, 15), (7, 7), 169),
        "four-rooms": ((13, 13), (3, 3), 104),
    }
    for name, (shape, start, n_free) in expected.items():
        lay = LAYOUTS[name]
        assert lay.shape == shape and (lay.height, lay.width) == shape
        assert lay.start == start
        assert len(lay.free_cells()) == n_free
        assert lay.name == name
    mountain = LAYOUTS["mountain"]
    assert 11 <= mountain.width - 2 <= 15
    # Every built-in has a full border wall.
    for lay in LAYOUTS.values():
        assert lay.walls[0].all() and lay.walls[-1].all()
        assert lay.walls[:, 0].all() and lay.walls[:, -1].all()


def test_mountain_is_a_long_corridor_from_one_end() -> None:
    lay = LAYOUTS["mountain"]
    d = distance_map(lay, lay.start)
    free = ~lay.walls
    assert (d[free] >= 0).all(), "corridor must be connected"
    # One-cell-wide corridor: every free cell has a distinct distance from the start.
    assert len(np.unique(d[free])) == free.sum()
    assert d.max() >= 40


def test_free_cells_row_major_and_is_free() -> None:
    lay = parse_layout(DETOUR)
    assert lay.free_cells() == [(1, 1), (3, 1), (1, 2), (3, 2), (1, 3), (2, 3), (3, 3)]
    assert lay.is_free(1, 1) and not lay.is_free(2, 1)
    for x, y in [(-1, 1), (1, -1), (5, 1), (1, 5), (100, 100)]:
        assert not lay.is_free(x, y)


def test_layout_is_immutable_hashable_and_comparable() -> None:
    a = parse_layout(EMPTY_3X3, name="a")
    b = parse_layout(EMPTY_3X3, name="a")
    c = parse_layout(DETOUR, name="a")
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    with pytest.raises(ValueError):
        a.walls[0, 0] = False
    with pytest.raises(AttributeError):
        a.name = "other"  # type: ignore[misc]


def test_layout_walls_are_copied_from_input() -> None:
    walls = np.ones((3, 4), dtype=bool)
    walls[1, 1:3] = False
    lay = Layout("x", walls, (1, 1))
    walls[1, 1] = True
    assert lay.is_free(1, 1)
    with pytest.raises(ValueError, match="not a free cell"):
        Layout("x", walls, (1, 1))
    with pytest.raises(ValueError, match="no free cell"):
        Layout("x", np.ones((2, 2), dtype=bool), (0, 0))


def test_parse_start_and_centre_default() -> None:
    lay = parse_layout("\n\n#####   \n#S..#\t\n#####\n\n")
    assert lay.shape == (3, 5)
    assert lay.start == (1, 1)
    # Without S: the free cell closest to the centre.
    assert parse_layout(EMPTY_3X3).start == (2, 2)
    # Centre (1.5, 1.5) of a 4x4 grid: the four middle cells tie -> row-major first.
    assert parse_layout("....\n....\n....\n....").start == (1, 1)
    # The centre is a wall: nearest free cell, ties row-major.
    assert parse_layout("...\n.#.\n...").start == (1, 0)


def test_to_text_round_trip() -> None:
    for lay in LAYOUTS.values():
        assert parse_layout(lay.to_text(), name=lay.name) == lay


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("###\n#.#\n##\n", ["line 3", "length 2", "expected 3"]),
        ("\n###\n#.#\n####\n", ["line 4", "length 4", "expected 3"]),
        ("#####\n#...#\n#.#.x\n", ["line 3, column 5", "'x'", "accepted", "'#'", "'.'", "'S'"]),
        ("###\n# #\n###", ["line 2, column 2", "' '"]),
        ("####\n#S.#\n#.S#\n####", ["line 3, column 3", "line 2, column 2", "'S'"]),
        ("###\n###\n###\n", ["no free cell", "line"]),
        ("", ["empty", "line"]),
        ("  \n\n", ["empty", "line"]),
    ],
)
def test_parse_errors_name_line_and_column(text: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_layout(text)
    message = str(excinfo.value)
    assert "line" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_load_layout_round_trip(tmp_path) -> None:
    path = tmp_path / "my_room.txt"
    path.write_text(DETOUR, encoding="utf-8")
    lay = load_layout(path)
    assert lay.name == "my_room"
    assert lay == parse_layout(DETOUR, name="my_room")
    assert get_layout(path) == lay
    assert get_layout(str(path)) == lay
    # A file written from to_text loads back identically.
    out = tmp_path / "four-rooms.txt"
    out.write_text(LAYOUTS["four-rooms"].to_text(), encoding="utf-8")
    assert load_layout(out) == LAYOUTS["four-rooms"]
    with GridWorldEnv(path).unwrapped as env:
        _, info = env.reset()
        assert info == {"x": 1, "y": 1}


def test_load_layout_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        load_layout(tmp_path / "nope.txt")


def test_get_layout_resolution_and_errors(tmp_path) -> None:
    lay = LAYOUTS["mountain"]
    assert get_layout(lay) is lay
    assert get_layout("four-rooms") is LAYOUTS["four-rooms"]
    for bad in ["no-such-layout", tmp_path / "missing.txt", str(tmp_path)]:
        with pytest.raises(ValueError) as excinfo:
            get_layout(bad)
        message = str(excinfo.value)
        for name in BUILTIN_NAMES:
            assert name in message
        assert "path" in message


# --------------------------------------------------------------------------- env


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@pytest.mark.parametrize("allow_stay", [False, True])
def test_check_env_passes(name: str, allow_stay: bool) -> None:
    env = GridWorldEnv(name, allow_stay=allow_stay, max_steps=25, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*alternative render modes.*")
        check_env(env.unwrapped)


def test_registered_ids_make() -> None:
    for env_id, name in gridworld.ENV_IDS.items():
        assert env_id in gym.registry
        env = gym.make(env_id)
        lay = LAYOUTS[name]
        obs, info = env.reset(seed=0)
        assert obs.shape == (2, lay.height, lay.width) and obs.dtype == np.uint8
        assert env.observation_space.shape == (2, lay.height, lay.width)
        assert env.action_space == gym.spaces.Discrete(4)
        assert info == {"x": lay.start[0], "y": lay.start[1]}
        env.close()
    env = gym.make("gridworld/Empty-7x7-v0", allow_stay=True, max_steps=3)
    assert env.action_space.n == 5
    env.reset(seed=1)
    truncs = [env.step(4)[3] for _ in range(3)]
    assert truncs == [False, False, True]


def test_double_import_does_not_reregister() -> None:
    import importlib

    importlib.reload(gridworld)
    assert "gridworld/FourRooms-v0" in gym.registry


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        GridWorldEnv(max_steps=0)
    with pytest.raises(ValueError, match="max_steps"):
        GridWorldEnv(max_steps=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="render_mode"):
        GridWorldEnv(render_mode="human")
    with pytest.raises(ValueError, match="cell_px"):
        GridWorldEnv(cell_px=0)
    with pytest.raises(ValueError, match="empty-7x7"):
        GridWorldEnv("nope")


def test_seeded_runs_are_identical() -> None:
    def rollout(seed: int) -> list[tuple[np.ndarray, dict[str, int]]]:
        env = GridWorldEnv("four-rooms", max_steps=200)
        env.action_space.seed(seed)
        obs, info = env.reset(seed=seed, options={"random_start": True})
        out = [(obs, info)]
        for _ in range(200):
            obs, _, _, _, info = env.step(env.action_space.sample())
            out.append((obs, info))
        return out

    a, b, c = rollout(123), rollout(123), rollout(7)
    assert len(a) == len(b) == 201
    for (oa, ia), (ob, ib) in zip(a, b, strict=True):
        np.testing.assert_array_equal(oa, ob)
        assert ia == ib
    assert [i for _, i in a] != [i for _, i in c]


def test_moves_go_the_documented_way() -> None:
    env = GridWorldEnv("empty-7x7", allow_stay=True)
    expected = {0: (4, 3), 1: (5, 4), 2: (4, 5), 3: (3, 4), 4: (4, 4)}
    for action, cell in expected.items():
        env.reset()
        _, reward, terminated, truncated, info = env.step(action)
        assert (info["x"], info["y"]) == cell == env.agent_pos, ACTION_NAMES[action]
        assert reward == 0.0 and terminated is False and truncated is False
    assert [tuple(m) for m in MOVES] == [(0, -1), (1, 0), (0, 1), (-1, 0), (0, 0)]
    assert ACTION_NAMES[:4] == ("up", "right", "down", "left")
    assert (env.UP, env.RIGHT, env.DOWN, env.LEFT, env.STAY) == (0, 1, 2, 3, 4)
    # numpy integer actions are accepted too.
    env.reset()
    assert env.step(np.int64(1))[4] == {"x": 5, "y": 4}


def test_stay_invalid_without_allow_stay_and_bad_actions() -> None:
    env = GridWorldEnv("empty-7x7")
    assert env.action_space.n == 4
    env.reset()
    for bad in [4, -1, 7, 1.0, "up", None, True]:
        with pytest.raises(ValueError, match=r"\[0, 3\]"):
            env.step(bad)
    assert env.agent_pos == (4, 4)


def test_step_before_reset_raises() -> None:
    env = GridWorldEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    with pytest.raises(RuntimeError, match="reset"):
        _ = env.agent_pos


def test_walls_block_moves() -> None:
    env = GridWorldEnv("empty-7x7")
    # (1, 1) is the top-left free corner: up and left hit the border wall.
    for action in (0, 3):
        env.reset(options={"start": (1, 1)})
        obs, _, _, _, info = env.step(action)
        assert (info["x"], info["y"]) == (1, 1)
        assert agent_cell(obs) == (1, 1)
    # (7, 7): down and right are blocked.
    for action in (1, 2):
        env.reset(options={"start": (7, 7)})
        assert env.step(action)[4] == {"x": 7, "y": 7}
    # An interior wall blocks too.
    env = GridWorldEnv(parse_layout(DETOUR))
    env.reset()
    assert env.step(1)[4] == {"x": 1, "y": 1}


def test_borderless_layout_blocks_off_grid_moves() -> None:
    env = GridWorldEnv(parse_layout("...\n...\n...", name="borderless"), allow_stay=True)
    corners = {(0, 0): (0, 3), (2, 0): (0, 1), (2, 2): (1, 2), (0, 2): (2, 3)}
    for corner, blocked_actions in corners.items():
        for action in blocked_actions:
            env.reset(options={"start": corner})
            obs, _, _, _, info = env.step(action)
            assert (info["x"], info["y"]) == corner
            assert agent_cell(obs) == corner
    # A long walk of random actions never leaves the grid.
    rng = np.random.default_rng(0)
    env.reset()
    for a in rng.integers(0, 5, size=500):
        _, _, _, _, info = env.step(int(a))
        assert 0 <= info["x"] < 3 and 0 <= info["y"] < 3


def test_reset_options() -> None:
    env = GridWorldEnv("four-rooms")
    obs, info = env.reset(options={"start": (9, 9)})
    assert info == {"x": 9, "y": 9} and agent_cell(obs) == (9, 9)
    assert type(info["x"]) is int and type(info["y"]) is int
    obs, info = env.reset(options={"start": np.array([1, 2])})
    assert info == {"x": 1, "y": 2}
    for bad in [(0, 0), (6, 1), (99, 1), (1.0, 1.0), (1, 2, 3), "ab", 5]:
        with pytest.raises(ValueError, match="start"):
            env.reset(options={"start": bad})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"goal": (1, 1)})
    cells = set()
    for seed in range(30):
        _, info = env.reset(seed=seed, options={"random_start": True})
        cell = (info["x"], info["y"])
        assert env.layout.is_free(*cell)
        cells.add(cell)
    assert len(cells) > 10


def test_observation_contents_and_space() -> None:
    env = GridWorldEnv("four-rooms")
    obs, info = env.reset()
    lay = env.layout
    assert obs.shape == (2, 13, 13) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert set(np.unique(obs[0])) == {0, 255}
    np.testing.assert_array_equal(obs[1] == 255, lay.walls)
    np.testing.assert_array_equal(obs[1] == 0, ~lay.walls)
    assert agent_cell(obs) == (info["x"], info["y"]) == lay.start


def test_goal_observation_matches_env() -> None:
    for name in BUILTIN_NAMES:
        lay = LAYOUTS[name]
        env = GridWorldEnv(name)
        for cell in lay.free_cells()[:: max(1, len(lay.free_cells()) // 12)]:
            obs, info = env.reset(options={"start": cell})
            np.testing.assert_array_equal(goal_observation(lay, cell), obs)
            assert agent_cell(obs) == (info["x"], info["y"]) == cell
    # After walking there along a shortest path.
    lay = LAYOUTS["four-rooms"]
    env = GridWorldEnv(lay)
    env.reset()
    path = shortest_path(lay, lay.start, (9, 9))
    assert path is not None
    obs = None
    for (x0, y0), (x1, y1) in itertools.pairwise(path):
        action = [tuple(m) for m in MOVES].index((x1 - x0, y1 - y0))
        obs, _, _, _, info = env.step(action)
        assert agent_cell(obs) == (info["x"], info["y"]) == (x1, y1)
    assert obs is not None
    np.testing.assert_array_equal(obs, goal_observation("four-rooms", (9, 9)))
    with pytest.raises(ValueError, match="free"):
        goal_observation(lay, (0, 0))
    with pytest.raises(ValueError):
        goal_observation(lay, (3,))


def test_observations_do_not_share_memory() -> None:
    env = GridWorldEnv("empty-7x7", allow_stay=True)
    obs0, _ = env.reset()
    obs1, *_ = env.step(4)  # stay: same content, must still be a new array
    obs2, *_ = env.step(1)
    assert not np.shares_memory(obs0, obs1)
    assert not np.shares_memory(obs1, obs2)
    np.testing.assert_array_equal(obs0, obs1)
    obs1[:] = 7
    obs3, *_ = env.step(4)
    np.testing.assert_array_equal(obs3, obs2)
    assert obs3.max() == 255 and 7 not in obs3
    g1 = goal_observation("empty-7x7", (4, 4))
    g2 = goal_observation("empty-7x7", (4, 4))
    assert not np.shares_memory(g1, g2)


def test_truncation_at_max_steps() -> None:
    env = GridWorldEnv("empty-7x7", max_steps=5)
    env.reset()
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]
    assert env.steps == 5
    env.reset()
    assert env.steps == 0 and env.step(0)[3] is False
    env = GridWorldEnv("empty-7x7")
    env.reset()
    assert not any(env.step(1)[3] for _ in range(100))


def test_render_shape_and_agent() -> None:
    env = GridWorldEnv("mountain", render_mode="rgb_array", cell_px=8)
    env.reset()
    img = env.render()
    assert img is not None
    assert img.shape == (11 * 8, 15 * 8, 3) and img.dtype == np.uint8
    # The agent's cell contains red pixels; a free cell without the agent does not.
    sx, sy = env.agent_pos
    red = np.array(gridworld.render.COLORS["agent"], dtype=np.uint8)
    block = img[sy * 8 : (sy + 1) * 8, sx * 8 : (sx + 1) * 8]
    assert (block == red).all(axis=-1).any()
    other = img[1 * 8 : 2 * 8, 5 * 8 : 6 * 8]
    assert not (other == red).all(axis=-1).any()
    with pytest.warns(UserWarning, match="render_mode"):
        assert GridWorldEnv("mountain").render() is None


def test_render_rgb_options() -> None:
    lay = LAYOUTS["empty-7x7"]
    img = render_rgb(lay, agent=(1, 1), goal=(7, 7), cell_px=10, path=[(2, 1), (3, 1)])
    assert img.shape == (90, 90, 3) and img.dtype == np.uint8
    colors = gridworld.render.COLORS
    assert tuple(img[75, 75]) == colors["goal"]
    assert tuple(img[15, 25]) == colors["path"]
    assert tuple(img[15, 15]) == colors["agent"]
    assert tuple(img[5, 5]) == colors["wall"]
    tiny = render_rgb("four-rooms", cell_px=1)
    assert tiny.shape == (13, 13, 3)
    np.testing.assert_array_equal((tiny == colors["wall"]).all(-1), LAYOUTS["four-rooms"].walls)
    with pytest.raises(ValueError, match="cell_px"):
        render_rgb(lay, cell_px=0)
    with pytest.raises(ValueError, match="goal"):
        render_rgb(lay, goal=(0, 0))


def test_matplotlib_helpers_return_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = gridworld.plot_layout("four-rooms", title="rooms")
    assert ax.get_title() == "rooms"
    d = distance_map("four-rooms", (3, 3)).astype(float)
    d[d < 0] = np.nan
    ax2 = gridworld.plot_value_map("four-rooms", d, annotate=True, title="dist")
    assert ax2.get_title() == "dist"
    assert len(ax2.texts) == len(LAYOUTS["four-rooms"].free_cells())
    with pytest.raises(ValueError, match="shape"):
        gridworld.plot_value_map("four-rooms", np.zeros((3, 3)))
    ax3 = gridworld.plot_value_map("four-rooms", d, cbar_label="moves from (3, 3)")
    assert ax3.figure.axes[-1].get_ylabel() == "moves from (3, 3)"  # the colorbar's axes
    plt.close("all")


# --------------------------------------------------------------------------- paths


def test_bfs_empty_3x3() -> None:
    lay = parse_layout(EMPTY_3X3)
    assert shortest_path_length(lay, (1, 1), (3, 3)) == 4
    assert shortest_path_length(lay, (3, 1), (1, 3)) == 4
    assert shortest_path_length(lay, (2, 2), (2, 2)) == 0
    assert shortest_path_length(lay, (1, 1), (2, 1)) == 1
    expected = np.array(
        [
            [-1, -1, -1, -1, -1],
            [-1, 0, 1, 2, -1],
            [-1, 1, 2, 3, -1],
            [-1, 2, 3, 4, -1],
            [-1, -1, -1, -1, -1],
        ]
    )
    np.testing.assert_array_equal(distance_map(lay, (1, 1)), expected)
    assert distance_map(lay, (1, 1)).dtype == np.int32


def test_bfs_detour() -> None:
    lay = parse_layout(DETOUR)
    # (1, 1) and (3, 1) are 2 apart as the crow flies but the wall forces 6 moves.
    assert shortest_path_length(lay, (1, 1), (3, 1)) == 6
    assert shortest_path(lay, (1, 1), (3, 1)) == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 3),
        (3, 3),
        (3, 2),
        (3, 1),
    ]


def test_bfs_unreachable() -> None:
    lay = parse_layout(DISCONNECTED)
    assert shortest_path_length(lay, (1, 1), (4, 1)) == -1
    assert shortest_path(lay, (1, 1), (4, 1)) is None
    table = distance_table(lay)
    assert table[1, 1, 1, 4] == -1 and table[1, 4, 1, 1] == -1
    assert table[1, 1, 1, 2] == 1
    with pytest.raises(ValueError, match="free"):
        shortest_path_length(lay, (0, 0), (1, 1))
    with pytest.raises(ValueError, match="free"):
        shortest_path_length(lay, (1, 1), (3, 1))
    with pytest.raises(ValueError, match="free"):
        distance_map(lay, (3, 1))


def test_distance_table_empty_7x7_is_manhattan() -> None:
    lay = LAYOUTS["empty-7x7"]
    table = distance_table(lay)
    assert table.shape == (9, 9, 9, 9) and table.dtype == np.int32
    brute = np.full((9, 9, 9, 9), -1, dtype=np.int32)
    for (x0, y0), (x1, y1) in itertools.product(lay.free_cells(), repeat=2):
        brute[y0, x0, y1, x1] = abs(x0 - x1) + abs(y0 - y1)
    np.testing.assert_array_equal(table, brute)


def test_distance_table_consistent_with_distance_map_and_symmetric() -> None:
    for name in BUILTIN_NAMES:
        lay = LAYOUTS[name]
        table = distance_table(name)
        np.testing.assert_array_equal(table, table.transpose(2, 3, 0, 1))
        for x, y in lay.free_cells()[::7]:
            np.testing.assert_array_equal(table[y, x], distance_map(lay, (x, y)))
        assert (table[lay.walls] == -1).all()


def test_distance_table_is_fast_on_19x19() -> None:
    import time

    text = "\n".join(["#" * 19] + ["#" + "." * 17 + "#"] * 17 + ["#" * 19])
    lay = parse_layout(text)
    t0 = time.perf_counter()
    table = distance_table(lay)
    assert time.perf_counter() - t0 < 1.0
    assert table[1, 1, 17, 17] == 32


def test_public_api_exports() -> None:
    for name in [
        "GridWorldEnv",
        "Layout",
        "LAYOUTS",
        "parse_layout",
        "load_layout",
        "get_layout",
        "goal_observation",
        "distance_table",
        "distance_map",
        "shortest_path_length",
        "render_rgb",
        "plot_layout",
        "plot_value_map",
        "MOVES",
        "ACTION_NAMES",
    ]:
        assert name in gridworld.__all__ and hasattr(gridworld, name)


# --------------------------------------------------------------------------- big or bad inputs


def _empty_room(n: int) -> Layout:
    return parse_layout("\n".join(["#" * n] + ["#" + "." * (n - 2) + "#"] * (n - 2) + ["#" * n]))


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", b"#####\n#.\x00.#\n#####\n"])
def test_binary_layout_file_is_named_in_the_error(tmp_path, data) -> None:
    path = tmp_path / "picture.png"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"layout file '.*picture\.png' is not a text file"):
        load_layout(path)


def test_distance_table_refuses_beyond_its_limit_before_allocating() -> None:
    big = _empty_room(500)  # the table would be 500**4 * 4 bytes = 233 GiB
    with pytest.raises(ValueError, match=r"would need 232\.8 GiB.*use distance_map"):
        distance_table(big)
    with pytest.raises(ValueError, match="max_bytes=1000"):
        distance_table("empty-7x7", max_bytes=1000)  # 9**4 * 4 = 26244 bytes
    assert distance_table("empty-7x7", max_bytes=26244).shape == (9, 9, 9, 9)


def test_grid_task_distances_are_lazy_and_match_the_table() -> None:
    from glamor_mini.envs.gridworld import GridWorldTask

    task = GridWorldTask("four-rooms", horizon=10)
    table = distance_table("four-rooms")
    cells = np.array(task.cells)
    rng = np.random.default_rng(0)
    starts = cells[rng.integers(len(cells), size=200)]
    goals = cells[rng.integers(len(cells), size=200)]
    got = task.optimal_steps(starts.astype(np.float32), goals.astype(np.float32))
    np.testing.assert_array_equal(got, table[starts[:, 1], starts[:, 0], goals[:, 1], goals[:, 0]])
    assert len(task._dist) == len({tuple(s) for s in starts})  # one BFS per distinct start


def test_huge_layout_is_refused_with_the_goal_set_size(monkeypatch) -> None:
    import glamor_mini.resources as resources
    from glamor_mini.envs.gridworld import GridWorldTask

    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 64 * 2**30)
    too_big = r"\(500x500, 248,004 free cells.*held twice.*needs 231\.0 GiB"
    with pytest.raises(ValueError, match=too_big):
        GridWorldTask(_empty_room(500))
    task = GridWorldTask(_empty_room(60))  # 3,364 goals of 2x60x60 = 23 MiB: fine
    assert task.eval_goals().frames.shape == (58 * 58, 2, 60, 60)


def test_readme_maze_example_ships_and_its_horizon_reaches_every_cell() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    commands = re.findall(r"^python -m glamor_mini\.run .*$", readme, flags=re.M)
    (maze_cmd,) = [c for c in commands if "--layout" in c]
    path = re.search(r"--layout (\S+)", maze_cmd).group(1)
    horizon = int(re.search(r"--horizon (\d+)", maze_cmd).group(1))
    out = re.search(r"--out (\S+)", maze_cmd).group(1)
    other_outs = [re.search(r"--out (\S+)", c) for c in commands if c != maze_cmd]
    assert out not in {m.group(1) for m in other_outs if m}  # its own run directory
    lay = load_layout(root / path)
    dist = distance_map(lay, lay.start)[~lay.walls]
    assert (dist >= 0).all() and dist.max() <= horizon
