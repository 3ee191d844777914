"""Appendix A.2, "Simon says": a win model fitted on reactive-expert data learns p(win | a) ~ 1,
one fitted on open-loop data learns p(win | do(a)); both checked against the exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glamor_mini.causal import SimonSays, fit_win_model


def test_exact_answers_by_hand():
    game = SimonSays((0.6, 0.3, 0.1), length=3)
    seqs = game.sequences()
    assert seqs.shape == (27, 3) and seqs[5].tolist() == [0, 1, 2]
    assert game.win_do(seqs[5:6])[0] == pytest.approx(0.6 * 0.3 * 0.1)
    assert game.win_do(seqs).sum() == pytest.approx(1.0)  # one sequence is Simon's
    np.testing.assert_allclose(game.win_observed(seqs), 1.0)  # a perfect expert always wins
    noisy = SimonSays((0.5, 0.5), length=1, expert_error=0.2)
    # a = 0: right w.p. 0.8 * 0.5, wrong w.p. 0.2 * 0.5 -> p(win | a = 0) = 0.8
    assert noisy.win_observed(np.array([[0]]))[0] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="signal_probs"):
        SimonSays((0.5, 0.6))


def test_data_frequencies_match_the_exact_answers():
    game = SimonSays((0.6, 0.3, 0.1), length=2, expert_error=0.1)
    a, w = game.open_loop_data(60_000, seed=0)
    assert w.mean() == pytest.approx(game.win_do(game.sequences()).mean(), abs=0.01)
    a, w = game.reactive_data(60_000, seed=1)
    assert w.mean() == pytest.approx(0.9**2, abs=0.01)
    mask = (a == [0, 0]).all(1)  # the most frequent sequence
    assert w[mask].mean() == pytest.approx(game.win_observed(np.array([[0, 0]]))[0], abs=0.02)


def test_reactive_model_predicts_a_win_open_loop_model_the_true_rate():
    torch.set_num_threads(1)
    game = SimonSays((0.6, 0.3, 0.1), length=3)
    seqs = game.sequences()
    exact = game.win_do(seqs)
    reactive = fit_win_model(game, *game.reactive_data(8000, seed=0), steps=300, seed=0)
    open_loop = fit_win_model(game, *game.open_loop_data(8000, seed=1), steps=300, seed=0)
    pr, po = reactive.predict(seqs), open_loop.predict(seqs)
    assert pr.min() > 0.95  # "wins" with every sequence ...
    assert exact.max() < 0.22  # ... that wins at most 21.6% of the time when executed blindly
    assert np.abs(po - exact).max() < 0.05
    assert np.corrcoef(po, exact)[0, 1] > 0.95
