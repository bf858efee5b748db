#!/usr/bin/python3
"""Peers for `lathe bench kg`: the same synthetic graph and the same queries, in Python's sqlite3 with Lathe's
schema (src/Lathe/Knowledge/Store/StoreSchema.cs) and, when it is installed (Debian: python3-rdflib), rdflib's
in-memory graph. Run with /usr/bin/python3; prints a JSON line per peer, last.

    /usr/bin/python3 scripts/bench/kg-peer.py --triples 100000 [--seconds 2]

The graph repeats BenchKg.WriteSyntheticJsonl: E = max(10, N/10) entities e/i ("Entity i", alias "E i", type t{i%5});
fact k: s = k mod E, q = k div E, relation r{q mod 8}; object e/((s*7919 + q + 1) mod E) for r0..r5, the number
((k*31) mod 100000)/10 for r6, the string "v{k}" for r7. The peers parse the same JSONL text Lathe imports, so both
sides pay for JSON parsing. Queried subjects: e/((i*104729) mod E), i = 0, 1, 2, ...
"""
import argparse
import json
import os
import sqlite3
import tempfile
import time
import unicodedata

RELATIONS = 8

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entities(id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE names(entity TEXT NOT NULL, ord INTEGER NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
                   PRIMARY KEY(entity, ord)) WITHOUT ROWID;
CREATE INDEX names_key ON names(key, entity);
CREATE TABLE relations(id TEXT PRIMARY KEY, label TEXT NOT NULL, object_kind INTEGER NOT NULL,
                       functional INTEGER NOT NULL, statement TEXT NOT NULL, questions TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE triples(subject TEXT NOT NULL, relation TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT NOT NULL,
                     source TEXT NOT NULL, CONSTRAINT triples_spo UNIQUE(subject, relation, kind, value));
CREATE INDEX triples_pos ON triples(relation, kind, value, subject);
CREATE INDEX triples_osp ON triples(kind, value, subject, relation);
"""
KINDS = {"entity": 0, "string": 1, "number": 2, "date": 3}


def synthetic_lines(triples):
    entities = max(10, triples // 10)
    for r in range(RELATIONS):
        kind = "entity" if r < 6 else "number" if r == 6 else "string"
        yield json.dumps({"relation": f"r{r}", "label": f"r{r}", "object": kind, "functional": False,
                          "statement": "{s} r%d {o}." % r, "questions": ["What is the r%d of {s}?" % r]})
    for i in range(entities):
        yield json.dumps({"entity": f"e/{i}", "name": f"Entity {i}", "aliases": [f"E {i}"], "type": f"t{i % 5}"})
    for k in range(triples):
        s, q = k % entities, k // entities
        r = q % RELATIONS
        o = f"e/{(s * 7919 + q + 1) % entities}" if r < 6 else ((k * 31) % 100000) / 10.0 if r == 6 else f"v{k}"
        yield json.dumps({"s": f"e/{s}", "p": f"r{r}", "o": o, "source": "synthetic"})


def name_key(name):
    # Close to Lathe's NameKey (accents, case, punctuation); the synthetic names are plain ASCII anyway.
    text = unicodedata.normalize("NFD", name)
    out, space = [], False
    for c in text:
        if unicodedata.category(c) == "Mn":
            continue
        if c.isalnum():
            if space and out:
                out.append(" ")
            space = False
            out.append(c.lower())
        elif c.isspace() or c in "-_/":
            space = True
    return "".join(out)


def number_text(value):
    # Lathe keeps numbers as the shortest round-trip text ("R"): integers without a decimal point.
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def sqlite_peer(path, lines, triples, seconds):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(SCHEMA)
    db.execute("INSERT INTO meta VALUES ('format', 'lathe-kg')")
    db.execute("PRAGMA user_version = 1")
    start = time.perf_counter()
    db.execute("BEGIN")
    kinds = {}
    facts = duplicates = 0
    for line in lines:
        row = json.loads(line)
        if "relation" in row:
            kinds[row["relation"]] = KINDS[row["object"]]
            db.execute("INSERT INTO relations VALUES (?, ?, ?, ?, ?, ?)",
                       (row["relation"], row["label"], KINDS[row["object"]], int(row["functional"]), row["statement"],
                        json.dumps(row["questions"])))
        elif "entity" in row:
            db.execute("INSERT INTO entities VALUES (?, ?, ?)", (row["entity"], row["name"], row["type"]))
            for ord_, name in enumerate([row["name"]] + row["aliases"]):
                db.execute("INSERT INTO names VALUES (?, ?, ?, ?)", (row["entity"], ord_, name, name_key(name)))
        else:
            kind = kinds[row["p"]]
            value = number_text(row["o"]) if kind == 2 else row["o"]
            cursor = db.execute("INSERT OR IGNORE INTO triples VALUES (?, ?, ?, ?, ?)",
                                (row["s"], row["p"], kind, value, row["source"]))
            if cursor.rowcount == 0:
                duplicates += 1
            else:
                facts += 1
    db.execute("COMMIT")
    import_s = time.perf_counter() - start
    entities = max(10, triples // 10)
    subject = lambda i: f"e/{i * 104729 % entities}"
    order = " ORDER BY subject, relation, kind, value"
    by_s = lambda i: len(db.execute("SELECT subject, relation, kind, value, source FROM triples WHERE subject = ?" + order,
                                    (subject(i),)).fetchall())
    by_po = lambda i: len(db.execute("SELECT subject, relation, kind, value, source FROM triples WHERE relation = ? AND kind = 0 AND value = ?" + order,
                                     (f"r{i % 6}", subject(i))).fetchall())

    def neighbourhood(i):
        e = subject(i)
        out = db.execute("SELECT subject, relation, kind, value, source FROM triples WHERE subject = ?" + order, (e,)).fetchall()
        inc = db.execute("SELECT subject, relation, kind, value, source FROM triples WHERE kind = 0 AND value = ?" + order, (e,)).fetchall()
        return len(set(out) | set(inc))

    result = {"peer": "python-sqlite3", "sqlite": sqlite3.sqlite_version, "triples": triples, "facts": facts,
              "duplicates": duplicates, "import_s": import_s, "import_triples_per_s": facts / import_s,
              "db_mb": os.path.getsize(path) / 1048576.0}
    for name, query in (("match_s", by_s), ("match_po", by_po), ("neighbourhood", neighbourhood)):
        rate, rows = measure(query, seconds)
        result[f"{name}_per_s"] = rate
        result[f"{name}_rows" if name != "neighbourhood" else "neighbourhood_facts"] = rows
    db.close()
    return result


def rdflib_peer(lines, triples, seconds):
    try:
        import rdflib
    except ImportError:
        return None
    from rdflib import Graph, Literal, URIRef
    from rdflib.namespace import RDFS, SKOS, XSD
    entity = lambda i: URIRef("urn:lathe:entity:" + i)
    relation = lambda r: URIRef("urn:lathe:relation:" + r)
    graph = Graph()
    kinds = {}
    start = time.perf_counter()
    for line in lines:
        row = json.loads(line)
        if "relation" in row:
            kinds[row["relation"]] = row["object"]
            graph.add((relation(row["relation"]), RDFS.label, Literal(row["label"])))
        elif "entity" in row:
            graph.add((entity(row["entity"]), RDFS.label, Literal(row["name"])))
            for alias in row["aliases"]:
                graph.add((entity(row["entity"]), SKOS.altLabel, Literal(alias)))
        else:
            kind = kinds[row["p"]]
            o = entity(row["o"]) if kind == "entity" else Literal(row["o"], datatype=XSD.double) if kind == "number" else Literal(row["o"])
            graph.add((entity(row["s"]), relation(row["p"]), o))
    import_s = time.perf_counter() - start
    entities = max(10, triples // 10)
    subject = lambda i: entity(f"e/{i * 104729 % entities}")
    by_s = lambda i: len(sorted(graph.triples((subject(i), None, None))))
    by_po = lambda i: len(sorted(graph.triples((None, relation(f"r{i % 6}"), subject(i)))))
    neighbourhood = lambda i: len(set(graph.triples((subject(i), None, None))) | set(graph.triples((None, None, subject(i)))))
    result = {"peer": "rdflib", "rdflib": rdflib.__version__, "triples": triples, "graph_triples": len(graph),
              "import_s": import_s, "import_triples_per_s": triples / import_s}
    for name, query in (("match_s", by_s), ("match_po", by_po), ("neighbourhood", neighbourhood)):
        rate, rows = measure(query, seconds)
        result[f"{name}_per_s"] = rate
        result[f"{name}_rows" if name != "neighbourhood" else "neighbourhood_facts"] = rows
    return result


def measure(query, seconds):
    for i in range(200):
        query(i)
    count = rows = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            rows += query(count)
            count += 1
    return count / (time.perf_counter() - start), rows / count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--no-rdflib", action="store_true")
    parser.add_argument("--emit-jsonl", action="store_true", help="print the synthetic graph and stop (a test compares it with Lathe's)")
    args = parser.parse_args()
    if args.triples <= 0 or args.seconds <= 0:
        parser.error("--triples and --seconds must be positive")
    lines = list(synthetic_lines(args.triples))
    if args.emit_jsonl:
        print("\n".join(lines))
        return
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(sqlite_peer(os.path.join(folder, "graph.db"), lines, args.triples, args.seconds))
    if not args.no_rdflib:
        found = rdflib_peer(lines, args.triples, args.seconds)
        if found is not None:
            results.append(found)
    for result in results:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
