"""Named presets: sets of Config overrides applied on top of the defaults (dreamerv3's way).

    gridworld        the authors' grid-world demo (§4.7.1), CPU-sized: about 60-70 s
    debug            tiny budgets for tests
    die              Appendix A.1's loaded die (one roll, T = 1)
    minigrid(-debug) MiniGrid from pixels on a laptop CPU (not in the paper)
    dmc, atari       the paper's Fig. 5 / App. A.3 hyperparameters, sized for a GPU box
    *-debug          tiny pixel runs that go end to end on a CPU in a test

`preset_config(name, **overrides)` builds an unresolved Config from one; `glamor_mini.make_config`
(glamor_mini.resolve) also resolves it. Like config.py, this module imports no torch and nothing
of the package but config.
"""

from __future__ import annotations

from typing import Any

from glamor_mini.config import Config, ConfigError

# The authors' grid-world demo (docs/design.md): 7x7 empty room, start in the centre, T = 10,
# gamma 0.5, 50 trials, clip -3.15, an MLP encoder. Budgets are smaller than the authors' (their run
# took ~60k steps) so that `make demo` finishes in about 60-75 s on a 2-core CPU (docs/results.md).
# The paper's Fig. 5 / App. A.3 hyperparameters, shared by the pixel presets (sized for a GPU box:
# a 1e6-frame buffer of 104x80 frames is 8.3 GB; a 500k-step run allocates what it writes,
# replay.ring_frames: 4.25 GB on Atari).
_PAPER_PIXELS: dict[str, Any] = dict(
    frame_stack=4,
    gamma=0.99,
    n_candidates=50,
    clip_p_actions=-3.15,
    encoder="impala",
    impala_channels="16,32,32",
    state_size=512,
    lstm_hidden=64,
    total_steps=500_000,
    n_envs=8,
    eps_start=1.0,
    eps_final=0.1,
    eps_steps=300_000,
    learning_starts=50_000,
    replay_ratio=4.0,
    batch_size=200,
    buffer_size=1_000_000,
    lr=5e-4,
    weight_decay=0.01,
    train_goals=1000,
    n_eval_goals=30,
    eval_every=50_000,
    log_every=5_000,
    checkpoint_every=50_000,
    # weights, optimiser and RNG state only: with the replay a 500k-step Atari checkpoint is
    # ~4.25 GB (Table 1's 126 runs: ~540 GB); a resumed run refills its replay from scratch
    save_replay=False,
)

# Tiny pixel runs that go end to end on a CPU in a test (not learning experiments).
_PIXEL_DEBUG: dict[str, Any] = dict(
    horizon=8,
    frame_stack=4,
    gamma=0.99,
    n_candidates=8,
    encoder="impala",
    impala_channels="4,8,8",
    state_size=32,
    lstm_hidden=16,
    total_steps=64,
    n_envs=2,
    eps_steps=32,
    learning_starts=32,
    replay_ratio=1.0,
    batch_size=8,
    buffer_size=400,
    train_goals=16,
    n_eval_goals=4,
    range_rollouts=16,
    eval_goal_rollouts=8,
    train_goal_rollouts=32,
    eval_every=0,
    log_every=32,
    checkpoint_every=64,
)

PRESETS: dict[str, dict[str, Any]] = {
    "gridworld": dict(
        suite="gridworld",
        layout="empty-7x7",
        horizon=0,  # derived from the layout: 10 for empty-7x7 (the authors' T), printed if not
        gamma=0.5,
        n_candidates=50,
        clip_p_actions=-3.15,
        encoder="auto",  # derived from the layout: 'mlp' in an open room, else 'keypoint'
        state_size=128,
        mlp_hidden=256,
        # the paper's size: over seeds 0-9 it holds the demo's bar (goals >= 0.95, shortest
        # paths >= 0.90) on all ten; 32 units run ~1.35x faster but miss it on seed 9
        lstm_hidden=64,
        total_steps=40_000,
        n_envs=16,
        eps_steps=25_000,
        learning_starts=5_000,
        replay_ratio=16.0,
        buffer_size=100_000,
        lr=1e-3,
        lr_final=5e-5,
        eval_every=10_000,
        log_every=2_000,
        checkpoint_every=10_000,
    ),
    "debug": dict(
        suite="gridworld",
        layout="empty-7x7",
        horizon=6,
        gamma=0.5,
        n_candidates=20,
        encoder="mlp",
        state_size=32,
        mlp_hidden=64,
        lstm_hidden=32,
        total_steps=1_200,
        n_envs=8,
        eps_steps=800,
        learning_starts=200,
        replay_ratio=4.0,
        batch_size=32,
        buffer_size=2_000,
        lr=1e-3,
        eval_every=0,
        log_every=400,
        checkpoint_every=600,
    ),
    # Appendix A.1's loaded die (one roll, T = 1; goals = faces, uniform). A small buffer keeps the
    # data close to on-policy, as the GCSL iteration of Eq. 11-12 assumes; eps decays to the
    # paper's 0.1 (§3.5: support over all actions; at 0, "fair everywhere" is absorbing).
    "die": dict(
        suite="die",
        horizon=1,
        die_faces=6,
        die_loaded="1",
        gamma=0.99,
        n_candidates=20,
        encoder="mlp",
        state_size=32,
        mlp_hidden=32,
        lstm_hidden=16,
        total_steps=12_000,
        n_envs=60,
        eps_start=1.0,
        eps_final=0.1,
        eps_steps=3_000,
        learning_starts=600,
        replay_ratio=16.0,
        batch_size=200,
        buffer_size=1_200,
        lr=3e-3,
        eval_every=0,
        eval_episodes=200,
        log_every=1_200,
        checkpoint_every=0,
        save_replay=False,
        progress=False,
    ),
    # MiniGrid from pixels on a laptop CPU: the 7x7-interior room (EmptyEnv(size=9)) with the
    # authors' grid-world demo start (the centre; T = 10 covers every (cell, heading) from there),
    # 36x36 RGB, MiniGrid's turn/forward actions, goals = every (cell, heading). A CPU-sized
    # IMPALA encoder with 2 stages (36 -> 18 -> 9: one feature pixel per grid cell). About 20 min
    # on a shared 2-core CPU to goal achievement ~0.9 (docs/results.md).
    # python -m glamor_mini.run minigrid --env MiniGrid-Empty-8x8-v0 (see envs/minigrid.py).
    "minigrid": dict(
        suite="minigrid",
        env="MiniGrid-Empty-Centre-9x9-v0",
        horizon=10,
        frame_stack=1,
        gamma=0.5,
        n_candidates=50,
        clip_p_actions=-3.15,
        encoder="impala",
        impala_channels="8,16",
        state_size=128,
        lstm_hidden=64,
        total_steps=90_000,
        n_envs=16,
        eps_steps=20_000,
        learning_starts=3_000,
        replay_ratio=8.0,
        batch_size=64,
        buffer_size=32_000,
        lr=2e-3,
        train_goals=1000,
        n_eval_goals=200,
        eval_every=10_000,
        log_every=2_000,
        checkpoint_every=10_000,
    ),
    # Tiny MiniGrid run that goes end to end on a CPU in a test (not a learning experiment).
    "minigrid-debug": dict(
        suite="minigrid",
        env="MiniGrid-Empty-5x5-v0",
        horizon=7,
        frame_stack=2,
        gamma=0.5,
        n_candidates=8,
        encoder="impala",
        impala_channels="4,8,8",
        state_size=32,
        lstm_hidden=16,
        total_steps=64,
        n_envs=2,
        eps_steps=32,
        learning_starts=32,
        replay_ratio=1.0,
        batch_size=8,
        buffer_size=400,
        train_goals=16,
        n_eval_goals=8,
        eval_every=0,
        log_every=32,
        checkpoint_every=64,
    ),
    # python -m glamor_mini.run dmc --task cartpole/balance (T = 100)
    "dmc": dict(_PAPER_PIXELS, suite="dmc", task="cartpole/balance", horizon=100),
    "dmc-debug": dict(
        _PIXEL_DEBUG, suite="dmc", task="point_mass/easy", frame_stack=2, shadows=False
    ),
    # python -m glamor_mini.run atari --game Pong (T = 50)
    "atari": dict(_PAPER_PIXELS, suite="atari", game="Pong", horizon=50),
    "atari-debug": dict(_PIXEL_DEBUG, suite="atari", game="Pong"),
}


def preset_config(preset: str, **overrides: Any) -> Config:
    """Defaults, then the preset's overrides, then the caller's; validated as far as this module
    knows (types and ranges), NOT resolved: the grid world's horizon 0 and encoder 'auto' are
    still placeholders. To build a Config to run, use `glamor_mini.make_config` (=
    `glamor_mini.resolve.make_config`), which also resolves them and asks every registry about
    its field."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; accepted: {sorted(PRESETS)}")
    return Config().replace(**{**PRESETS[preset], **overrides}).validate()


__all__ = ["PRESETS", "preset_config"]
