"""Mistakes a user can make: each gives one clear line (what was wrong, what is accepted) before
anything is allocated or written, never a traceback from deep inside or a silent NaN run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from glamor_mini.config import ConfigError
from glamor_mini.experiments.common import load_run
from glamor_mini.models import GlamorModel
from glamor_mini.planner import PlannerSettings, plan
from glamor_mini.replay import ReplayBuffer, replay_bytes
from glamor_mini.resolve import make_config
from glamor_mini.resources import InsufficientMemoryError, check_memory, format_bytes


# ---------------------------------------------------------------------- Config.validate
@pytest.mark.parametrize(
    "field,value",
    [
        ("lr", math.inf),
        ("lr", math.nan),
        ("clip_p_actions", math.nan),
        ("clip_p_actions", -math.inf),
        ("gamma", math.nan),
        ("alpha", math.inf),
        ("replay_ratio", math.inf),
        ("eps_start", math.nan),
        ("weight_decay", math.nan),
        ("grad_clip", math.inf),
    ],
)
def test_non_finite_floats_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"{field}={value} must be a finite number"):
        make_config("debug", **{field: value})


def test_negative_torch_threads_is_refused_and_zero_means_automatic():
    with pytest.raises(ConfigError, match="torch_threads=-1 must be >= 0"):
        make_config("debug", torch_threads=-1)
    assert make_config("debug", torch_threads=0).torch_threads == 0


def test_warning_when_the_budget_ends_before_the_first_update():
    # one update of 32 tuples needs replay_ratio * (total - learning_starts) >= 32: 8 steps at 4.0
    assert make_config("debug", total_steps=208, learning_starts=200).warnings() == []
    (line,) = make_config("debug", total_steps=207, learning_starts=200).warnings()
    assert "no gradient update" in line and "total_steps=207" in line
    assert make_config("debug", total_steps=100).warnings()  # below learning_starts = 200
    assert make_config("debug", replay_ratio=0.0).warnings()


@pytest.mark.parametrize("preset", ["gridworld", "debug", "die", "minigrid", "atari", "dmc"])
def test_presets_do_not_warn(preset):
    assert make_config(preset).warnings() == []


# ---------------------------------------------------------------------- memory
def test_replay_refuses_before_allocating_and_states_the_size():
    # 1e12 frames of 2x9x9 = 1e12 * (162 + 6 + 4) bytes; allocating would raise the allocator's
    # RuntimeError (or get the process killed) instead of this error.
    assert replay_bytes(10**12, (2, 9, 9)) == 172 * 10**12
    with pytest.raises(InsufficientMemoryError, match=r"needs 156\.4 TiB.*lower --buffer_size"):
        ReplayBuffer(10**12, (2, 9, 9), horizon=6)


def test_replay_bytes_matches_the_allocated_tensors():
    buf = ReplayBuffer(100, (3, 5, 4), frame_stack=2, horizon=6)
    parts = (buf.frames, buf.actions, buf.to_start, buf.to_end, buf.goal_idx)
    held = sum(t.numel() * t.element_size() for t in parts)
    assert replay_bytes(100, (3, 5, 4)) == held


def test_check_memory_compares_with_what_is_available():
    check_memory(1000, "x", "hint", available=1000)
    with pytest.raises(InsufficientMemoryError, match="x needs 1.0 KiB but only 1000 B"):
        check_memory(1024, "x", "hint", available=1000)
    assert format_bytes(3 * 2**30) == "3.0 GiB"


def test_buffer_size_1e12_via_cli_is_one_line_and_writes_nothing(tmp_path, capsys):
    from glamor_mini.run import main

    # the ring is allocated for what the run can write (replay.ring_frames): a 1e12-frame
    # buffer_size alone costs nothing, with total_steps=1e12 too it is refused
    out = tmp_path / "run"
    argv = ["debug", "--buffer_size", "1e12", "--total_steps", "1e12", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs 156.4 TiB" in err, err
    assert not out.exists()


# ---------------------------------------------------------------------- plan() inputs
def _tiny_model() -> GlamorModel:
    torch.manual_seed(0)
    return GlamorModel(
        (1, 2, 2), (1, 2, 2), 3, encoder="mlp", state_size=8, mlp_hidden=8, lstm_hidden=8
    ).eval()


@pytest.mark.parametrize("bad", ["obs", "goal"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bool, torch.int64])
def test_plan_rejects_non_uint8_inputs(bad, dtype):
    # A float goal already divided by 255 would be divided again inside the encoder: a silently
    # wrong plan. plan() must refuse it.
    model = _tiny_model()
    x = {"obs": torch.zeros(1, 1, 2, 2, dtype=torch.uint8)}
    x["goal"] = torch.zeros(1, 1, 2, 2, dtype=torch.uint8)
    x[bad] = x[bad].to(dtype)
    with pytest.raises(TypeError, match=f"{bad} must be a uint8 tensor"):
        plan(model, x["obs"], x["goal"], 3, PlannerSettings(n_candidates=4))
    ok = plan(model, *(torch.zeros(1, 1, 2, 2, dtype=torch.uint8),) * 2, 3, PlannerSettings(4))
    assert ok.actions.shape[0] == 1


# ---------------------------------------------------------------------- load_run
@pytest.mark.parametrize(
    "content",
    ["garbage", "empty", "truncated", "not a dict", "no config"],
)
def test_load_run_on_a_corrupt_checkpoint_is_one_clear_line(tmp_path, content):
    path = tmp_path / "ckpt.pt"
    if content == "garbage":
        path.write_bytes(b"\x00garbage" * 10)
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "truncated":
        torch.save({"config": {}, "model": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    elif content == "not a dict":
        torch.save([1, 2, 3], path)
    else:
        torch.save({"model": {}}, path)
    with pytest.raises(ValueError, match="is not a readable glamor-mini checkpoint") as info:
        load_run(tmp_path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# ---------------------------------------------------------------------- docs a user can open
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _cited_markdown_files():
    import re

    files = [*ROOT.glob("glamor_mini/**/*.py"), *ROOT.glob("gridworld/*.py")]
    files += [*ROOT.glob("notebooks/*.ipynb"), ROOT / "README.md", *ROOT.glob("docs/*.md")]
    for f in files:
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".ipynb":  # the cells' text, not the JSON (where "\n" precedes a name)
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells)
        for name in re.findall(r"[\w./-]*\w\.md\b", text):
            if f.parent.name == "docs" and not name.startswith("docs/"):
                name = f"docs/{name}"  # a docs page links its neighbours relatively
            yield f.relative_to(ROOT), name


def test_every_cited_markdown_file_is_in_the_repo():
    cited = list(_cited_markdown_files())
    assert any(name == "docs/atari.md" for _, name in cited)
    generated = {"table1.md"}  # written by `run table1` into its output folder, not a doc
    missing = [
        (str(f), name)
        for f, name in cited
        if not (ROOT / name).is_file() and Path(name).name not in generated
    ]
    assert missing == [], f"cited but not in the repo: {missing}"


def test_docs_atari_lists_the_scored_labels_the_code_uses():
    from glamor_mini.envs.atari_labels import ATARI_LABELS

    text = (ROOT / "docs" / "atari.md").read_text()
    for game, labels in ATARI_LABELS.items():
        scored = ", ".join(f"{k} {v}" for k, v in labels.scored.items())
        assert f"| {game} | {scored} | {len(labels.other)} |" in text, game


def test_readme_says_how_to_use_the_venv_and_embeds_the_grid_world_figures():
    import re

    readme = (ROOT / "README.md").read_text()
    assert ". .venv/bin/activate" in readme and ".venv/bin/python" in readme
    embedded = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    for fig in ("docs/figures/planning_compute.png", "docs/figures/guided_vs_sparse.png"):
        assert fig in embedded and (ROOT / fig).is_file()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"`{nb.stem}`" in readme  # every notebook has a place in the reading order


def test_notebooks_get_widgets_and_leave_no_run_directories_behind():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("ipywidgets") for d in extras["notebooks"])  # tqdm.auto's bars
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        text = nb.read_text(encoding="utf-8")
        assert "IProgress" not in text, f"{nb.name}: a workaround for a missing dependency"
        assert "mkdtemp" not in text, f"{nb.name}: use tempfile.TemporaryDirectory (cleaned up)"


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_a_seed_out_of_range_is_refused_up_front_naming_the_field(seed):
    with pytest.raises(ConfigError, match=rf"^seed={seed} must be in \[0, 2\*\*32\)"):
        make_config("debug", seed=seed)


def test_help_prints_the_percent_of_the_10_percent_rule():
    from glamor_mini.run import build_parser

    text = build_parser("debug").format_help()
    assert "10% rule" in " ".join(text.split())


def test_a_missing_extra_names_the_pip_command_for_an_installed_package():
    import glamor_mini.envs.atari as atari
    import glamor_mini.envs.dmc as dmc
    import glamor_mini.envs.minigrid_layout as minigrid  # where MiniGrid is imported

    for mod in (atari, dmc, minigrid):
        src = open(mod.__file__).read()
        assert "pip install -e" not in src and "pip install 'glamor-mini[" in src
