#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench align`: the GPT-2 of scripts/bench/train-torch.py (same presets), full fine-tuning,
random token ids, the same shapes and the same token count; prints the same JSON line last.

Methods, written by hand as TRL defines them (TRL itself is not installable here):
  dpo     DPOTrainer's sigmoid loss −log σ(β·((π_c − ref_c) − (π_r − ref_r))), β = 0.1, over summed response
          log-probabilities; chosen and rejected rows in one concatenated forward (TRL's concatenated_forward); the
          reference's log-probabilities precomputed once under no_grad before training (precompute_ref_log_probs) —
          that pass is timed and reported on its own, never inside the step.
  reward  RewardTrainer's Bradley–Terry loss −log σ(r_c − r_r) with a scalar `score` head (Linear(C, 1, bias=False), as
          AutoModelForSequenceClassification) on the final hidden state of each row's last token. The head starts at zero,
          as Lathe's RewardModel does.
  ppo     one optimisation phase of TRL's PPO over R rollouts (its last defaults: KL coefficient 0.05 with the k1 estimator,
          clip 0.2, value clip 0.2, vf_coef 0.1, γ = 1, λ = 0.95, 4 PPO epochs, minibatches of 4 rollouts, lr 1e-5): the
          reward model's scores (its own GPT trunk and a score head drawn N(0, 0.02²)); under no_grad, in one forward of all
          R rollouts (TRL's local_rollout_forward_batch_size ≥ R), the policy's log-probabilities, entropy and values
          (AutoModelForCausalLMWithValueHead's v_head: Linear(C, 1) on the shared trunk, zero-initialised as Lathe's) and
          the frozen reference's (a copy of the initial policy) log-probabilities; per-token rewards −β·KL plus the score
          on the last response token; GAE; whitened advantages; then 4 epochs over shuffled minibatches of the clipped
          policy loss + vf_coef × the clipped value loss (½·max of the squared errors), each with backward, clipping and
          AdamW. Generation of the rollouts is timed apart (a KV-cached sampler: the R prompts prefilled together, then
          one token per step for all R, temperature 1, no stop token) and is not in the phase.
The lm_head runs only over the positions that predict response tokens (prompt positions are never scored), as Lathe
does and as scripts/bench/eval-torch.py does: the peer at its best, not TRL's full-vocabulary logits at every position.
Optimiser: AdamW with Hugging Face TrainingArguments' defaults (β = (0.9, 0.999), eps 1e-8, weight decay 0), gradient
norm clipped at 1; learning rate 1e-6 (DPOConfig) or 1e-5 (RewardConfig).

Tokens counted: every token of every sequence a step processes — prompt + response of the chosen and the rejected row of
each pair, 2·pairs·(prompt + response) per step; for PPO the rollouts' tokens, R·(prompt + response) per phase, however
many passes the phase makes over them. Rows are exactly prompt + response long (no padding).

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/align-torch.py --method dpo --preset S --threads 2
"""
import argparse
import copy
import importlib.util
import json
import math
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

spec = importlib.util.spec_from_file_location("train_torch", os.path.join(os.path.dirname(os.path.abspath(__file__)), "train-torch.py"))
train_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_torch)


def hidden(model, idx):
    """Final hidden states (B, T, C) after ln_f: what the lm_head, a score head or a value head reads."""
    x = model.wte(idx) + model.wpe(torch.arange(idx.shape[1]))
    for b in model.h:
        x = b(x)
    return model.ln_f(x)


def response_logps(model, idx, prompt):
    """Σ log π(y_t | x, y_<t) over each row's response tokens (B): the lm_head only on the positions that predict them."""
    h = hidden(model, idx)[:, prompt - 1:-1]                       # (B, R, C)
    logits = h @ model.wte.weight.T                                # (B, R, V)
    targets = idx[:, prompt:]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return -nll.view(targets.shape).sum(-1)


def response_token_logps(model, idx, prompt):
    """log π(y_t | x, y_<t) per response token (B, R), the lm_head only on the positions that predict them, and those
    positions' hidden states (B, R, C) — what a value head reads."""
    h = hidden(model, idx)[:, prompt - 1:-1]
    logits = h @ model.wte.weight.T
    targets = idx[:, prompt:]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return -nll.view(targets.shape), h


def whiten(x, shift_mean=True):
    """TRL's masked_whiten with every position unmasked (the rollouts are all full length): unbiased variance."""
    mean, var = x.mean(), x.var()
    w = (x - mean) * torch.rsqrt(var + 1e-8)
    return w if shift_mean else w + mean


KL_COEF, CLIP, VALUE_CLIP, VF_COEF, GAMMA, LAMBDA, PPO_EPOCHS = 0.05, 0.2, 0.2, 0.1, 1.0, 0.95, 4


def ppo_phase(policy, v_head, ref, reward, score, opt, params, rows, prompt, minibatch, gen):
    """One PPO optimisation phase over rollouts `rows` (R, prompt + response): scores, no-grad rollout forwards, GAE,
    then PPO_EPOCHS passes over shuffled minibatches."""
    R = rows.shape[0]
    targets = rows[:, prompt:]
    with torch.no_grad():
        scores = score(hidden(reward, rows)[:, -1]).squeeze(-1)
        h = hidden(policy, rows)[:, prompt - 1:-1]
        logits = h @ policy.wte.weight.T
        all_logps = torch.log_softmax(logits, dim=-1)
        logps = all_logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        entropy = -(all_logps.exp() * all_logps).sum(-1).mean()   # logged by TRL, as objective/entropy
        values = v_head(h).squeeze(-1)
        ref_logps, _ = response_token_logps(ref, rows, prompt)
        kl = logps - ref_logps                                     # k1
        rewards = -KL_COEF * kl
        rewards[:, -1] += scores                                   # every response ends at its last position
        last, advs = 0.0, []
        for t in reversed(range(targets.shape[1])):                # TRL's GAE loop
            next_values = values[:, t + 1] if t + 1 < targets.shape[1] else 0.0
            delta = rewards[:, t] + GAMMA * next_values - values[:, t]
            last = delta + GAMMA * LAMBDA * last
            advs.append(last)
        advantages = torch.stack(advs[::-1], dim=1)
        returns = advantages + values
        advantages = whiten(advantages)
    for _ in range(PPO_EPOCHS):
        order = torch.randperm(R, generator=gen)
        for start in range(0, R, minibatch):
            i = order[start:start + minibatch]
            opt.zero_grad(set_to_none=False)
            new_logps, h = response_token_logps(policy, rows[i], prompt)
            vpred = v_head(h).squeeze(-1)
            vclipped = torch.clamp(vpred, values[i] - VALUE_CLIP, values[i] + VALUE_CLIP)
            vf_loss = 0.5 * torch.max((vpred - returns[i]) ** 2, (vclipped - returns[i]) ** 2).mean()
            ratio = torch.exp(new_logps - logps[i])
            pg_loss = torch.max(-advantages[i] * ratio, -advantages[i] * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)).mean()
            loss = pg_loss + VF_COEF * vf_loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
    return kl.sum(-1).mean().item(), entropy.item()


def cached_block(b, x, cache):
    """train-torch.py's Block over new positions x (B, t, C) attending to the cached keys and values too."""
    B, t, C = x.shape
    q, k, v = b.c_attn(b.ln_1(x)).split(C, dim=2)
    q, k, v = (u.view(B, t, b.H, C // b.H).transpose(1, 2) for u in (q, k, v))
    if cache is not None:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(C // b.H)
    if t > 1:   # the prefill: causal within the new positions (nothing is cached before them)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
    y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, t, C)
    x = x + b.c_proj(y)
    return x + b.mlp_proj(F.gelu(b.c_fc(b.ln_2(x)), approximate="tanh")), (k, v)


@torch.no_grad()
def generate(model, prompts, new_tokens, gen):
    """Rollouts: R prompts prefilled together, then one sampled token per step for all R (temperature 1, no stop)."""
    x = model.wte(prompts) + model.wpe(torch.arange(prompts.shape[1]))
    caches = [None] * len(model.h)
    for j, b in enumerate(model.h):
        x, caches[j] = cached_block(b, x, None)
    out = []
    for step in range(new_tokens):
        logits = model.ln_f(x[:, -1]) @ model.wte.weight.T
        token = torch.multinomial(logits.softmax(-1), 1, generator=gen)
        out.append(token)
        if step + 1 == new_tokens:
            break
        x = model.wte(token) + model.wpe(torch.tensor([prompts.shape[1] + step]))
        for j, b in enumerate(model.h):
            x, caches[j] = cached_block(b, x, caches[j])
    return torch.cat(out, dim=1)


def synthetic_pairs(n, prompt, response, vocab, gen):
    """n pairs as (2n, prompt + response) rows, chosen in even rows and rejected in odd, sharing their prompt."""
    p = torch.randint(0, vocab, (n, 1, prompt), generator=gen).expand(n, 2, prompt)
    r = torch.randint(0, vocab, (n, 2, response), generator=gen)
    return torch.cat([p, r], dim=2).reshape(2 * n, prompt + response)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="dpo", choices=["dpo", "reward", "ppo"])
    ap.add_argument("--preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--minibatch", type=int, default=4)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--response-tokens", type=int, default=128)
    a = ap.parse_args()
    if min(a.threads, a.steps, a.pairs, a.rollouts, a.prompt_tokens, a.response_tokens) <= 0 or a.warmup < 0:
        raise SystemExit("align-torch.py: --threads, --steps, --pairs, --rollouts, --prompt-tokens and --response-tokens must be positive, --warmup ≥ 0")
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)   # see train-torch.py: several-fold slower on Intel without it
    torch.manual_seed(1)
    p = train_torch.PRESETS[a.preset]
    P, R, n = a.prompt_tokens, a.response_tokens, a.pairs
    T = P + R
    if T > p["ctx"]:
        raise SystemExit(f"align-torch.py: --prompt-tokens {P} + --response-tokens {R} exceed preset {a.preset}'s context of {p['ctx']}")
    model = train_torch.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    total = a.warmup + a.steps
    if a.method == "ppo":
        return main_ppo(a, p, model, total)
    gen = torch.Generator().manual_seed(42)
    data = [synthetic_pairs(n, P, R, p["vocab"], gen) for _ in range(total)]   # distinct pairs for every step

    ref_tps = ref_ms = None
    params = list(model.parameters())
    if a.method == "dpo":
        beta, lr = 0.1, 1e-6
        with torch.no_grad():
            warm = time.perf_counter()
            while True:   # untimed batches for 2 s (at least one), as the Lathe side does
                response_logps(model, data[0], P)
                if time.perf_counter() - warm >= 2:
                    break
            t0 = time.perf_counter()
            ref = [response_logps(model, rows, P) for rows in data]
            seconds = time.perf_counter() - t0
        ref_tps, ref_ms = 2 * n * T * total / seconds, seconds * 1e3 / total
    else:
        lr = 1e-5
        score = nn.Linear(p["C"], 1, bias=False)
        nn.init.zeros_(score.weight)
        params.append(score.weight)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    times, first_loss = [], None
    for i in range(total):
        rows = data[i]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        if a.method == "dpo":
            logps = response_logps(model, rows, P)
            logits = (logps[0::2] - ref[i][0::2]) - (logps[1::2] - ref[i][1::2])
            loss = -F.logsigmoid(beta * logits).mean()
        else:
            rewards = score(hidden(model, rows)[:, -1]).squeeze(-1)   # the last token of every row (no padding)
            loss = -F.logsigmoid(rewards[0::2] - rewards[1::2]).mean()
        if first_loss is None:
            first_loss = loss.item()   # ln 2: the policy is its own reference (DPO), the score head is zero (reward)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = 2 * n * T
    print(json.dumps({"bench": "align", "peer": "pytorch " + torch.__version__, "method": a.method, "preset": a.preset, "threads": a.threads,
                      "batch": n, "rows": 2 * n, "prompt_tokens": P, "response_tokens": R, "tokens_per_step": tokens,
                      "tokens_counted": "prompt and response tokens of every chosen and rejected row", "steps": a.steps,
                      "trainable_params": sum(q.numel() for q in params), "step_ms": round(step * 1e3, 4),
                      "tokens_per_s": round(tokens / step, 4),
                      "reference_tokens_per_s": None if ref_tps is None else round(ref_tps, 4),
                      "reference_ms_per_batch": None if ref_ms is None else round(ref_ms, 4), "first_loss": round(first_loss, 6),
                      "peak_rss_mb": round(rss, 4)}))


def main_ppo(a, p, policy, total):
    P, Rl, R = a.prompt_tokens, a.response_tokens, a.rollouts
    T = P + Rl
    if not 1 <= a.minibatch <= R:
        raise SystemExit(f"align-torch.py: --minibatch {a.minibatch} must be between 1 and the {R} rollouts")
    ref = copy.deepcopy(policy)
    for q in ref.parameters():
        q.requires_grad_(False)
    reward = train_torch.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    score = nn.Linear(p["C"], 1, bias=False)
    nn.init.normal_(score.weight, std=0.02)
    for q in list(reward.parameters()) + list(score.parameters()):
        q.requires_grad_(False)
    v_head = nn.Linear(p["C"], 1)
    nn.init.zeros_(v_head.weight)
    nn.init.zeros_(v_head.bias)
    params = list(policy.parameters()) + list(v_head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    gen = torch.Generator().manual_seed(42)

    prompts = lambda: torch.randint(0, p["vocab"], (R, P), generator=gen)
    warm = time.perf_counter()
    while True:   # short untimed runs for 2 s (at least one), as the Lathe side does
        generate(policy, prompts(), min(Rl, 8), gen)
        if time.perf_counter() - warm >= 2:
            break
    t0 = time.perf_counter()
    generate(policy, prompts(), Rl, gen)
    gen_seconds = time.perf_counter() - t0

    data = [torch.randint(0, p["vocab"], (R, T), generator=gen) for _ in range(total)]   # fresh rollouts every phase
    times, first_kl = [], None
    for i in range(total):
        t0 = time.perf_counter()
        kl, _ = ppo_phase(policy, v_head, ref, reward, score, opt, params, data[i], P, a.minibatch, gen)
        if first_kl is None:
            first_kl = kl   # 0: the policy starts as its reference
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = R * T
    updates = PPO_EPOCHS * ((R + a.minibatch - 1) // a.minibatch)
    print(json.dumps({"bench": "align", "peer": "pytorch " + torch.__version__, "method": "ppo", "preset": a.preset, "threads": a.threads,
                      "batch": R, "rows": R, "prompt_tokens": P, "response_tokens": Rl, "tokens_per_step": tokens,
                      "tokens_counted": "prompt and response tokens of every rollout, once per phase", "steps": a.steps,
                      "ppo_epochs": PPO_EPOCHS, "minibatch": a.minibatch, "optimiser_steps_per_phase": updates,
                      "trainable_params": sum(q.numel() for q in params), "step_ms": round(step * 1e3, 4),
                      "tokens_per_s": round(tokens / step, 4), "generation_tokens_per_s": round(R * Rl / gen_seconds, 4),
                      "generation_ms": round(gen_seconds * 1e3, 4), "first_kl": round(first_kl, 6), "peak_rss_mb": round(rss, 4)}))


if __name__ == "__main__":
    main()
