"""Independent oracle for LevelsAssessment: the rules of the Levels-of-AGI report written again from their statement
(LevelsAssessment's class summary), in Python, without reading the C#.

    python3 levels_oracle.py REFERENCES.json CASES.json   → prints one JSON list, one object per case:
    {"tasks": {name: level | "no_reference" | "metric_missing"}, "families": {name: level}, "general": bool, "level": int}

CASES.json is a JSON list of results documents (lathe_eval 1)."""
import json
import sys

ANCHORS = ["unskilled", "p50", "p90", "p99", "best"]


def task_level(value, stderr, chance, ref):
    higher = ref.get("higher_is_better", True)
    se = stderr or 0.0
    if chance is not None:
        if higher and value - 2.0 * se <= chance:
            return 0
        if not higher and value + 2.0 * se >= chance:
            return 0
    a = [ref["anchors"][k]["value"] for k in ANCHORS]
    better = (lambda x, y: x > y) if higher else (lambda x, y: x < y)
    at_least = (lambda x, y: x >= y) if higher else (lambda x, y: x <= y)
    if better(value, a[4]):
        return 5
    level = 0
    for i in range(4):  # unskilled, p50, p90, p99 → 1..4
        if at_least(value, a[i]):
            level = i + 1
    return level


def assess(refs, results):
    out_tasks, by_family = {}, {}
    for name, task in results["tasks"].items():
        ref = refs["tasks"].get(name)
        if ref is None:
            out_tasks[name] = "no_reference"
            continue
        metric = task["metrics"].get(ref["metric"])
        if metric is None or metric.get("value") is None:
            out_tasks[name] = "metric_missing"
            continue
        chance = task.get("chance")
        if chance is None:
            chance = ref.get("chance")
        lvl = task_level(metric["value"], metric.get("stderr"), chance, ref)
        out_tasks[name] = lvl
        by_family.setdefault(ref["family"], []).append(lvl)
    families = {f: sorted(levels)[(len(levels) - 1) // 2] for f, levels in by_family.items()}
    n = len(families)
    reaching = sum(1 for v in families.values() if v >= 1)
    general = n >= 4 and reaching * 2 > n
    if n == 0:
        level = 0
    elif general:
        level = max(l for l in range(6) if 2 * sum(1 for v in families.values() if v >= l) > n)
    else:
        level = max(families.values())
    return {"tasks": out_tasks, "families": families, "general": general, "level": level}


def main():
    refs = json.load(open(sys.argv[1]))
    cases = json.load(open(sys.argv[2]))
    print(json.dumps([assess(refs, c) for c in cases]))


if __name__ == "__main__":
    main()
