"""Trajectory replay with hindsight relabelling (paper §3.4-3.5, Algorithm 1).

Storage: a circular buffer of *frames*. A trajectory with L actions is written as L + 1 consecutive
slots: the frames of s_0 .. s_L (the final observation included) and the actions a_0 .. a_{L-1}
(-1 in the final slot). Each frame is stored ONCE: the frame stack of s_t is rebuilt from the slots
t - stack + 1 .. t, repeating the trajectory's first frame where the stack would cross its start.
Per slot we keep two int16 offsets (to the trajectory's first and final frame) and an int32 goal
index, so a 104x80 Atari frame costs 8,320 + 2 + 4 + 4 = 8,330 bytes a slot.

Sampling (Eq. 9's dataset D of (s_1, a_1..a_{k-1}, s_k) tuples, i.e. hindsight relabelling):
    t ~ uniform over every stored frame of every intact trajectory (final frames included)
    k ~ Uniform{0..T}, clipped to the trajectory end         (k = 0 teaches "already there: END")
    obs = stack(s_t), goal = frame(s_{t+k}), actions = a_t .. a_{t+k-1}, then END
Everything is vectorised over the batch with index arithmetic: no Python loop over samples.

Trajectories are written whole (the collector stages each one until it ends), so every trajectory
in the ring is complete; when the write head overwrites the oldest trajectory, the rest of it is
dropped from the sampling window at once.

Size: `capacity` (Config.buffer_size) is the ring's length: positions wrap modulo it, so it alone
decides what is overwritten and sampled. Memory is allocated for `reserve` frames (the Trainer
passes `ring_frames(cfg)`: what the run writes if its trajectories are full length, e.g. 510,008
frames, 4.2 GB, for a 500k-step Atari run whose buffer_size is 1e6) and grows in steps of 25%,
up to `capacity`, only if the run writes more (shorter trajectories). Until the ring is full no
slot wraps, so a smaller allocation changes nothing that is stored, sampled or checkpointed.

Device: `device=` puts the whole ring, its offsets and its generator on one device. On a GPU
every sampled batch is then built where it is trained on, without a host copy or sync; writing a
trajectory is one host-to-device copy of its frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from glamor_mini.resources import check_memory, memory_lock


def replay_bytes(capacity: int, frame_shape: tuple[int, ...]) -> int:
    """Bytes a ReplayBuffer of `capacity` frames holds: each slot stores one uint8 frame, an
    int16 action, two int16 offsets and an int32 goal index (module docstring)."""
    return int(capacity) * (int(np.prod(frame_shape)) + 3 * 2 + 4)


def ring_frames(total_steps: int, buffer_size: int, horizon: int, n_envs: int = 1) -> int:
    """Frames a run of total_steps agent steps writes into its ring when every trajectory has
    `horizon` actions, capped at buffer_size: the collector overshoots total_steps by at most
    n_envs - 1 steps (it steps every env at once), and each trajectory adds its final frame.
    The Trainer allocates this much; shorter trajectories grow the ring (ReplayBuffer.reserve).
    """
    if min(total_steps, buffer_size, horizon, n_envs) < 1:
        raise ValueError(
            f"total_steps={total_steps}, buffer_size={buffer_size}, horizon={horizon} and "
            f"n_envs={n_envs} must all be >= 1"
        )
    steps = int(total_steps) + int(n_envs) - 1
    return min(int(buffer_size), steps + -(-steps // int(horizon)))


@dataclass
class Batch:
    """A relabelled training batch.

    obs: (B, stack*c, H, W) uint8   goal: (B, c, H, W) uint8
    actions: (B, T) long, -1 past each length   lengths: (B,) long in 0..T
    """

    obs: Tensor
    goal: Tensor
    actions: Tensor
    lengths: Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch(
            *(
                x.to(device, non_blocking=non_blocking)
                for x in (self.obs, self.goal, self.actions, self.lengths)
            )
        )


class ReplayBuffer:
    """Circular buffer of whole trajectories; each frame stored once.

    capacity: frames (= agent steps + one final frame per trajectory)
    frame_shape: (c, H, W) of ONE frame; frame_stack: frames per observation; horizon: T
    reserve: frames to allocate now (default capacity); more are allocated when written
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, int, int],
        frame_stack: int = 1,
        horizon: int = 50,
        seed: int = 0,
        pin_memory: bool = False,
        device: torch.device | str = "cpu",
        reserve: int | None = None,
    ):
        """pin_memory is accepted and ignored (a pinned 8 GB ring bought nothing: batches are
        gathered into fresh pageable tensors); pass device='cuda' to keep the ring on the GPU."""
        if horizon + 1 > capacity:
            raise ValueError(f"capacity={capacity} cannot hold one trajectory of {horizon} steps")
        if horizon >= 2**15:
            raise ValueError("horizon must be < 32768 (offsets are stored as int16)")
        if reserve is not None and reserve < 1:
            raise ValueError(f"reserve={reserve}: expected frames >= 1 (or None: capacity)")
        self.capacity = int(capacity)
        self.frame_shape = tuple(frame_shape)
        self.frame_stack = int(frame_stack)
        self.horizon = int(horizon)
        self.device = torch.device(device)
        self.rows = 0  # frames allocated: slots 0 .. rows - 1 (all of the ring once full)
        self._grow(min(self.capacity, int(reserve or capacity)))
        self.total = 0  # frames ever written (absolute write position)
        self._starts: deque[int] = deque()  # absolute start of every trajectory in the ring
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    # ---------------------------------------------------------------------------------- storage
    def _grow(self, rows: int) -> None:
        """Allocate `rows` slots, keeping the first self.rows. Memory is checked and allocated
        under resources.memory_lock, so runs starting together see each other's rings."""
        dev = self.device
        need = replay_bytes(rows, self.frame_shape)
        what = f"a replay buffer of {rows:,} frames of shape {self.frame_shape}"
        hint = "lower --buffer_size"
        with memory_lock():
            if dev.type == "cpu":  # before allocating: a clear line instead of the allocator's
                check_memory(need, what, hint)
            elif dev.type == "cuda":
                free = torch.cuda.mem_get_info(dev)[0]
                check_memory(need, what + f" on {dev}", hint, available=free)
            new = {
                "frames": torch.zeros((rows, *self.frame_shape), dtype=torch.uint8, device=dev),
                "actions": torch.full((rows,), -1, dtype=torch.int16, device=dev),
                "to_start": torch.zeros(rows, dtype=torch.int16, device=dev),  # t - first
                "to_end": torch.zeros(rows, dtype=torch.int16, device=dev),  # final frame - t
                "goal_idx": torch.full((rows,), -1, dtype=torch.int32, device=dev),
                # goal_idx, per slot: index (in the training goal set) of the goal the trajectory
                # was collected toward, -1 when unknown; GLAMOR and GCSL never read it
            }
        for name, tensor in new.items():
            if self.rows:
                tensor[: self.rows] = getattr(self, name)
            setattr(self, name, tensor)
        self.rows = rows

    def _make_room(self, end: int) -> None:
        """Before writing up to absolute position `end`: grow (by 25% at least) while the ring is
        not yet fully allocated. Positions stay slots (no wrap) until rows == capacity."""
        if end > self.rows and self.rows < self.capacity:
            self._grow(min(self.capacity, max(end, self.rows + self.rows // 4)))

    # ---------------------------------------------------------------------------------- writing
    def add_trajectory(
        self, frames: np.ndarray | Tensor, actions: np.ndarray | Tensor, goal: int = -1
    ) -> None:
        """frames: (L+1, c, H, W) uint8, s_0 .. s_L; actions: (L,) ints a_0 .. a_{L-1};
        goal: index of the commanded training goal (-1: unknown)."""
        frames = torch.as_tensor(frames)
        actions = torch.as_tensor(actions).reshape(-1).to(torch.int16)
        n = frames.shape[0]
        if tuple(frames.shape[1:]) != self.frame_shape or frames.dtype != torch.uint8:
            raise ValueError(
                f"frames must be uint8 of shape (L+1, {self.frame_shape}); "
                f"got {tuple(frames.shape)} {frames.dtype}"
            )
        if actions.shape[0] != n - 1:
            raise ValueError(
                f"a trajectory with {n} frames needs {n - 1} actions, got {actions.shape[0]}"
            )
        if n - 1 > self.horizon:
            raise ValueError(f"trajectory has {n - 1} actions; the horizon is {self.horizon}")
        self._make_room(self.total + n)
        # one host-to-device copy per tensor of the trajectory, then writes on the device
        dev = self.device
        frames = frames.to(dev, non_blocking=True)
        actions = torch.cat([actions, actions.new_full((1,), -1)]).to(dev, non_blocking=True)
        ar = torch.arange(n, dtype=torch.int16, device=dev)
        start = self.total % self.capacity
        first = min(n, self.capacity - start)  # the ring may wrap once inside a trajectory
        pieces = [(slice(start, start + first), slice(0, first))]
        if first < n:
            pieces.append((slice(0, n - first), slice(first, n)))
        for dst, src in pieces:
            self.frames[dst] = frames[src]
            self.actions[dst] = actions[src]
            self.to_start[dst] = ar[src]
            self.to_end[dst] = (n - 1) - ar[src]
            self.goal_idx[dst] = int(goal)
        self._starts.append(self.total)
        self.total += n
        while self._starts and self._starts[0] < self.total - self.capacity:
            self._starts.popleft()

    # ---------------------------------------------------------------------------------- reading
    @property
    def size(self) -> int:
        """Frames available for sampling (those of intact trajectories)."""
        return self.total - self._starts[0] if self._starts else 0

    @property
    def n_steps(self) -> int:
        """Agent steps (actions) held in intact trajectories."""
        return self.size - len(self._starts)

    def __len__(self) -> int:
        return self.size

    def stack_at(self, t_abs: Tensor) -> Tensor:
        """Frame stacks of the observations at absolute positions: (B,) -> (B, stack*c, H, W)."""
        slot = t_abs % self.capacity
        back = self.to_start[slot].long()  # how far back the trajectory starts
        offs = torch.arange(self.frame_stack - 1, -1, -1, device=self.device)  # oldest first
        src = t_abs.unsqueeze(1) - torch.minimum(offs.unsqueeze(0), back.unsqueeze(1))
        return self._gather(src % self.capacity).flatten(1, 2)  # (B, stack*c, H, W)

    def _gather(self, slots: Tensor) -> Tensor:
        """frames[slots] for any index shape, via index_select on a flat view (about 10x faster
        than advanced indexing for 104x80 frames)."""
        flat = self.frames.view(self.rows, -1).index_select(0, slots.reshape(-1))
        return flat.view(*slots.shape, *self.frame_shape)

    def sample_positions(self, batch_size: int, with_action: bool = False) -> Tensor:
        """(B,) absolute positions, uniform over the stored frames of intact trajectories
        (with_action=True: only frames followed by an action, i.e. not a trajectory's final
        frame; drawn by rejection, vectorised)."""
        if self.size == 0:
            raise RuntimeError("the replay buffer is empty: add trajectories before sampling")
        lo, g, dev = self._starts[0], self.generator, self.device
        t_abs = lo + torch.randint(self.size, (batch_size,), generator=g, device=dev)
        if with_action:
            on_host = dev.type == "cpu"  # elsewhere: 8 redraws without reading the device
            for _ in range(64 if on_host else 8):
                bad = self.to_end[t_abs % self.capacity] == 0
                if on_host and not bool(bad.any()):
                    break
                redraw = lo + torch.randint(self.size, (batch_size,), generator=g, device=dev)
                t_abs = torch.where(bad, redraw, t_abs)
            t_abs = t_abs - (self.to_end[t_abs % self.capacity] == 0).long()  # rare leftovers
        return t_abs

    def frame_at(self, t_abs: Tensor) -> Tensor:
        """The single frames at absolute positions: (B,) -> (B, c, H, W)."""
        return self._gather(t_abs % self.capacity)

    def step_index(self, t_abs: Tensor) -> Tensor:
        """(B,) long: t, the step of each position within its trajectory (0 = start state)."""
        return self.to_start[t_abs % self.capacity].long()

    def steps_to_end(self, t_abs: Tensor) -> Tensor:
        """(B,) long: actions left in each position's trajectory (0 = its final frame)."""
        return self.to_end[t_abs % self.capacity].long()

    def action_at(self, t_abs: Tensor) -> Tensor:
        """(B,) long: the action taken at each position (-1 at a final frame)."""
        return self.actions[t_abs % self.capacity].long()

    def goal_at(self, t_abs: Tensor) -> Tensor:
        """(B,) long: the commanded goal index of each position's trajectory (-1: unknown)."""
        return self.goal_idx[t_abs % self.capacity].long()

    def sample(self, batch_size: int, k_max: int | None = None) -> Batch:
        """Hindsight-relabelled tuples; k ~ Uniform{0..k_max} (default T) clipped to the end."""
        if self.size == 0:
            raise RuntimeError("the replay buffer is empty: add trajectories before sampling")
        k_max = self.horizon if k_max is None else k_max
        g, dev = self.generator, self.device
        lo = self._starts[0]
        t_abs = lo + torch.randint(self.size, (batch_size,), generator=g, device=dev)
        slot = t_abs % self.capacity
        k = torch.randint(k_max + 1, (batch_size,), generator=g, device=dev)
        k = torch.minimum(k, self.to_end[slot].long())
        obs = self.stack_at(t_abs)
        goal = self._gather((t_abs + k) % self.capacity)
        steps = torch.arange(self.horizon, device=dev)
        a_idx = (t_abs.unsqueeze(1) + steps.unsqueeze(0)) % self.capacity
        # slots past k are masked below; clamped, they stay inside a ring not yet fully allocated
        acts = self.actions[a_idx.clamp_(max=self.rows - 1)].long()
        acts = torch.where(steps.unsqueeze(0) < k.unsqueeze(1), acts, torch.full_like(acts, -1))
        return Batch(obs, goal, acts, k)

    # ---------------------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Only the used part of the ring is saved, WITHOUT copying it (the tensors share the
        ring's memory: torch.save writes them straight from there; do not modify the buffer
        while the dict is alive)."""
        used = min(self.total, self.capacity)
        return {
            "capacity": self.capacity,
            "frame_shape": self.frame_shape,
            "frame_stack": self.frame_stack,
            "horizon": self.horizon,
            "total": self.total,
            "starts": list(self._starts),
            "frames": _head(self.frames, used),
            "actions": _head(self.actions, used),
            "to_start": _head(self.to_start, used),
            "to_end": _head(self.to_end, used),
            "goal_idx": _head(self.goal_idx, used),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        for key in ("capacity", "frame_shape", "frame_stack", "horizon"):
            if tuple(np.atleast_1d(state[key])) != tuple(np.atleast_1d(getattr(self, key))):
                raise ValueError(
                    f"replay state has {key}={state[key]}, buffer has {getattr(self, key)}"
                )
        used = state["frames"].shape[0]
        self._make_room(used)
        self.frames[:used] = state["frames"]
        self.actions[:used] = state["actions"]
        self.to_start[:used] = state["to_start"]
        self.to_end[:used] = state["to_end"]
        if "goal_idx" in state:
            self.goal_idx[:used] = state["goal_idx"]
        self.total = int(state["total"])
        self._starts = deque(int(s) for s in state["starts"])
        try:
            self.generator.set_state(state["generator"])
        except RuntimeError:  # saved on another device type (CPU vs CUDA states differ)
            self.generator.manual_seed(int(state["total"]))

    def nbytes_per_step(self) -> float:
        """Bytes of storage per stored frame (frame + action + two offsets)."""
        per = (
            self.frames[0].numel() * self.frames.element_size()
            + self.actions.element_size()
            + self.to_start.element_size()
            + self.to_end.element_size()
        )
        return float(per)


def _head(x: Tensor, n: int) -> Tensor:
    """x[:n] as a tensor whose storage is exactly those n rows (torch.save of a plain slice
    would write the whole ring's storage), sharing memory with x on the CPU (no copy)."""
    if x.device.type != "cpu":
        return x[:n].cpu()
    return torch.from_numpy(x.numpy()[:n])
