"""Algorithm 1 end to end: learning on a tiny grid, determinism, resume, run-directory files."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from glamor_mini.resolve import make_config
from glamor_mini.train import CheckpointError, train


def read_rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_tiny_grid_learns_to_reach_90_percent(tiny_grid_config, tmp_path):
    cfg = tiny_grid_config()
    result = train(cfg, tmp_path / "run")
    assert result.eval.goal_achievement >= 0.9
    assert result.eval.optimal_path_rate >= 0.8
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "progress.csv", "ckpt.pt", "eval.json", "eval.png"} <= files
    assert any(n.startswith("events.out.tfevents") for n in files)
    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["agent_steps"] == 6000 and len(ev["per_goal"]) == 9
    assert {"goal_achievement", "optimal_path_rate", "wall_seconds"} <= set(ev)
    assert ev["algo"] == "GLAMOR" and ev["planner"]["n_candidates"] == cfg.n_candidates


def _strip(rows):
    return [
        {k: v for k, v in r.items() if k not in ("wall_seconds", "steps_per_second")} for r in rows
    ]


def test_seeded_runs_are_identical(tmp_path):
    cfg = make_config("debug", seed=3)
    a = train(cfg, tmp_path / "a")
    b = train(cfg, tmp_path / "b")
    assert _strip(read_rows(tmp_path / "a" / "progress.csv")) == _strip(
        read_rows(tmp_path / "b" / "progress.csv")
    )
    assert a.eval.summary() == b.eval.summary()
    for (ka, pa), (kb, pb) in zip(
        a.model.state_dict().items(), b.model.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(pa, pb)
    train(make_config("debug", seed=4), tmp_path / "c")
    assert _strip(read_rows(tmp_path / "c" / "progress.csv")) != _strip(
        read_rows(tmp_path / "a" / "progress.csv")
    )


class Crash(RuntimeError):
    pass


def test_crash_then_resume_continues_from_checkpoint(tmp_path):
    cfg = make_config("debug", total_steps=1600, checkpoint_every=800, log_every=400)
    out = tmp_path / "run"

    def crash(trainer):
        if trainer.agent_steps >= 1200:
            raise Crash("simulated failure")

    with pytest.raises(Crash):
        train(cfg, out, on_step=crash)
    saved = torch.load(out / "ckpt.pt", weights_only=True)
    assert saved["counters"]["agent_steps"] == 800
    rows = read_rows(out / "progress.csv")
    assert [int(r["agent_steps"]) for r in rows] == [400, 800, 1200]

    seen = []
    result = train(cfg, out, on_step=lambda t: seen.append(t.agent_steps))
    assert seen[0] == 800 + cfg.n_envs, "training continues from the saved step"
    assert result.agent_steps == 1600
    steps = [int(r["agent_steps"]) for r in read_rows(out / "progress.csv")]
    assert steps[:2] == [400, 800] and steps[2:4] == [1200, 1600], "rows after the ckpt redone"
    assert json.loads((out / "eval.json").read_text())["agent_steps"] == 1600


def test_resuming_a_run_with_an_older_progress_header_keeps_columns_aligned(tmp_path):
    from glamor_mini.train import CSV_COLUMNS

    out = tmp_path / "run"
    train(make_config("debug", total_steps=800, log_every=400, eval_every=400), out)
    path = out / "progress.csv"
    old = [c for c in CSV_COLUMNS if c != "eval_beyond_start"]  # the header before this column
    rows = read_rows(path)
    assert rows[-1]["eval_beyond_start"] != ""  # evaluation rows carry it
    path.write_text("\n".join([",".join(old)] + [",".join(r[c] for c in old) for r in rows]) + "\n")
    train(make_config("debug", total_steps=1200, log_every=400, eval_every=400), out)
    with path.open() as fh:
        reader = csv.DictReader(fh)
        new_rows = list(reader)
    assert reader.fieldnames == CSV_COLUMNS
    assert [int(r["agent_steps"]) for r in new_rows] == [400, 800, 1200]
    assert all(None not in r and float(r["loss"]) > 0 for r in new_rows[1:])
    assert new_rows[1]["eval_goal_achievement"] == rows[1]["eval_goal_achievement"]
    assert new_rows[1]["eval_beyond_start"] == ""  # written under the old header
    assert 0.0 <= float(new_rows[-1]["eval_beyond_start"]) <= 1.0


def test_keyboard_interrupt_writes_a_checkpoint(tmp_path):
    cfg = make_config("debug", total_steps=1600, checkpoint_every=0)
    out = tmp_path / "run"

    def interrupt(trainer):
        if trainer.agent_steps >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="interrupted at step 1000; rerun the same"):
        train(cfg, out, on_step=interrupt)
    assert torch.load(out / "ckpt.pt", weights_only=True)["counters"]["agent_steps"] == 1000
    assert train(cfg, out).agent_steps == 1600


def test_an_interrupt_during_an_evaluation_leaves_no_gap_in_the_resumed_curve(
    tmp_path, monkeypatch
):
    """Ctrl-C while the step that crossed 800 evaluates: the checkpoint is at that step, and
    the resumed run evaluates and logs it before going on (the loop would never cross 800
    again, so the curve would lack its point)."""
    from glamor_mini.train import Trainer

    cfg = make_config("debug", total_steps=1200, eval_every=400, log_every=200, checkpoint_every=0)
    out = tmp_path / "run"
    real = Trainer.run_eval

    def interrupted_at_800(self):
        if self.agent_steps >= 800:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(Trainer, "run_eval", interrupted_at_800)
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 800"):
        train(cfg, out)
    assert [int(r["agent_steps"]) for r in read_rows(out / "progress.csv")] == [200, 400, 600]
    monkeypatch.setattr(Trainer, "run_eval", real)
    train(cfg, out)
    rows = read_rows(out / "progress.csv")
    assert [int(r["agent_steps"]) for r in rows] == [200, 400, 600, 800, 1000, 1200]
    evaluated = [int(r["agent_steps"]) for r in rows if r["eval_goal_achievement"] != ""]
    assert evaluated == [400, 800, 1200]


def test_resume_with_a_different_experiment_is_refused(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug"), out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match=r"another experiment \(lr: 0.001 -> 0.1"):
        train(make_config("debug", lr=0.1), out)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert before == after


def test_corrupt_checkpoint_is_a_clear_error_and_nothing_is_overwritten(tmp_path):
    out = tmp_path / "run"
    train(make_config("debug"), out)
    (out / "ckpt.pt").write_bytes(b"not a checkpoint")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(CheckpointError, match="corrupt or not a checkpoint"):
        train(make_config("debug"), out)
    assert before == {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


def test_learning_rate_decays_linearly_to_lr_final(tmp_path):
    from glamor_mini.train import Trainer

    cfg = make_config("debug", total_steps=1200, lr=1e-3, lr_final=1e-4, lr_decay_from=0.5)
    t = Trainer(cfg, tmp_path / "r")
    (opt,) = t.agent.optimizers().values()
    for steps, want in [(0, 1e-3), (600, 1e-3), (900, 5.5e-4), (1200, 1e-4), (2000, 1e-4)]:
        t.agent_steps = steps
        t.set_learning_rate()
        assert opt.param_groups[0]["lr"] == pytest.approx(want), steps
    t.collector.close()
    constant = Trainer(make_config("debug", lr=1e-3), tmp_path / "c")
    constant.agent_steps = 1200
    constant.set_learning_rate()
    assert constant.agent.optimizer.param_groups[0]["lr"] == 1e-3
    constant.collector.close()
    assert make_config("gridworld").lr_final == 5e-5


def test_the_ring_is_allocated_for_what_the_run_writes(tmp_path):
    """buffer_size 1e6 but 400 steps: the Trainer allocates replay.ring_frames (what full-length
    trajectories would write), and the run's shorter episodes grow it as needed."""
    from glamor_mini.replay import ring_frames
    from glamor_mini.train import Trainer

    cfg = make_config("debug", total_steps=400, buffer_size=1_000_000, log_every=400)
    trainer = Trainer(cfg, tmp_path / "run")
    expect = ring_frames(400, 1_000_000, trainer.task.horizon, cfg.n_envs)
    assert trainer.replay.rows == expect < 1000 and trainer.replay.capacity == 1_000_000
    trainer.run()
    assert trainer.replay.rows >= trainer.replay.total > 400
