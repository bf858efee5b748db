#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench distill`: logit distillation (Hinton et al. 2015) of a student GPT from a frozen
teacher GPT, both the pre-LN GPT-2 of scripts/bench/train-torch.py (imported, not copied), random-initialised from
the presets, on random tokens; one full training step of the student per batch with the teacher's forward inside it;
prints the same JSON line last, with "peer".

The step, as Lathe's LogitDistillationObjective computes it:
  teacher in eval mode under torch.no_grad(): logits_t (B·T, V)
  student: logits_s (B·T, V)
  loss = α·T²·KL(softmax(logits_t/T) ‖ softmax(logits_s/T)) + (1 − α)·CE(logits_s, targets)
  with the KL from F.kl_div(log_softmax(logits_s/T), log_softmax(logits_t/T), log_target=True, reduction="batchmean"),
  i.e. the per-token KL summed over the vocabulary and averaged over the B·T target tokens, as the CE is;
  then backward, global-norm clip at 1 and AdamW (lr 3e-4, β = (0.9, 0.95), weight decay 0.1 on matrices), as
  `lathe bench train` and its peer do.
Both models use the student preset's vocabulary (the presets' differ: S 4096, M 8192), as the Lathe bench does.

Tokens counted: the B·T tokens of the student's batch per step (the teacher reads the same tokens).
teacher_forward_ms: the teacher's forward alone on a batch of the same shape under no_grad, timed in a loop of its own
after the training steps (median), the same way the Lathe bench measures it; it is part of step_ms, not added to it.

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/distill-torch.py --teacher-preset M --student-preset S --threads 2
"""
import argparse
import importlib.util
import json
import os
import resource
import statistics
import time

import torch
import torch.nn.functional as F

spec = importlib.util.spec_from_file_location("train_torch", os.path.join(os.path.dirname(os.path.abspath(__file__)), "train-torch.py"))
train_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_torch)


def logits(model, idx):
    """(B·T, V) logits of the tied lm_head: train-torch.py's GPT.forward up to the loss."""
    x = model.wte(idx) + model.wpe(torch.arange(idx.shape[1]))
    for b in model.h:
        x = b(x)
    out = model.ln_f(x) @ model.wte.weight.T
    return out.reshape(-1, out.shape[-1])


def distillation_loss(student_logits, teacher_logits, targets, alpha, temperature):
    kd = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1), F.log_softmax(teacher_logits / temperature, dim=-1),
                  log_target=True, reduction="batchmean") * temperature * temperature
    if alpha == 1:
        return kd
    return alpha * kd + (1 - alpha) * F.cross_entropy(student_logits, targets)


def build(preset, vocab):
    p = train_torch.PRESETS[preset]
    return train_torch.GPT(vocab, p["ctx"], p["C"], p["L"], p["H"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher-preset", default="M", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--student-preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.threads <= 0 or a.steps <= 0 or a.warmup < 0 or a.batch <= 0 or a.block <= 0:
        ap.error("--threads, --steps, --batch and --block must be positive, --warmup >= 0")
    if not (0 <= a.alpha <= 1) or not (a.temperature > 0):
        ap.error("--alpha must be in [0, 1] and --temperature positive")
    for name in (a.teacher_preset, a.student_preset):
        if a.block > train_torch.PRESETS[name]["ctx"]:
            ap.error(f"--block {a.block} exceeds preset {name}'s context of {train_torch.PRESETS[name]['ctx']}")
    torch.set_num_threads(a.threads)
    train_torch.set_openblas_threads(a.threads)
    torch.set_flush_denormal(True)   # as train-torch.py does (AdamW's tiny moments turn denormal otherwise)
    torch.manual_seed(a.seed)
    vocab = train_torch.PRESETS[a.student_preset]["vocab"]
    student = build(a.student_preset, vocab)
    teacher = build(a.teacher_preset, vocab)
    teacher.eval()
    for q in teacher.parameters():
        q.requires_grad_(False)
    decay = [q for n, q in student.named_parameters() if q.dim() == 2 and "wte" not in n and "wpe" not in n]
    rest = [q for n, q in student.named_parameters() if not (q.dim() == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    B, T = a.batch, a.block
    times = []
    for i in range(a.warmup + a.steps):
        idx = torch.randint(0, vocab, (B, T + 1))
        inputs, targets = idx[:, :-1], idx[:, 1:].reshape(-1)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        with torch.no_grad():
            teacher_logits = logits(teacher, inputs)
        loss = distillation_loss(logits(student, inputs), teacher_logits, targets, a.alpha, a.temperature)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    teacher_times = []
    with torch.no_grad():
        for i in range(a.steps):
            idx = torch.randint(0, vocab, (B, T))
            t0 = time.perf_counter()
            logits(teacher, idx)
            teacher_times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    tps = B * T / step
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    count = lambda m: sum(q.numel() for q in m.parameters()) / 1e6
    print(json.dumps({"bench": "distill", "peer": "pytorch " + torch.__version__, "teacher_preset": a.teacher_preset,
                      "student_preset": a.student_preset, "threads": a.threads, "batch": B, "block": T, "steps": a.steps,
                      "vocab": vocab, "vocab_from": "student preset", "alpha": a.alpha, "temperature": a.temperature,
                      "teacher_params_m": round(count(teacher), 4), "student_params_m": round(count(student), 4),
                      "step_ms": round(step * 1e3, 4), "tokens_per_s": round(tps, 4),
                      "teacher_forward_ms": round(statistics.median(teacher_times) * 1e3, 4),
                      "peak_rss_mb": round(rss, 4)}))


if __name__ == "__main__":
    main()
