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
The lm_head runs only over the positions that predict response tokens (prompt positions are never scored), as Lathe
does and as scripts/bench/eval-torch.py does: the peer at its best, not TRL's full-vocabulary logits at every position.
Optimiser: AdamW with Hugging Face TrainingArguments' defaults (β = (0.9, 0.999), eps 1e-8, weight decay 0), gradient
norm clipped at 1; learning rate 1e-6 (DPOConfig) or 1e-5 (RewardConfig).

Tokens counted: every token of every sequence a step processes — prompt + response of the chosen and the rejected row of
each pair, 2·pairs·(prompt + response) per step. Rows are exactly prompt + response long (no padding).

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/align-torch.py --method dpo --preset S --threads 2
"""
import argparse
import importlib.util
import json
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


def synthetic_pairs(n, prompt, response, vocab, gen):
    """n pairs as (2n, prompt + response) rows, chosen in even rows and rejected in odd, sharing their prompt."""
    p = torch.randint(0, vocab, (n, 1, prompt), generator=gen).expand(n, 2, prompt)
    r = torch.randint(0, vocab, (n, 2, response), generator=gen)
    return torch.cat([p, r], dim=2).reshape(2 * n, prompt + response)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="dpo", choices=["dpo", "reward"])
    ap.add_argument("--preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--response-tokens", type=int, default=128)
    a = ap.parse_args()
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
    gen = torch.Generator().manual_seed(42)
    data = [synthetic_pairs(n, P, R, p["vocab"], gen) for _ in range(total)]   # distinct pairs for every step

    ref_tps = ref_ms = None
    params = list(model.parameters())
    if a.method == "dpo":
        beta, lr = 0.1, 1e-6
        with torch.no_grad():
            response_logps(model, data[0], P)   # one untimed batch, as the Lathe side does
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

    times = []
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
                      "reference_ms_per_batch": None if ref_ms is None else round(ref_ms, 4), "peak_rss_mb": round(rss, 4)}))


if __name__ == "__main__":
    main()
