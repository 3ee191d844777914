"""Checkpoint IO (checkpoint.py): a checkpoint that cannot be used stops the run with one line
that names the file, what is wrong and what to do, keeping torch's own detail whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from glamor_mini.checkpoint import CheckpointError, one_line, read_checkpoint
from glamor_mini.resolve import make_config
from glamor_mini.train import train


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A 400-step debug run (checkpoint with its replay buffer), copied by each test."""
    out = tmp_path_factory.mktemp("ckpt") / "run"
    train(make_config("debug", total_steps=400, progress=False), out)
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _resume(out: Path) -> CheckpointError:
    with pytest.raises(CheckpointError) as err:
        train(make_config("debug", total_steps=800, progress=False), out)
    assert "\n" not in str(err.value), "one line"
    return err.value


def test_a_checkpoint_missing_a_key_is_one_clear_line(finished_run, tmp_path):
    out = _copy(finished_run, tmp_path)
    state = torch.load(out / "ckpt.pt", weights_only=True)
    del state["replay"]["frames"]
    torch.save(state, out / "ckpt.pt")
    msg = str(_resume(out))
    assert "'frames'" in msg and "incomplete" in msg and str(out / "ckpt.pt") in msg
    assert "move it away" in msg
    del state["counters"]["agent_steps"]
    del state["rng"]
    torch.save(state, out / "ckpt.pt")
    msg = str(_resume(out))
    assert "rng, counters.agent_steps" in msg and "incomplete" in msg, msg
    with pytest.raises(CheckpointError, match="incomplete"):
        read_checkpoint(out / "ckpt.pt")


def test_a_wrong_weight_shape_keeps_torchs_size_detail(finished_run, tmp_path):
    out = _copy(finished_run, tmp_path)
    state = torch.load(out / "ckpt.pt", weights_only=True)
    weights = state["agent"]["modules"]["model"]
    name = next(k for k, v in weights.items() if v.ndim == 2)
    rows, cols = weights[name].shape
    weights[name] = torch.zeros(rows + 1, cols)
    torch.save(state, out / "ckpt.pt")
    msg = str(_resume(out))
    assert f"size mismatch for {name}" in msg, msg
    assert f"torch.Size([{rows + 1}, {cols}])" in msg and f"torch.Size([{rows}, {cols}])" in msg
    assert "from another model" in msg


def test_one_line_keeps_whole_sentences():
    err = RuntimeError("Error(s) in loading:\n\tsize mismatch for w: torch.Size([2]).\n\tmore.")
    assert one_line(err) == "Error(s) in loading: size mismatch for w: torch.Size([2]). more."
    long = RuntimeError("Missing key(s): " + ", ".join(f'"layer{i}.weight"' for i in range(200)))
    text = one_line(long, limit=300)
    assert len(text) < 360 and text.endswith("more characters)")
    assert '"layer' in text and text.split(" ... ")[0].endswith('"'), "cut between list items"
