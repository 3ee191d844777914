"""Appendix A.2, causally correct models: the "Simon says" example, computed.

A model of p(win | s_0, a_1..a_k) fitted on data from a reactive expert (who sees Simon's signals
s_1..s_k before answering) learns the observational p(win | a), close to 1 for every sequence;
the same model fitted on open-loop data (actions independent of the states) learns
p(win | do(a)), the win rate of executing the sequence blindly. `SimonSays` gives both exact
answers. This is why GLAMOR collects its data with open-loop plans (§3.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


@dataclass
class SimonSays:
    """Simon shows k signals s_1..s_k (independent, each ~ signal_probs over m symbols); the player
    answers a_i after seeing s_i and wins when every answer repeats the signal.

    A reactive expert copies each signal, making a mistake (a uniformly random other symbol) with
    probability `expert_error`; an open-loop player picks its actions without looking."""

    signal_probs: tuple[float, ...] = (0.6, 0.3, 0.1)
    length: int = 3
    expert_error: float = 0.0

    def __post_init__(self) -> None:
        p = np.asarray(self.signal_probs, dtype=float)
        if p.ndim != 1 or len(p) < 2 or (p < 0).any() or not np.isclose(p.sum(), 1):
            raise ValueError(f"signal_probs={self.signal_probs} must be a distribution (m >= 2)")
        if self.length < 1 or not 0 <= self.expert_error <= 1:
            raise ValueError("length must be >= 1 and expert_error in [0, 1]")
        self.p = p
        self.m = len(p)

    def sequences(self) -> np.ndarray:
        """Every action sequence, (m^k, k) long, in lexicographic order."""
        return np.array(list(product(range(self.m), repeat=self.length)), dtype=np.int64)

    def _signals(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.m, size=(n, self.length), p=self.p)

    def reactive_data(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """n games by the reactive expert: actions (n, k), wins (n,) float."""
        rng = np.random.default_rng(seed)
        s = self._signals(n, rng)
        err = rng.random(s.shape) < self.expert_error
        other = (s + rng.integers(1, self.m, size=s.shape)) % self.m  # a different symbol
        a = np.where(err, other, s)
        return a, (a == s).all(axis=1).astype(np.float32)

    def open_loop_data(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """n games by a player choosing uniformly random actions without looking."""
        rng = np.random.default_rng(seed)
        s = self._signals(n, rng)
        a = rng.integers(self.m, size=s.shape)
        return a, (a == s).all(axis=1).astype(np.float32)

    def win_do(self, actions: np.ndarray) -> np.ndarray:
        """p(win | do(a_1..a_k)) = prod_i p(s_i = a_i): executing the sequence blindly. (N,)."""
        return self.p[np.asarray(actions)].prod(axis=1)

    def win_observed(self, actions: np.ndarray) -> np.ndarray:
        """p(win | a_1..a_k) in the reactive expert's data (what a model of it converges to):
        prod_i (1-e) p(a_i) / [(1-e) p(a_i) + e (1 - p(a_i)) / (m - 1)]. (N,)."""
        e, pa = self.expert_error, self.p[np.asarray(actions)]
        right = (1 - e) * pa
        return (right / (right + e * (1 - pa) / (self.m - 1))).prod(axis=1)


class WinModel(nn.Module):
    """q(win | s_0, a_1..a_k): an MLP on the one-hot action sequence (s_0 is the same in every
    game, so it is left out). actions (N, k) long -> win logits (N,)."""

    def __init__(self, n_symbols: int, length: int, hidden: int = 64):
        super().__init__()
        self.m = n_symbols
        self.net = nn.Sequential(
            nn.Linear(n_symbols * length, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        x = nn.functional.one_hot(actions, self.m).float().flatten(1)
        return self.net(x).squeeze(1)

    @torch.no_grad()
    def predict(self, actions: np.ndarray) -> np.ndarray:
        return torch.sigmoid(self(torch.as_tensor(actions))).numpy()


def fit_win_model(
    game: SimonSays,
    actions: np.ndarray,
    wins: np.ndarray,
    steps: int = 400,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = False,
) -> WinModel:
    """Maximum likelihood (binary cross-entropy), full batch with Adam; seeded without touching
    torch's global generator."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = WinModel(game.m, game.length)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    a, y = torch.as_tensor(actions), torch.as_tensor(wins)
    for _ in tqdm(range(steps), desc="fit", disable=not progress, leave=False):
        loss = nn.functional.binary_cross_entropy_with_logits(model(a), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


__all__ = ["SimonSays", "WinModel", "fit_win_model"]
