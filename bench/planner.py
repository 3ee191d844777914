"""Benchmark: the batched Eq. 8 planner against the authors' algorithm and a bare eager floor.

Three loops plan for one start state with N candidates (T = 50, 18 actions, state 512, LSTM 64,
UNTRAINED model, guided sampling, clip-p-actions -3.15, termination='early'):

  * `glamor_mini.planner.plan`, both ways it can run: compact=True (the CPU default: finished
    candidates leave the batch) and compact=False (the device path: fixed shape, no host sync);
  * the authors' algorithm, re-implemented here from its description (it looped over candidates
    in Python with a GPU sync per element; docs/speed.md): ONE batch of N candidates advanced a
    position at a time, torch.multinomial sampling, all positions run, and per position a Python
    loop over the candidates that reads each still-running candidate's token, z, both log-probs
    and sampling probability with `.item()` and closes it on END. Each head's step is the
    authors' formulation: input = Linear([ctx; one_hot(prev)]), an nn.LSTM step, the output
    Linear, at the authors' layer sizes (input Linear 530 -> 512, LSTM input 512, as in their
    model; column "authors'") and at ours (530 -> 64, LSTM input 64; column "authors' loop, our
    step"). Both are built from OUR heads' weights, zero-padded where the authors' layers are
    wider (the same function as SequenceHead.step), so their Eq. 8 scores are checked against
    planner.score to 1e-4;
  * the bare floor: two nn.LSTMCell + two output Linear + log_softmax + sampling per position,
    N rows, all T + 1 positions: what plain eager PyTorch costs step by step.

Targets: plan() >= 10x the authors' at N = 200 (aim 15x), >= 15x at N = 1000, one CPU
thread. Times are the best of `--repeats` interleaved calls (the steadiest estimate of a CPU-bound
cost on a shared machine); ratios are measured in the same run.

Usage:  python bench/planner.py [--device auto] [--repeats 5] [--quick] [--threads 1] [--impala]
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from common import base_parser, print_table, setup, time_interleaved, verdict
from torch import Tensor, nn

from glamor_mini.models import GlamorModel
from glamor_mini.planner import CLIPPED_Z, Plan, PlannerSettings, plan, score

N_ACTIONS = 18
HORIZON = 50
GAMMA = 0.99
CLIP = -3.15
TARGETS = {200: 10.0, 1000: 15.0}
SCORE_TOL = 1e-4


# ----------------------------------------------------------------------------------- authors'


@dataclass
class ReferencePlan:
    actions: list[int]
    score: float
    cand_actions: list[list[int]]
    cand_score: list[float]  # sum of z over the k+1 tokens plus k log(gamma)
    empty_score: float
    item_calls: int  # host reads (.item()) the loop made: one device sync each on a GPU


class AuthorsHead:
    """One sequence head stepped the authors' way: the LSTM input is a Linear of the context
    concatenated with the previous action's one-hot, recomputed at every position.

    paper_sizes=True: the authors' layer sizes, input Linear (S + A -> S) and LSTM(S -> 64) with
    S = 512, as their model has; False: our model's, input Linear (S + A -> 64), LSTM(64 -> 64).
    Either way the weights are built from OUR head (zero-padded where the paper's layers are
    wider), so the function equals SequenceHead.step and the scores can be checked."""

    def __init__(self, head, n_actions: int, paper_sizes: bool = True):
        self.head, self.n_actions = head, n_actions
        H, S = head.lstm.hidden_size, head.ctx_proj.in_features
        width = S if paper_sizes else H
        ref = head.out.weight
        self.w_in = ref.new_zeros(width, S + n_actions)
        self.w_in[:H] = torch.cat([head.ctx_proj.weight, head.act_embed.weight[:n_actions].t()], 1)
        self.b_in = ref.new_zeros(width)
        self.b_in[:H] = head.ctx_proj.bias
        self.lstm = nn.LSTM(width, H, batch_first=True).to(ref.device)
        with torch.no_grad():
            self.lstm.weight_ih_l0.zero_()[:, :H] = head.lstm.weight_ih_l0
            for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(self.lstm, name).copy_(getattr(head.lstm, name))

    def start(self, ctx: Tensor) -> tuple[Tensor, Tensor]:
        return self.head.init_h(ctx).unsqueeze(0), self.head.init_c(ctx).unsqueeze(0)

    def step(self, ctx: Tensor, prev: Tensor, state: tuple[Tensor, Tensor]):
        """prev: (n, 1) long, n_actions or more = none/END (an all-zero one-hot)."""
        one_hot = torch.zeros(ctx.shape[0], self.n_actions + 2, device=ctx.device)
        one_hot = one_hot.scatter_(1, prev, 1.0)[:, : self.n_actions]
        x = F.linear(torch.cat([ctx, one_hot], dim=1), self.w_in, self.b_in)
        y, state = self.lstm(x.unsqueeze(1), state)
        return self.head.out(y[:, 0]), state


@torch.no_grad()
def authors_plan(
    model: GlamorModel,
    obs: Tensor,
    goal: Tensor,
    max_len: int,
    n: int,
    gamma: float,
    clip: float,
    generator: torch.Generator,
    paper_sizes: bool = True,
) -> ReferencePlan:
    """The authors' random shooting as described: one batch of n candidates, a Python loop over
    positions, per-candidate bookkeeping with `.item()`. END is never first and forced at
    position max_len; the empty plan [END] competes with the best candidate (termination='early').
    """
    end, device = model.end_token, obs.device
    ctx_inv, ctx_pri = model.contexts(obs, goal)
    ctx_inv, ctx_pri = ctx_inv.expand(n, -1), ctx_pri.expand(n, -1)
    head_inv = AuthorsHead(model.inverse, model.n_actions, paper_sizes)
    head_pri = AuthorsHead(model.prior, model.n_actions, paper_sizes)
    st_inv, st_pri = head_inv.start(ctx_inv), head_pri.start(ctx_pri)
    prev = torch.full((n, 1), model.n_actions, dtype=torch.long, device=device)
    running = torch.zeros(n, device=device)
    records: list[dict[str, list[float]]] = [defaultdict(list) for _ in range(n)]
    done = [False] * n
    final = [0.0] * n
    traj: list[list[int]] = [[] for _ in range(n)]
    empty, items = 0.0, 0
    for t in range(max_len + 1):  # every position is run, finished candidates or not
        logits_inv, st_inv = head_inv.step(ctx_inv, prev, st_inv)
        logits_pri, st_pri = head_pri.step(ctx_pri, prev, st_pri)
        lp_inv = F.log_softmax(logits_inv, dim=-1)
        lp_pri = F.log_softmax(logits_pri, dim=-1)
        z = lp_inv - lp_pri
        z[lp_inv < clip] = CLIPPED_Z
        probs = z.softmax(dim=-1)
        if t == 0:
            empty = z[0, end].item()
            probs[:, end] = 0.0
            probs /= probs.sum(dim=-1, keepdim=True)
        if t == max_len:
            tok = torch.full((n, 1), end, dtype=torch.long, device=device)
        else:
            tok = torch.multinomial(probs, 1, generator=generator)
        running += z.gather(1, tok).squeeze(1)
        picked = {
            "z": z.gather(1, tok).squeeze(1),
            "log_p_inverse": lp_inv.gather(1, tok).squeeze(1),
            "log_p_prior": lp_pri.gather(1, tok).squeeze(1),
            "sampling_prob": probs.gather(1, tok).squeeze(1),
        }
        for key, values in picked.items():
            for i in range(n):
                if not done[i]:
                    records[i][key].append(values[i].item())
                    items += 1
        for i in range(n):
            if not done[i]:
                a = tok[i].item()
                items += 1
                if a == end:
                    done[i] = True
                    final[i] = running[i].item() + len(traj[i]) * math.log(gamma)
                    items += 1
                else:
                    traj[i].append(a)
        prev = tok
    best = max(range(n), key=final.__getitem__)
    if empty > final[best] or max_len == 0:
        return ReferencePlan([], empty, traj, final, empty, items)
    return ReferencePlan(traj[best], final[best], traj, final, empty, items)


# ----------------------------------------------------------------------------------- floor


class BareFloor(nn.Module):
    """Two LSTMCells + two output layers + log-softmax + sampling: the least an eager loop over
    positions does (contexts fixed, no END bookkeeping, no scores kept)."""

    def __init__(self, hidden: int = 64, n_tokens: int = N_ACTIONS + 1):
        super().__init__()
        self.cells = nn.ModuleList([nn.LSTMCell(hidden, hidden) for _ in range(2)])
        self.outs = nn.ModuleList([nn.Linear(hidden, n_tokens) for _ in range(2)])
        self.embed = nn.ModuleList([nn.Embedding(n_tokens, hidden) for _ in range(2)])

    @torch.no_grad()
    def forward(self, n: int, positions: int, generator: torch.Generator) -> Tensor:
        device = self.outs[0].weight.device
        hidden = self.cells[0].hidden_size
        states = [(torch.zeros(n, hidden, device=device),) * 2 for _ in range(2)]
        tok = torch.full((n,), N_ACTIONS, dtype=torch.long, device=device)
        for _ in range(positions):
            lps = []
            for j in range(2):
                states[j] = self.cells[j](self.embed[j](tok), states[j])
                lps.append(F.log_softmax(self.outs[j](states[j][0]), dim=-1))
            tok = torch.multinomial((lps[0] - lps[1]).softmax(-1), 1, generator=generator)[:, 0]
        return tok


# ----------------------------------------------------------------------------------- checks


def _padded(seqs: list[list[int]], width: int, device: torch.device) -> tuple[Tensor, Tensor]:
    acts = torch.full((len(seqs), width), -1, dtype=torch.long)
    for r, s in enumerate(seqs):
        acts[r, : len(s)] = torch.tensor(s, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    return acts.to(device), lengths.to(device)


def check_reference(
    model: GlamorModel, obs: Tensor, goal: Tensor, ref: ReferencePlan, max_len: int
) -> float:
    """Valid candidates, and the reference's accumulated scores equal Eq. 8 computed by
    `planner.score` (teacher forcing, an independent path). Returns the largest difference."""
    for s in ref.cand_actions:
        assert 1 <= len(s) <= max_len, "a sampled candidate holds 1..max_len actions"
        assert all(0 <= a < model.n_actions for a in s)
    seqs = ref.cand_actions + [[]]
    claimed = torch.tensor(ref.cand_score + [ref.empty_score], dtype=torch.float64)
    acts, lengths = _padded(seqs, max(max_len, 1), obs.device)
    n = len(seqs)
    eq8 = score(
        model, obs.expand(n, *obs.shape[1:]), goal.expand(n, *goal.shape[1:]),
        acts, lengths, GAMMA, CLIP,
    ).double().cpu()  # fmt: skip
    diff = float((eq8 - claimed).abs().max())
    assert diff <= SCORE_TOL, f"reference score differs from planner.score by {diff:.2e}"
    return diff


def check_batched(model: GlamorModel, obs: Tensor, goal: Tensor, result: Plan) -> float:
    """Valid plan, and its score equals planner.score's teacher-forced Eq. 8."""
    k = int(result.length[0])
    acts = result.actions[0]
    assert 0 <= k <= HORIZON, f"batched plan length {k} outside 0..{HORIZON}"
    assert bool(((acts[:k] >= 0) & (acts[:k] < model.n_actions)).all()), "batched: bad action"
    assert bool((acts[k:] == -1).all()), "batched plan: actions past its length"
    eq8 = score(model, obs, goal, result.actions, result.length, GAMMA, CLIP)
    diff = float((eq8 - result.score).abs().max())
    assert diff <= SCORE_TOL, f"batched plan score differs from planner.score by {diff:.2e}"
    return diff


def check_same_law(res_b: Plan, ref: ReferencePlan, n: int) -> str:
    """The two samplers draw candidates from the same law: mean length and mean score agree
    within 5 standard errors (plus a small slack)."""
    len_b, sc_b = res_b.candidate_length[0].double().cpu(), res_b.candidate_score[0].double().cpu()
    len_r = torch.tensor([len(s) for s in ref.cand_actions], dtype=torch.float64)
    sc_r = torch.tensor(ref.cand_score, dtype=torch.float64)
    for name, a, b, slack in (("length", len_r, len_b, 1.0), ("score", sc_r, sc_b, 0.1)):
        se = float(torch.cat([a, b]).std()) * math.sqrt(2.0 / n)
        gap = abs(float(a.mean() - b.mean()))
        assert gap <= 5.0 * se + slack, f"mean candidate {name} differs: {a.mean()} vs {b.mean()}"
    return f"{float(len_r.mean()):.1f} / {float(len_b.mean()):.1f}"


# ----------------------------------------------------------------------------------- bench


def make_case(encoder: str, device: torch.device, seed: int) -> tuple[GlamorModel, Tensor, Tensor]:
    torch.manual_seed(seed)
    if encoder == "mlp":
        obs_shape, goal_shape = (1, 9, 9), (1, 9, 9)
    else:
        obs_shape, goal_shape = (4, 104, 80), (1, 104, 80)
    model = GlamorModel(
        obs_shape, goal_shape, N_ACTIONS, encoder=encoder, state_size=512, lstm_hidden=64
    )
    model = model.to(device).eval()
    g = torch.Generator().manual_seed(seed + 1)
    obs = torch.randint(0, 256, (1, *obs_shape), generator=g, dtype=torch.uint8).to(device)
    goal = torch.randint(0, 256, (1, *goal_shape), generator=g, dtype=torch.uint8).to(device)
    return model, obs, goal


def run_row(
    label: str,
    model: GlamorModel,
    obs: Tensor,
    goal: Tensor,
    n: int,
    device: torch.device,
    repeats: int,
    seed: int,
) -> dict[str, float | int | str]:
    settings = PlannerSettings(n_candidates=n, gamma=GAMMA, clip=CLIP)
    gen = torch.Generator(device=device).manual_seed(seed)
    floor = BareFloor().to(device)

    def batched(compact: bool):
        return lambda: plan(
            model, obs, goal, HORIZON, settings, gen, return_candidates=True, compact=compact
        )

    fns = [
        batched(True),
        batched(False),
        lambda: authors_plan(model, obs, goal, HORIZON, n, GAMMA, CLIP, gen),
        lambda: authors_plan(model, obs, goal, HORIZON, n, GAMMA, CLIP, gen, paper_sizes=False),
        lambda: floor(n, HORIZON + 1, gen),
    ]
    (t_c, t_m, t_a, t_o, t_f), (res_c, res_m, res_a, res_o, _) = time_interleaved(
        fns, device, repeats, stat="min"
    )
    # correctness (untimed): valid plans, Eq. 8 scores, the same sampling law
    diff = max(
        check_batched(model, obs, goal, res_c),
        check_batched(model, obs, goal, res_m),
        check_reference(model, obs, goal, res_a, HORIZON),
        check_reference(model, obs, goal, res_o, HORIZON),
    )
    lens = check_same_law(res_c, res_a, n)
    check_same_law(res_m, res_a, n)
    return {
        "case": label,
        "N": n,
        "compact_ms": t_c * 1e3,
        "masked_ms": t_m * 1e3,
        "authors_ms": t_a * 1e3,
        "authors_ours_ms": t_o * 1e3,
        "ratio_ours_step": t_o / t_c,
        "floor_ms": t_f * 1e3,
        "ratio": t_a / t_c,
        "ratio_masked": t_a / t_m,
        "vs_floor": t_f / t_c,
        "items": res_a.item_calls,
        "len": lens,
        "diff": diff,
    }


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--impala", action="store_true", help="add an IMPALA-encoder row (N=200)")
    args = parser.parse_args()
    device = setup(args)
    ns = [20, 50] if args.quick else [50, 200, 1000]
    repeats = min(args.repeats, 2) if args.quick else args.repeats
    print(
        f"Eq. 8 planner: plan() vs the authors' algorithm vs a bare eager floor | T = {HORIZON}, "
        f"{N_ACTIONS} actions, gamma {GAMMA}, clip {CLIP}, guided, termination='early'\n"
        "model UNTRAINED (state 512, LSTM 64): z is near 0, END is drawn ~1/19 a position, so\n"
        "candidates average ~18 actions and the longest of N reaches T. ms = best of the repeats."
    )
    rows = []
    model, obs, goal = make_case("mlp", device, args.seed)
    for n in ns:
        rows.append(run_row("mlp 1x9x9", model, obs, goal, n, device, repeats, args.seed + n))
    if args.impala:
        model, obs, goal = make_case("impala", device, args.seed)
        rows.append(run_row("impala 4x104x80", model, obs, goal, 200, device, repeats, args.seed))

    headers = [
        "case", "N", "plan ms", "plan masked ms", "authors' ms", "authors' loop, our step ms",
        "floor ms", "vs authors'", "vs authors' loop, our step", "masked vs authors'",
        "vs floor", "authors' .item()", "mean len authors/plan", "max |score err|",
    ]  # fmt: skip
    table = [
        [
            r["case"],
            r["N"],
            f"{r['compact_ms']:.1f}",
            f"{r['masked_ms']:.1f}",
            f"{r['authors_ms']:.1f}",
            f"{r['authors_ours_ms']:.1f}",
            f"{r['floor_ms']:.1f}",
            f"{r['ratio']:.1f}x",
            f"{r['ratio_ours_step']:.1f}x",
            f"{r['ratio_masked']:.1f}x",
            f"{r['vs_floor']:.2f}x",
            r["items"],
            r["len"],
            f"{r['diff']:.1e}",
        ]  # fmt: skip
        for r in rows
    ]
    print_table(headers, table)
    print(
        "plan: plan() as it runs on this device by default (compact on CPU); plan masked: "
        "compact=False, the fixed-shape\nsync-free loop a GPU runs; vs floor > 1: plan() is "
        "faster than the bare two-LSTMCell loop; authors' .item(): host reads per plan\n"
        "(each one a device sync on a GPU); max |score err|: largest gap between accumulated "
        "scores and planner.score (Eq. 8 by teacher forcing)."
    )
    for n, target in TARGETS.items():
        row = next((r for r in rows if r["case"].startswith("mlp") and r["N"] == n), None)
        if row is not None:
            ratio = float(row["ratio"])
            print(verdict(f"target >= {target:.0f}x at N={n}", ratio >= target, f"{ratio:.1f}x"))


if __name__ == "__main__":
    main()
