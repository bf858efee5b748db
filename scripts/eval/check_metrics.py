#!/usr/bin/env python3
"""Recomputes `lathe eval tasks` metrics from its per-document samples, independently of the C# code.

    python3 scripts/eval/check_metrics.py results.json samples.jsonl

Reads the samples (--log-samples) and the results document (--output), recomputes acc, acc_norm (log-likelihood over
the choice's length in characters, as lm-evaluation-harness), exact_match, f1, perplexity (exp of minus the mean
document log-likelihood), word and byte perplexity and bits per byte (weighted by words and UTF-8 bytes), and checks
that every metric in the results matches to 1e-9 relative. Prints one line per metric; exits 1 on any mismatch.
Standard library only.
"""
import json
import math
import re
import string
import sys
from collections import Counter, defaultdict


def argmax(xs):
    best = 0
    for i, x in enumerate(xs):
        if x > xs[best]:
            best = i
    return best


def squad_tokens(s):
    s = s.lower()
    s = "".join(c for c in s if c not in string.punctuation)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return s.split()


def f1(answer, target):
    a, t = squad_tokens(answer), squad_tokens(target)
    if not a or not t:
        return 1.0 if len(a) == len(t) else 0.0
    common = sum((Counter(a) & Counter(t)).values())
    if common == 0:
        return 0.0
    p, r = common / len(a), common / len(t)
    return 2 * p * r / (p + r)


def metric(name, rows):
    if name == "acc" and rows[0]["choices"]:
        return sum(argmax(r["loglikelihoods"]) == r["gold"] for r in rows) / len(rows)
    if name == "acc_norm":
        return sum(argmax([ll / max(1, len(c)) for ll, c in zip(r["loglikelihoods"], r["choices"])]) == r["gold"] for r in rows) / len(rows)
    if name == "acc":
        return sum(all(r["is_greedy"]) for r in rows) / len(rows)
    if name == "perplexity":
        return math.exp(-sum(r["loglikelihoods"][0] for r in rows) / len(rows))
    if name in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        total = sum(r["loglikelihoods"][0] for r in rows)
        # Units recounted from the text, as lm-evaluation-harness counts them (not read from Lathe's samples).
        units = sum(len(re.split(r"\s+", r["target"])) if name == "word_perplexity" else len(r["target"].encode("utf-8")) for r in rows)
        return -total / units / math.log(2) if name == "bits_per_byte" else math.exp(-total / units)
    if name == "exact_match":
        return sum(r["answer"].strip().lower() == r["target"].strip().lower() for r in rows) / len(rows)
    if name == "f1":
        return sum(f1(r["answer"], r["target"]) for r in rows) / len(rows)
    raise SystemExit(f"unknown metric {name}")


def main():
    results = json.load(open(sys.argv[1], encoding="utf-8"))
    by_task = defaultdict(list)
    for line in open(sys.argv[2], encoding="utf-8"):
        if line.strip():
            row = json.loads(line)
            by_task[row["task"]].append(row)
    bad = 0
    for task, info in results["tasks"].items():
        rows = by_task[task]
        assert len(rows) == info["documents"], f"{task}: {len(rows)} samples, {info['documents']} documents"
        for name, m in info["metrics"].items():
            ours = metric(name, rows)
            ok = math.isclose(ours, m["value"], rel_tol=1e-9, abs_tol=1e-12)
            bad += not ok
            print(f"{task} {name}: lathe {m['value']!r} python {ours!r} {'ok' if ok else 'MISMATCH'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
