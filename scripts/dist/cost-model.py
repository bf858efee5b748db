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
  exposed(K)         = max(0, RS(G (1-f)) - W) + RS(G f) + AG(G)            f = the last bucket's share of G
  efficiency(K)      = compute / (compute + exposed(K))                      (per-rank batch fixed: weak scaling)
alpha and beta of this host come from a least-squares fit of --comm; the backward's share of a step (2/3, backward
= 2 x forward) and the last bucket's share f are stated below; the model is checked against the wait measured at K = 2.
"""
import argparse
import json


def last_json(path):
    for line in reversed(open(path, encoding="utf-8").read().splitlines()):
        i = line.find("{")
        if i >= 0:
            return json.loads(line[i:])
    raise SystemExit(f"{path}: no JSON line")


def fit(comm):
    k = comm["ranks"]
    xs = [b for b in comm["allreduce_bytes"]]
    ys = [ms * 1e-3 for ms in comm["allreduce_ms"]]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    intercept = max(my - slope * mx, 1e-7)
    alpha = intercept / (2 * (k - 1))
    beta = slope * k / (2 * (k - 1))
    return alpha, beta


def rs(k, g, alpha, beta):
    return (k - 1) * alpha + (k - 1) / k * g * beta


def exposed(k, g, f, window, alpha, beta):
    return max(0.0, rs(k, g * (1 - f), alpha, beta) - window) + rs(k, g * f, alpha, beta) + rs(k, g, alpha, beta)


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
    compute = single["step_ms"] * 1e-3
    window = args.backward_share * compute
    k2 = ranks["ranks"]
    predicted_k2 = exposed(k2, g, f, window, alpha, beta)
    measured_k2 = ranks["comm_wait_ms_per_step"] * 1e-3
    step_k2 = ranks["step_ms"] * 1e-3
    print(json.dumps({"fit": "host", "alpha_us": round(alpha * 1e6, 2), "bandwidth_gb_s": round(1 / beta / 1e9, 2),
                      "gradient_mb": round(g / 1e6, 1), "last_bucket_share": round(f, 3), "compute_ms": round(compute * 1e3, 1),
                      "k2_measured_step_ms": round(step_k2 * 1e3, 1), "k2_measured_wait_ms": round(measured_k2 * 1e3, 2),
                      "k2_model_exposed_ms": round(predicted_k2 * 1e3, 2)}))
    networks = {  # stated assumptions, not measurements: per-message latency and per-link bandwidth
        "25GbE (TCP)": (25e-6, 25e9 / 8 * 0.9),
        "200Gb/s InfiniBand HDR": (2e-6, 200e9 / 8 * 0.9),
    }
    rows = []
    for name, (a, bw) in networks.items():
        for k in (2, 8, 64, 512):
            e = exposed(k, g, f, window, a, 1 / bw)
            rows.append({"network": name, "ranks": k, "exposed_ms": round(e * 1e3, 2), "efficiency": round(compute / (compute + e), 3),
                         "tokens_per_s": round(k * single["tokens_per_s"] * compute / (compute + e))})
    for r in rows:
        print(json.dumps(r))
    print("\n| network | ranks | exposed comm ms/step | scaling efficiency | predicted tokens/s |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['network']} | {r['ranks']} | {r['exposed_ms']} | {r['efficiency']:.1%} | {r['tokens_per_s']:,} |")


if __name__ == "__main__":
    main()
