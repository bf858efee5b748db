#!/usr/bin/env python3
"""The PyTorch DistributedDataParallel peer of `mpirun -np K ./lathe bench train` (issue #18): the model, shapes and
full training step of scripts/bench/train-torch.py (imported from it, not copied) — forward, backward, global-norm
clip, AdamW — data-parallel over K ranks with torch.distributed's gloo backend and DistributedDataParallel (default
buckets: 25 MB, first bucket 1 MB; --bucket-mb to change). --zero swaps AdamW for ZeroRedundancyOptimizer(AdamW)
(ZeRO stage 1: each rank keeps the AdamW moments of its shard of the parameters, updates that shard, then the shards
are broadcast to every rank; parameters_as_bucket_view=True, its faster mode).

Launched by mpirun, so it uses the same launcher and core binding as Lathe's ranks: the rank and world size come from
OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE (else RANK / WORLD_SIZE, else one process); the ranks meet at
tcp://127.0.0.1:--port. Each rank draws its own random tokens (seeded by its rank), batch B per rank.

Timing: --warmup steps untimed, then --steps timed steps; a step's time is the max over ranks of its wall time
(all-reduce MAX), and step_ms is the median over steps. tokens_per_s counts all ranks: ranks·B·T / step time.
peak_rss_mb is the max over ranks of each process's peak RSS.

comm_wait_ms_per_step — what it measures: the time a rank is blocked waiting for communication in a step, i.e. the
part of the communication NOT hidden behind computation. The gradient all-reduce goes through a DDP comm hook that
does exactly what DDP's default does (divide the bucket by K, async all_reduce) and timestamps the moment each bucket
is handed over; DDP's backward returns only when every bucket's all-reduce has finished, so
    wait = (loss.backward() returns) − (the last bucket became ready, i.e. the backward's computation ended)
plus, with --zero, the whole of ZeroRedundancyOptimizer's parameter broadcast (_sync_params, which blocks and overlaps
nothing). Per step: the mean over ranks; reported: the median over the timed steps. Limits: (1) it includes waiting for
a slower rank (skew), which is not communication proper; (2) it does NOT count communication that steals CPU time from
the backward while overlapped: gloo's worker threads run on the same core as the rank's compute thread under
--bind-to core with 1 thread per rank, so "overlapped" all-reduces slow the backward down instead of being free — that
cost shows up in step_ms, not in this figure; (3) the final copy of the averaged buckets into .grad falls inside it.
A second, independent figure goes to stderr (--probe N pairs of untimed probe steps after the timed ones: the same
batch's backward with DDP against under ddp.no_sync(), ranks aligned by a barrier before each backward; the
difference is the whole cost communication adds to the backward, contention included). --builtin times the steps
with DDP's own C++ all-reduce instead of the Python hook (then comm_wait is the probe figure), to check the hook
costs nothing (measured 2026-12-05: S 5,864 tok/s with the hook, 5,629 without; M 2,073 and 2,076 — noise). The probe
figure agrees with the hook's on a quiet machine (S: 26 against 23 ms) but swings, even below zero, under load.

What the figure is made of, here: after the first step DDP rebuilds its buckets in gradient-ready order, and the tied
wte's gradient is finished last (the embedding lookup's backward comes after the lm_head's), so the last bucket holds
wte and most of the model — the stderr line names them: S = [1.0, 15.3] MB, M = [2.25, 27.1, 23.7] MB. That last
all-reduce cannot overlap anything, and it is nearly all of comm_wait. --bucket-mb 4 lowers S's wait (23 → 15 ms) but
not its step time, and --bind-to none changes nothing measurable (2 ranks on 2 cores).

--check: before timing, checks that DDP really averages (one batch's DDP gradient equals the mean over ranks of the
local gradients computed under no_sync, and differs from the local one when K > 1); after timing, all-gathers a
checksum of the parameters and asserts every rank holds the same bits.

Rank 0 prints, last, one JSON line with the same keys as Lathe's. Run (2 ranks × 1 thread):
  mpirun --allow-run-as-root -np 2 --bind-to core env OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE \
      /usr/bin/python3 scripts/bench/train-ddp-torch.py --preset S --threads 1
"""
import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

_spec = importlib.util.spec_from_file_location("train_torch", os.path.join(os.path.dirname(os.path.abspath(__file__)), "train-torch.py"))
tt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tt)


def env_int(*names, default):
    for n in names:
        if os.environ.get(n):
            return int(os.environ[n])
    return default


class Clock:
    """Timestamps from the comm hook and ZeRO's parameter broadcast, reset every step."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.last_ready = None  # perf_counter when the last bucket was handed to the all-reduce
        self.in_flight = 0.0  # sum over buckets of (all-reduce done − bucket ready), overlapped or not
        self.zero_sync = 0.0  # ZeroRedundancyOptimizer._sync_params time
        self.buckets = []  # element counts of the buckets, in the order they became ready


def timed_allreduce_hook(clock, bucket):
    """DDP's default all-reduce (divide by K, then sum) with timestamps."""
    t_ready = time.perf_counter()
    clock.last_ready = t_ready
    buf = bucket.buffer()
    clock.buckets.append(buf.numel())
    buf.div_(dist.get_world_size())
    fut = dist.all_reduce(buf, async_op=True).get_future()

    def done(f):
        clock.in_flight += time.perf_counter() - t_ready
        return f.value()[0]

    return fut.then(done)


def make_batch(gen, p):
    idx = torch.randint(0, p["vocab"], (p["B"], p["T"] + 1), generator=gen)
    return idx[:, :-1], idx[:, 1:]


def grads(model):
    return torch.cat([q.grad.reshape(-1) for q in model.parameters()])


def check_averaging(ddp, model, gen, p, rank, world):
    x, y = make_batch(gen, p)
    model.zero_grad(set_to_none=False)
    with ddp.no_sync():
        ddp(x, y).backward()
    local = grads(model).clone()
    mean = local.clone()
    dist.all_reduce(mean)
    mean /= world
    model.zero_grad(set_to_none=False)
    ddp(x, y).backward()
    g = grads(model)
    err = (g - mean).abs().max().item() / mean.abs().max().item()
    differs = (g - local).abs().max().item() / local.abs().max().item()
    ok = err < 1e-5 and (world == 1 or differs > 1e-3)
    print(json.dumps({"check": "ddp-averages", "rank": rank, "rel_err_vs_mean_of_locals": err, "rel_diff_vs_local": differs, "ok": ok}), file=sys.stderr, flush=True)
    model.zero_grad(set_to_none=False)
    if not ok:
        raise SystemExit(f"rank {rank}: DDP's gradient is not the mean of the ranks' gradients (rel err {err:.3g}, vs local {differs:.3g})")


def check_same_params(model, rank, world):
    flat = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    # Bits, not a float sum: view the fp32 values as int32 and fold them into a 64-bit checksum.
    bits = flat.view(torch.int32).to(torch.int64)
    mine = (bits * torch.arange(1, bits.numel() + 1, dtype=torch.int64)).sum().reshape(1)  # wraps around: still exact
    every = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(every, mine)
    same = all(torch.equal(e, every[0]) for e in every)
    if rank == 0:
        print(json.dumps({"check": "same-params", "ranks": world, "checksums": [e.tolist() for e in every], "ok": same}), file=sys.stderr, flush=True)
    if not same:
        raise SystemExit(f"rank {rank}: ranks hold different parameters after training")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="S", choices=sorted(tt.PRESETS))
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--bucket-mb", type=float, default=25.0)
    ap.add_argument("--zero", action="store_true", help="ZeroRedundancyOptimizer(AdamW) instead of AdamW")
    ap.add_argument("--port", type=int, default=29511)
    ap.add_argument("--probe", type=int, default=4, help="pairs of untimed probe steps (sync vs no_sync backward) after timing")
    ap.add_argument("--builtin", action="store_true", help="DDP's built-in C++ all-reduce instead of the timing hook")
    ap.add_argument("--check", action="store_true", help="check that DDP averages and the ranks end with the same parameters")
    a = ap.parse_args()

    rank = env_int("OMPI_COMM_WORLD_RANK", "RANK", default=0)
    world = env_int("OMPI_COMM_WORLD_SIZE", "WORLD_SIZE", default=1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one host: gloo over loopback
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=rank, world_size=world)

    torch.set_num_threads(a.threads)
    tt.set_openblas_threads(a.threads)
    torch.set_flush_denormal(True)  # as train-torch.py: AdamW's denormals slow every op several-fold
    torch.manual_seed(1)  # same initial weights everywhere (DDP also broadcasts rank 0's at construction)
    p = tt.PRESETS[a.preset]
    model = tt.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    n_params = sum(q.numel() for q in model.parameters())  # wte is tied: counted once
    ddp = DDP(model, bucket_cap_mb=a.bucket_mb)
    clock = Clock()
    if not a.builtin:
        ddp.register_comm_hook(clock, timed_allreduce_hook)

    def is_decay(n, q):
        return q.dim() == 2 and "wte" not in n and "wpe" not in n

    groups = [{"params": [q for n, q in model.named_parameters() if is_decay(n, q)], "weight_decay": 0.1},
              {"params": [q for n, q in model.named_parameters() if not is_decay(n, q)], "weight_decay": 0.0}]
    hyper = dict(lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    if a.zero:
        from torch.distributed.optim import ZeroRedundancyOptimizer
        opt = ZeroRedundancyOptimizer(groups[0]["params"], optimizer_class=torch.optim.AdamW, parameters_as_bucket_view=True, weight_decay=0.1, **hyper)
        opt.add_param_group(groups[1])
        sync = opt._sync_params

        def timed_sync():
            t = time.perf_counter()
            sync()
            clock.zero_sync += time.perf_counter() - t

        opt._sync_params = timed_sync
    else:
        opt = torch.optim.AdamW(groups, **hyper)

    gen = torch.Generator().manual_seed(1000 + rank)  # each rank its own tokens
    if a.check:
        check_averaging(ddp, model, gen, p, rank, world)

    B, T = p["B"], p["T"]
    times, waits, flights, buckets = [], [], [], []
    for i in range(a.warmup + a.steps):
        x, y = make_batch(gen, p)
        t0 = time.perf_counter()
        clock.reset()
        opt.zero_grad(set_to_none=False)
        loss = ddp(x, y)
        loss.backward()
        t_bwd = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # after DDP's all-reduce: the global gradient
        opt.step()
        t1 = time.perf_counter()
        if i >= a.warmup:
            times.append(t1 - t0)
            grad_wait = (t_bwd - clock.last_ready) if clock.last_ready is not None and world > 1 else 0.0
            waits.append(grad_wait + clock.zero_sync)
            flights.append(clock.in_flight)
            buckets = list(clock.buckets)

    # Probe pairs: the same batch's backward without and with the gradient all-reduce, ranks aligned before each.
    probe_extra = []
    for k in range(a.probe):
        x, y = make_batch(gen, p)
        pair = {}
        for synced in ((False, True) if k % 2 == 0 else (True, False)):  # alternate the order
            opt.zero_grad(set_to_none=False)
            if synced:
                loss = ddp(x, y)
                dist.barrier()
                t = time.perf_counter()
                loss.backward()
            else:
                with ddp.no_sync():
                    loss = ddp(x, y)
                    dist.barrier()
                    t = time.perf_counter()
                    loss.backward()
            pair[synced] = time.perf_counter() - t
        probe_extra.append(pair[True] - pair[False])
    opt.zero_grad(set_to_none=False)

    if a.check:
        check_same_params(model, rank, world)

    n = a.steps
    step_t = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(step_t, op=dist.ReduceOp.MAX)
    wait_t = torch.tensor(waits, dtype=torch.float64)
    dist.all_reduce(wait_t)
    wait_t /= world
    flight_t = torch.tensor(flights, dtype=torch.float64)
    dist.all_reduce(flight_t)
    flight_t /= world
    probe_t = torch.tensor([statistics.median(probe_extra) if probe_extra else 0.0], dtype=torch.float64)
    every_probe = [torch.zeros_like(probe_t) for _ in range(world)]
    dist.all_gather(every_probe, probe_t)
    rss = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024], dtype=torch.float64)
    dist.all_reduce(rss, op=dist.ReduceOp.MAX)
    my_wait = statistics.median(waits) if waits else 0.0
    every_wait = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
    dist.all_gather(every_wait, torch.tensor([my_wait], dtype=torch.float64))

    if rank == 0:
        step = statistics.median(step_t.tolist())
        probe_ms = statistics.mean(t.item() for t in every_probe) * 1e3 if a.probe else None
        wait_ms = statistics.median(wait_t.tolist()) * 1e3
        if a.builtin:
            wait_ms = (probe_ms or 0.0) + (statistics.median(wait_t.tolist()) * 1e3 if a.zero else 0.0)
        print(json.dumps({"peer_detail": "pytorch " + torch.__version__ + " gloo DDP", "comm_hook": not a.builtin, "bucket_mb": a.bucket_mb,
                          "buckets_mb_in_ready_order": [round(b * 4 / 2**20, 2) for b in buckets],
                          "comm_wait_ms_per_rank": [round(t.item() * 1e3, 3) for t in every_wait],
                          "allreduce_in_flight_ms_per_step": round(statistics.median(flight_t.tolist()) * 1e3, 3),
                          "probe_backward_extra_ms": None if probe_ms is None else round(probe_ms, 3),
                          "step_ms_each": [round(t * 1e3, 2) for t in step_t.tolist()]}), file=sys.stderr, flush=True)
        print(json.dumps({"bench": "train", "peer": "pytorch-ddp", "preset": a.preset, "ranks": world, "threads": a.threads, "batch": B, "block": T,
                          "steps": n, "params_m": round(n_params / 1e6, 4), "step_ms": round(step * 1e3, 4), "tokens_per_s": round(world * B * T / step, 4),
                          "comm_wait_ms_per_step": round(wait_ms, 4), "peak_rss_mb": round(rss.item(), 4), "zero": a.zero}), flush=True)
    dist.barrier()
    # Leave without tearing DDP down: at interpreter exit the Reducer's destructor joins gloo's worker threads while
    # holding the GIL, and a worker still freeing a tensor from the Python comm hook waits for the GIL — a deadlock
    # that hung about one run in three (seen in gdb: ProcessGroupGloo::~ProcessGroupGloo in thread::join).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
