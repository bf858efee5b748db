"""What the PyTorch peers of `lathe bench vision` share: the options, the tuning PEERS.md asks for, and the timed loop
that prints the same JSON fields as the C# bench (median step, images/s, peak RSS)."""
import argparse
import ctypes
import json
import resource
import statistics
import time

import torch


def set_openblas_threads(n):
    """torch.set_num_threads does not reach Debian's OpenBLAS (pthread build)."""
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass


def setup():
    """Parses --threads/--steps/--warmup/--batch-size and tunes PyTorch as ../shared/PEERS.md says."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    set_openblas_threads(a.threads)
    torch.set_flush_denormal(True)   # PyTorch's CPU tuning guide; AdamW's tiny moments otherwise go denormal
    torch.manual_seed(1)
    return a


def time_steps(name, a, model, step):
    """Runs step() (one training step, returning the loss) warmup + steps times and prints the JSON line."""
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"bench": "vision", "model": name, "peer": "pytorch " + torch.__version__, "threads": a.threads,
                      "batch": a.batch_size, "steps": a.steps, "params_m": round(params / 1e6, 4),
                      "step_ms": round(median * 1e3, 4), "images_per_s": round(a.batch_size / median, 4),
                      "peak_rss_mb": round(rss, 4), "loss": round(loss.item(), 5)}))
