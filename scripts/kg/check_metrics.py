#!/usr/bin/env python3
"""Recomputes `lathe eval hallucination` metrics from its answers, independently of the C# code.

    /usr/bin/python3 scripts/kg/check_metrics.py REPORT_DIR

Reads REPORT_DIR/hallucination-samples.jsonl.gz (or .jsonl; every answer: the question's acceptable answers, the model's answer,
its confidence) and REPORT_DIR/hallucination.json, and recomputes for every model × arm: whether each answer
abstains ("I don't know." or nothing, compared by name key) and is correct (one of the answers by name key; for
numeric relations within 0.5%), then accuracy, hallucination (total, answerable, unanswerable), abstention (total,
answerable) and the ECE over 10 confidence bins of the non-abstaining answers. Every value must match the report's to
1e-9. Prints one line per model × arm; exits 1 on any mismatch. Standard library only.
"""
import gzip
import json
import os
import sys
import unicodedata
from collections import defaultdict

# Latin letters NFD does not decompose, folded as the C# name key's Latin table folds them.
EXTRA = {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l", "ı": "i", "þ": "th", "ð": "d", "ħ": "h"}


def name_key(text):
    out = []
    pending = False
    for c in unicodedata.normalize("NFD", text):
        if unicodedata.category(c) == "Mn":
            continue
        if c.isalnum():
            if pending and out:
                out.append(" ")
            pending = False
            low = c.lower()
            out.append(EXTRA.get(low, low))
        elif c.isspace() or c in "-_/":
            pending = True
    return "".join(out)


def number(text):
    s = text.strip()
    if s.endswith("."):
        s = s[:-1]
    kept = []
    for i, c in enumerate(s):
        if c in ", \u2009\u202f" and 0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit():
            continue
        kept.append(c)
    try:
        v = float("".join(kept))
    except ValueError:
        return None
    return v if v == v and abs(v) != float("inf") else None


ABSTAIN = name_key("I don't know.")


def correct(sample):
    if not sample["answerable"] or abstains(sample):
        return False
    key = name_key(sample["answer"])
    x = number(sample["answer"]) if sample.get("numeric") else None
    for gold in sample["answers"]:
        if name_key(gold) == key:
            return True
        g = number(gold) if x is not None else None
        if g is not None and abs(x - g) <= 0.005 * abs(g):
            return True
    return False


def abstains(sample):
    key = name_key(sample["answer"])
    return key == ABSTAIN or key == ""


def ratio(num, den):
    return float("nan") if den == 0 else num / den


def metrics(samples):
    ans = [s for s in samples if s["answerable"]]
    unans = [s for s in samples if not s["answerable"]]
    ok = {id(s): correct(s) for s in samples}
    ab = {id(s): abstains(s) for s in samples}
    hal = {id(s): not ab[id(s)] and not ok[id(s)] for s in samples}
    bins = [[0, 0.0, 0] for _ in range(10)]
    for s in samples:
        if ab[id(s)]:
            continue
        b = min(max(int(s["confidence"] * 10), 0), 9)
        bins[b][0] += 1
        bins[b][1] += s["confidence"]
        bins[b][2] += ok[id(s)]
    total = sum(b[0] for b in bins)
    ece = float("nan") if total == 0 else sum(b[0] / total * abs(b[2] / b[0] - b[1] / b[0]) for b in bins if b[0])
    return {
        "accuracy": ratio(sum(ok[id(s)] for s in ans), len(ans)),
        "hallucination": ratio(sum(hal.values()), len(samples)),
        "hallucination_answerable": ratio(sum(hal[id(s)] for s in ans), len(ans)),
        "hallucination_unanswerable": ratio(sum(hal[id(s)] for s in unans), len(unans)),
        "abstention": ratio(sum(ab.values()), len(samples)),
        "abstention_answerable": ratio(sum(ab[id(s)] for s in ans), len(ans)),
        "ece": ece,
    }, sum(ok[id(s)] != s["correct"] or ab[id(s)] != s["abstained"] for s in samples)


def same(a, b):
    if a is None or b is None:
        return (a is None or a != a) and (b is None or b != b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main(folder):
    groups = defaultdict(list)
    samples = os.path.join(folder, "hallucination-samples.jsonl.gz")
    opener = gzip.open if os.path.exists(samples) else open
    if opener is open:
        samples = samples[:-3]
    with opener(samples, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                s = json.loads(line)
                groups[(s["model"], s["arm"])].append(s)
    with open(os.path.join(folder, "hallucination.json"), encoding="utf-8") as f:
        report = json.load(f)
    # Samples written before they carried "numeric": take it from the question rows.
    rows = os.path.join(report["questions"], "heldout.jsonl")
    if any("numeric" not in s for g in groups.values() for s in g) and os.path.exists(rows):
        with open(rows, encoding="utf-8") as f:
            numeric = {r["id"]: r.get("numeric", False) for r in map(json.loads, filter(str.strip, f))}
        for g in groups.values():
            for s in g:
                s.setdefault("numeric", numeric.get(s["id"], False))
    bad = 0
    for r in report["results"]:
        mine, flags = metrics(groups[(r["model"], r["arm"])])
        wrong = [k for k, v in mine.items() if not same(v, r["metrics"][k]["value"])]
        if flags:
            wrong.append(f"{flags} answers judged differently")
        bad += bool(wrong)
        print(f"{r['model']} {r['arm']}: " + ("mismatch: " + ", ".join(f"{k} {mine.get(k)} vs {r['metrics'].get(k, {}).get('value')}" for k in wrong) if wrong else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
