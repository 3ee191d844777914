"""The GPU path, checked on CPU: device placement (a model on the `meta` device), host-device
syncs counted per plan, generator devices, mixed precision (encoders bf16, heads fp32), the fused
planner step against the model's own step, and both planner loops against brute force.

A `meta` tensor has a shape and a device but no data: any read of its values (.item(), bool(),
nonzero, .cpu()) raises, and so does meeting a CPU tensor in an op, as a CUDA tensor would. So a
model moved to `meta` that runs through the loss, plan() and the policies proves they place every
tensor on the model's device and never read the device back. Tests marked `gpu` need CUDA.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from glamor_mini.models import GlamorModel
from glamor_mini.planner import FusedHeads, PlannerSettings, plan, score
from glamor_mini.policies import ClosedLoopPolicy, EpsilonGreedy, OpenLoopPolicy, to_host
from glamor_mini.replay import ReplayBuffer
from glamor_mini.utils import HostReadCounter

A = 3
OBS, GOAL = (2, 4, 4), (1, 4, 4)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def small_model(seed: int = 0, encoder: str = "mlp") -> GlamorModel:
    torch.manual_seed(seed)
    m = GlamorModel(OBS, GOAL, A, encoder=encoder, state_size=16, mlp_hidden=16, lstm_hidden=8)
    with torch.no_grad():  # a non-flat Eq. 8 landscape
        m.inverse.out.weight.mul_(6.0)
        m.prior.out.weight.mul_(3.0)
    return m.eval()


def batch(b: int, device="cpu", seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (b, *OBS), dtype=torch.uint8, generator=g)
    goal = torch.randint(0, 256, (b, *GOAL), dtype=torch.uint8, generator=g)
    return obs.to(device), goal.to(device)


def host_args(b: int, left: int = 5, new: bool = True):
    """slots, steps_left, new_episode: the env loop's host tensors."""
    return torch.arange(b), torch.full((b,), left), torch.full((b,), new)


# ----------------------------------------------------------------------------------- meta device


def test_a_cpu_tensor_meeting_a_meta_tensor_raises():
    """The premise of the meta tests: mixing devices and reading values both fail on meta."""
    with pytest.raises(RuntimeError):
        torch.ones(3, device="meta") + torch.ones(3)
    with pytest.raises(RuntimeError):
        bool(torch.ones(3, device="meta").any())


def test_meta_model_runs_the_loss_and_its_backward():
    model = small_model().train().to("meta")
    obs, goal = batch(4, "meta")
    actions = torch.zeros(4, 5, dtype=torch.long, device="meta")
    lengths = torch.zeros(4, dtype=torch.long, device="meta")
    loss, stats = model.loss(obs, goal, actions, lengths)
    loss.backward()
    assert loss.device.type == "meta" and all(v.device.type == "meta" for v in stats.values())
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters())


@pytest.mark.parametrize("termination", ["early", "plan_end"])
@pytest.mark.parametrize("mode", ["guided", "sparse", "no_prior"])
def test_meta_model_plans_without_reading_the_device(mode, termination):
    """plan() on a non-CPU device takes the fixed-shape loop: no nonzero/item/bool on the
    device (each raises on meta). Host inputs (obs on CPU, a CPU max_len) are moved in."""
    model = small_model().to("meta")
    obs, goal = batch(3)
    settings = PlannerSettings(n_candidates=7, mode=mode, termination=termination)
    p = plan(model, obs, goal, torch.tensor([0, 2, 4]), settings, return_candidates=True)
    assert p.actions.device.type == "meta" and p.actions.shape == (3, 4)
    assert p.candidates.shape == (3, 7, 4) and p.score.shape == (3,)


def test_meta_model_through_the_policies():
    model = small_model().to("meta")
    settings = PlannerSettings(n_candidates=5)
    obs, goal = batch(4)
    slots, left, new = host_args(4)
    a, stop = ClosedLoopPolicy(model, settings).act(slots, obs, goal, left, new)
    assert a.device.type == "meta" and stop.device.type == "meta"
    open_loop = OpenLoopPolicy(model, settings, n_slots=4, horizon=5, stop_at_end=False)
    policy = EpsilonGreedy(open_loop, A, eps=0.5)
    for t in range(3):
        new = torch.tensor([t == 0, t == 1, False, t == 0])
        a, stop = policy.act(slots, obs, goal, torch.full((4,), 5 - t), new)
        assert a.device.type == "meta" and a.shape == (4,)


def test_a_generator_on_another_device_is_a_clear_error():
    model = small_model().to("meta")
    obs, goal = batch(1)
    with pytest.raises(ValueError, match="generator is on cpu but the model on meta"):
        plan(model, obs, goal, 3, PlannerSettings(n_candidates=2), torch.Generator())


# ----------------------------------------------------------------------------------- sync budget


def count_syncs(fn) -> int:
    with HostReadCounter() as counter:
        fn()
    return counter.count


@pytest.mark.parametrize("horizon", [3, 40])
def test_device_plan_has_no_sync_and_host_reads_do_not_grow_with_positions(horizon):
    """The fixed-shape loop (compact=False, what CUDA runs) reads nothing with an int max_len;
    a host max_len costs a few reads of that host tensor, however many positions are run."""
    model = small_model()
    obs, goal = batch(2)
    s = PlannerSettings(n_candidates=16)
    gen = torch.Generator().manual_seed(0)
    n_int = count_syncs(lambda: plan(model, obs, goal, horizon, s, gen, compact=False))
    assert n_int == 0
    left = torch.tensor([horizon, horizon - 1])
    n_host = count_syncs(lambda: plan(model, obs, goal, left, s, gen, compact=False))
    assert n_host <= 5, f"{n_host} host reads per plan (budget 5, none per position)"


def test_the_counter_sees_uploads_and_mixed_device_ops():
    """The premise of the two tests below: on `meta`, a CPU index into device weights and a
    copy of a CPU tensor onto the device are both counted (each is a hidden copy on CUDA)."""
    w = torch.ones(4, 3, device="meta")
    with HostReadCounter() as counter:
        w[torch.tensor([1, 0])]  # a CPU index: copied to the device by torch
        torch.ones(3).to("meta")
        w[torch.arange(2, device="meta")] * torch.tensor(2.0)  # a 0-dim CPU scalar is free
    assert counter.mixed == ["__getitem__"] and counter.uploads == ["to"]


@pytest.mark.parametrize("mode", ["guided", "no_prior"])
def test_device_plan_uploads_nothing_and_mixes_no_devices(mode):
    """plan() on device inputs builds everything it needs on the device (FusedHeads' gate
    permutation and scale included): no host-to-device copy, no CPU tensor meeting device ones.
    A host max_len tensor (what the policies pass) is the one upload."""
    model = small_model().to("meta")
    obs, goal = batch(3, "meta")
    s = PlannerSettings(n_candidates=7, mode=mode)
    with HostReadCounter() as counter:
        plan(model, obs, goal, 4, s)
    assert (counter.uploads, counter.mixed, counter.calls) == ([], [], [])
    with HostReadCounter() as counter:
        plan(model, obs, goal, torch.tensor([0, 2, 4]), s)
    assert counter.uploads == ["to"] and counter.mixed == []


def test_plans_follow_the_weights_after_a_fused_adamw_step():
    """A fused AdamW step changes the weights without bumping their version counters (so the
    planner does not cache FusedHeads by version); the next plan must use the new weights."""
    model = small_model(2).train()
    opt = torch.optim.AdamW(model.parameters(), lr=0.5, fused=True)
    obs, goal = batch(2, seed=2)
    versions = [p._version for p in model.parameters()]
    loss, _ = model.loss(obs, goal, torch.zeros(2, 3, dtype=torch.long), torch.full((2,), 3))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert [p._version for p in model.parameters()] == versions  # the premise
    model.eval()
    s = PlannerSettings(n_candidates=64, gamma=0.9)
    p = plan(model, obs, goal, 3, s, torch.Generator().manual_seed(0), return_candidates=True)
    B, N, L = p.candidates.shape
    rep = lambda x: x.repeat_interleave(N, 0)  # noqa: E731
    flat, lens = p.candidates.reshape(B * N, L), p.candidate_length.reshape(-1)
    fresh = score(model, rep(obs), rep(goal), flat, lens, 0.9)  # teacher forcing: new weights
    torch.testing.assert_close(p.candidate_score.reshape(-1), fresh, atol=1e-4, rtol=0)


def test_to_host_is_one_transfer():
    actions, stop = torch.tensor([2, 0, 1]), torch.tensor([False, True, False])
    with HostReadCounter() as counter:
        a, s = to_host(actions, stop)
    assert counter.calls.count("cpu") == 1 and counter.calls.count("numpy") == 1
    assert a.tolist() == [2, 0, 1] and s.tolist() == [False, True, False]


# ----------------------------------------------------------------------------------- generators


def test_replay_lives_on_its_device_with_a_generator_there():
    buf = ReplayBuffer(100, (1, 2, 2), frame_stack=2, horizon=5, device="cpu")
    tensors = (buf.frames, buf.actions, buf.to_start, buf.to_end, buf.goal_idx)
    assert all(t.device == buf.device for t in tensors)
    assert buf.generator.device == buf.device
    buf.add_trajectory(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 2]))
    b = buf.sample(8)
    assert all(t.device == buf.device for t in (b.obs, b.goal, b.actions, b.lengths))


def test_replay_writes_across_the_ring_end():
    """A trajectory that wraps the ring is written in two pieces, in order."""
    buf = ReplayBuffer(7, (1, 1, 1), horizon=4)
    for start in (0, 10, 20):  # 5 + 5 + 5 frames: the second and third wrap
        frames = torch.arange(start, start + 5, dtype=torch.uint8).view(5, 1, 1, 1)
        buf.add_trajectory(frames, torch.tensor([0, 1, 2, 3]))
    assert buf.frames.view(-1).tolist() == [24, 13, 14, 20, 21, 22, 23]
    assert buf.to_start.tolist() == [4, 3, 4, 0, 1, 2, 3]
    assert buf.to_end.tolist() == [0, 1, 0, 4, 3, 2, 1]
    assert buf.actions.tolist() == [-1, 3, -1, 0, 1, 2, 3]


# ----------------------------------------------------------------------------------- precision


def _dtype_hooks(model: GlamorModel) -> dict[str, torch.dtype]:
    seen: dict[str, torch.dtype] = {}

    def hook(name):
        def record(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            seen[name + ".in"], seen[name + ".out"] = inputs[0].dtype, out.dtype

        return record

    model.obs_encoder.register_forward_hook(hook("encoder"))
    model.inverse.lstm.register_forward_hook(hook("lstm"))
    model.prior.out.register_forward_hook(hook("prior_out"))
    return seen


def _loss(model: GlamorModel):
    obs, goal = batch(4)
    actions = torch.tensor([[0, 1, 2], [1, -1, -1], [2, 2, -1], [-1, -1, -1]])
    return model.loss(obs, goal, actions, torch.tensor([3, 1, 2, 0]))[0]


def test_amp_runs_encoders_in_bf16_and_heads_in_fp32():
    model = small_model().train()
    model.amp = True
    seen = _dtype_hooks(model)
    loss = _loss(model)
    assert seen["encoder.out"] == torch.bfloat16
    assert seen["lstm.in"] == torch.float32 and seen["lstm.out"] == torch.float32
    assert seen["prior_out.out"] == torch.float32 and loss.dtype == torch.float32
    loss.backward()
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())


def test_heads_stay_fp32_under_a_callers_autocast():
    """The agent wraps the loss in autocast: the heads switch it off for themselves."""
    model = small_model().train()
    seen = _dtype_hooks(model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _loss(model)
    assert seen["encoder.out"] == torch.bfloat16
    assert seen["lstm.in"] == torch.float32 and seen["prior_out.out"] == torch.float32


def test_amp_plans_with_float32_scores():
    model = small_model()
    model.amp = True
    obs, goal = batch(2)
    p = plan(model, obs, goal, 4, PlannerSettings(n_candidates=8), torch.Generator())
    assert p.score.dtype == torch.float32 and bool(torch.isfinite(p.score).all())


# ----------------------------------------------------------------------------------- fused step


@pytest.mark.parametrize("use_prior", [True, False])
def test_fused_step_equals_each_heads_own_step(use_prior):
    """FusedHeads (precomputed input table, one batched matmul, tanh via sigmoid) computes what
    SequenceHead.step computes, head by head, over a sequence of tokens."""
    model = small_model(3)
    obs, goal = batch(5, seed=3)
    with torch.no_grad():
        ctx_inv, ctx_pri = model.contexts(obs, goal)
        fused = FusedHeads(model, use_prior)
        h, c, base = fused.start([ctx_inv, ctx_pri][: fused.nh])
        states = [model.inverse.start(ctx_inv), model.prior.start(ctx_pri)][: fused.nh]
        heads = [model.inverse, model.prior][: fused.nh]
        prev = torch.full((5,), A)
        for _ in range(4):
            lp, h, c = fused.step(h, c, base, prev)
            for j, head in enumerate(heads):
                logits, states[j] = head.step(states[j], prev)
                torch.testing.assert_close(lp[j], torch.log_softmax(logits, -1), atol=1e-5, rtol=0)
            prev = torch.randint(0, A + 1, (5,))


def _all_plans(max_len: int):
    for k in range(0, max_len + 1):
        yield from itertools.product(range(A), repeat=k)


@pytest.mark.parametrize("compact", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_both_loops_find_the_brute_force_argmax(compact, seed):
    model = small_model(seed)
    obs, goal = batch(1, seed=seed)
    max_len, gamma, clip = 3, 0.7, -3.15
    seqs = list(_all_plans(max_len))
    acts = torch.full((len(seqs), max_len), -1)
    for i, sq in enumerate(seqs):
        acts[i, : len(sq)] = torch.tensor(sq, dtype=torch.long)
    lens = torch.tensor([len(sq) for sq in seqs])
    n = len(seqs)
    sc = score(
        model, obs.expand(n, -1, -1, -1), goal.expand(n, -1, -1, -1), acts, lens, gamma, clip
    )
    want = seqs[int(sc.argmax())]
    settings = PlannerSettings(n_candidates=3000, gamma=gamma, clip=clip)
    p = plan(
        model, obs, goal, max_len, settings, torch.Generator().manual_seed(seed), compact=compact
    )
    assert tuple(p.actions[0, : int(p.length[0])].tolist()) == want
    assert float(p.score[0]) == pytest.approx(float(sc.max()), abs=1e-4)


@pytest.mark.parametrize("compact", [True, False])
def test_both_loops_score_candidates_by_eq8_with_mixed_max_len(compact):
    model = small_model(4)
    obs, goal = batch(4, seed=4)
    max_len = torch.tensor([0, 1, 3, 6])
    s = PlannerSettings(n_candidates=40, gamma=0.9, clip=-2.0)
    gen = torch.Generator().manual_seed(0)
    p = plan(model, obs, goal, max_len, s, gen, return_candidates=True, compact=compact)
    B, N, L = p.candidates.shape
    assert (p.candidate_length <= max_len.unsqueeze(1)).all()
    assert (p.candidate_length[1:] >= 1).all(), "END may not come first"
    rep = lambda x: x.repeat_interleave(N, 0)  # noqa: E731
    flat, lens = p.candidates.reshape(B * N, L), p.candidate_length.reshape(-1)
    sc = score(model, rep(obs), rep(goal), flat, lens, 0.9, -2.0)
    torch.testing.assert_close(sc, p.candidate_score.reshape(-1), atol=1e-4, rtol=0)
    assert ((p.candidates >= 0) == (torch.arange(L) < p.candidate_length.unsqueeze(-1))).all()


# ----------------------------------------------------------------------------------- on a GPU


@pytest.mark.gpu
@needs_cuda
def test_amp_on_cuda_encoders_bf16_heads_fp32():
    model = small_model(0, "impala").train().cuda()
    model.amp = True
    seen = _dtype_hooks(model)
    obs, goal = batch(4, "cuda")
    actions = torch.tensor([[0, 1, 2], [1, -1, -1], [2, 2, -1], [-1, -1, -1]], device="cuda")
    loss, _ = model.loss(obs, goal, actions, torch.tensor([3, 1, 2, 0], device="cuda"))
    loss.backward()
    assert seen["encoder.out"] == torch.bfloat16 and seen["lstm.in"] == torch.float32
    assert all(p.grad.dtype == torch.float32 for p in model.parameters())


@pytest.mark.gpu
@needs_cuda
def test_update_sample_and_plan_never_sync_on_cuda():
    """Replay sampling, the Eq. 9 loss, backward, clipping and an AdamW step, then a plan and a
    closed-loop act: no host-device sync (sync debug mode 'error' raises on one)."""
    dev = torch.device("cuda")
    model = small_model().train().to(dev)
    model.amp = True
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    buf = ReplayBuffer(200, (1, 4, 4), frame_stack=2, horizon=5, device=dev)
    for _ in range(5):
        buf.add_trajectory(
            torch.randint(0, 255, (6, 1, 4, 4), dtype=torch.uint8), torch.arange(5) % A
        )
    gen = torch.Generator(device=dev).manual_seed(0)
    obs, goal = batch(2)
    slots, left, new = host_args(2)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            b = buf.sample(16)
            loss, _ = model.loss(b.obs, b.goal, b.actions, b.lengths)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        plan(model, obs, goal, left, PlannerSettings(n_candidates=32), gen)
        ClosedLoopPolicy(model, PlannerSettings(n_candidates=32), gen).act(
            slots, obs, goal, left, new
        )
    finally:
        torch.cuda.set_sync_debug_mode(0)


def test_cuda_precision_keeps_heads_and_planner_in_ieee_float32():
    """One float32 policy for every algorithm on CUDA: TF32 for convolutions only; matmuls and
    cuDNN's LSTM (the heads, the planner) in IEEE float32 (torch's defaults put cuDNN LSTMs on
    TF32). The flags are plain settings, so this runs on a CPU."""
    from glamor_mini.models import set_cuda_precision

    b = torch.backends
    saved = (b.cudnn.conv.fp32_precision, b.cudnn.rnn.fp32_precision, b.cuda.matmul.fp32_precision)
    try:
        set_cuda_precision()
        assert b.cudnn.conv.fp32_precision == "tf32"
        assert b.cudnn.rnn.fp32_precision == "ieee" and b.cuda.matmul.fp32_precision == "ieee"
    finally:
        b.cudnn.conv.fp32_precision, b.cudnn.rnn.fp32_precision = saved[:2]
        b.cuda.matmul.fp32_precision = saved[2]
