#!/usr/bin/env python3
"""The data-parallel cost model of docs/DISTRIBUTED.md, fitted to figures measured on one host, predicting the scaling
efficiency of `mpirun -np K ./lathe pretrain` at K ranks on a stated network.

Inputs (the JSON lines the bench verbs print last):
  --comm FILE        `mpirun -np 2 ./lathe bench comm` (all-reduce time by message size; shared memory or TCP)
  --single FILE      `./lathe bench train --preset P --threads 1` (one rank's compute per step)
  --ranks FILE       `mpirun -np 2 ./lathe bench train --preset P --threads 1` (step time and comm wait at K = 2)

Model (ring algorithms; alpha = per-message latency, beta = seconds per byte, G = gradient bytes, K ranks):
  all-reduce(G)      = 2(K-1) alpha + 2 (K-1)/K G beta
  reduce-scatter(G)  = all-gather(G) = (K-1) alpha + (K-1)/K G beta          (ZeRO-1 sends one of each)
  Lathe's step       = compute + exposed, where the reduce-scatter of the gradient buckets overlaps the backward
                       (window W = the backward's share of the step, less the last bucket, which is ready only when
                       the backward ends) and the all-gather of the updated parameters does not overlap:
  exposed(K)         = max(0, RS(G (1-f)) - W) + RS(G f) + AG(G) + skew(K)  f = the last bucket's share of G
  skew(K)            = s sqrt(ln K / ln 2)   the wait for the slowest of K ranks (and MPI's progress granularity),
                       s fitted as what the measured wait at K = 2 exceeds the transfer terms (the expected maximum
                       of K samples of a step-time noise grows as sqrt(2 ln K))
  compute            = the step at K = 2 less its wait (ranks sharing a host's memory bandwidth, as on a cluster node)
  efficiency(K)      = compute / (compute + exposed(K))                      (per-rank batch fixed: weak scaling)
alpha and beta of this host come from --comm (latency from the smallest messages, bandwidth from those of 1 MB and up); the backward's share of a step (2/3, backward
= 2 x forward) and the last bucket's share f are stated below; the model is checked against the wait measured at K = 2.
"""
import argparse
import json
import math


def last_json(path):
    for line in reversed(open(path, encoding="utf-8").read().splitlines()):
        i = line.find("{")
        if i >= 0:
            return json.loads(line[i:])
    raise SystemExit(f"{path}: no JSON line")


def fit(comm):
    """alpha from the smallest messages (latency-bound: t = 2(K-1) alpha), beta from the messages of 1 MB and more
    (bandwidth-bound), as the median of (t - 2(K-1) alpha) K / (2(K-1) n)."""
    k = comm["ranks"]
    pairs = list(zip(comm["allreduce_bytes"], [ms * 1e-3 for ms in comm["allreduce_ms"]]))
    alpha = min(t for n, t in pairs if n <= 1024) / (2 * (k - 1))
    betas = sorted((t - 2 * (k - 1) * alpha) * k / (2 * (k - 1) * n) for n, t in pairs if n >= 1 << 20)
    return alpha, betas[len(betas) // 2]


def rs(k, g, alpha, beta):
    return (k - 1) * alpha + (k - 1) / k * g * beta


def exposed(k, g, f, window, alpha, beta, skew=0.0):
    transfer = max(0.0, rs(k, g * (1 - f), alpha, beta) - window) + rs(k, g * f, alpha, beta) + rs(k, g, alpha, beta)
    return transfer + skew * math.sqrt(math.log(k) / math.log(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--comm", required=True)
    ap.add_argument("--single", required=True)
    ap.add_argument("--ranks", required=True)
    ap.add_argument("--last-bucket-share", type=float, default=None,
                    help="share of the gradient in the last bucket (default: the tied embedding's share for GPT-2 presets, from --params-embedding)")
    ap.add_argument("--embedding-params-m", type=float, default=None, help="parameters of the tied token embedding, millions")
    ap.add_argument("--backward-share", type=float, default=2 / 3)
    args = ap.parse_args()
    comm, single, ranks = last_json(args.comm), last_json(args.single), last_json(args.ranks)
    alpha, beta = fit(comm)
    g = single["params_m"] * 1e6 * 4
    f = args.last_bucket_share if args.last_bucket_share is not None else (
        args.embedding_params_m / single["params_m"] if args.embedding_params_m else 0.0)
    k2 = ranks["ranks"]
    measured_k2 = ranks["comm_wait_ms_per_step"] * 1e-3
    step_k2 = ranks["step_ms"] * 1e-3
    compute = step_k2 - measured_k2
    window = args.backward_share * compute
    transfer_k2 = exposed(k2, g, f, window, alpha, beta)
    skew = max(0.0, measured_k2 - transfer_k2) / math.sqrt(math.log(k2) / math.log(2))
    print(json.dumps({"fit": "host", "alpha_us": round(alpha * 1e6, 2), "bandwidth_gb_s": round(1 / beta / 1e9, 2),
                      "gradient_mb": round(g / 1e6, 1), "last_bucket_share": round(f, 3), "compute_ms": round(compute * 1e3, 1),
                      "single_rank_step_ms": single["step_ms"], "k2_measured_step_ms": round(step_k2 * 1e3, 1),
                      "k2_measured_wait_ms": round(measured_k2 * 1e3, 2), "k2_transfer_model_ms": round(transfer_k2 * 1e3, 2),
                      "skew_ms_at_2": round(skew * 1e3, 2), "k2_efficiency_measured": round(ranks["tokens_per_s"] / (k2 * single["tokens_per_s"]), 3)}))
    networks = {  # stated assumptions, not measurements: per-message latency and per-link bandwidth
        "25GbE (TCP)": (25e-6, 25e9 / 8 * 0.9),
        "200Gb/s InfiniBand HDR": (2e-6, 200e9 / 8 * 0.9),
    }
    rows = []
    for name, (a, bw) in networks.items():
        for k in (2, 8, 64, 512):
            e = exposed(k, g, f, window, a, 1 / bw, skew)
            rows.append({"network": name, "ranks": k, "exposed_ms": round(e * 1e3, 2), "efficiency": round(compute / (compute + e), 3),
                         "tokens_per_s": round(k * ranks["batch"] * ranks["block"] / (compute + e))})
    for r in rows:
        print(json.dumps(r))
    print("\n| network | ranks | exposed comm ms/step | scaling efficiency | predicted tokens/s |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['network']} | {r['ranks']} | {r['exposed_ms']} | {r['efficiency']:.1%} | {r['tokens_per_s']:,} |")


if __name__ == "__main__":
    main()
