#!/usr/bin/env python3
"""Compares two GGUF files tensor by tensor (names matched, order free): same ggml type, same bytes. Prints one JSON
line: tensors, how many have equal types and equal bytes, and for each that differs its types and the share of
differing bytes (in whole blocks of its type when the types agree).

  /usr/bin/python3 scripts/bench/quant-compare.py lathe.gguf llama.gguf
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "gen"))
import llama_quantize as lq  # noqa: E402

BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
         10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210)}


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    a, b = open(a_path, "rb").read(), open(b_path, "rb").read()
    (ta, sa), (tb, sb) = lq.gguf_tensor_table(a), lq.gguf_tensor_table(b)
    same_type = same_bytes = 0
    differ = []
    for name, (dims, t, off) in ta.items():
        if name not in tb:
            differ.append({"tensor": name, "missing_in": os.path.basename(b_path)})
            continue
        dims_b, t_b, off_b = tb[name]
        n = 1
        for d in dims:
            n *= d
        vals, size = BLOCK[t]
        nbytes = n // vals * size
        if t != t_b:
            differ.append({"tensor": name, "types": [lq.TYPE_NAMES.get(t), lq.TYPE_NAMES.get(t_b)]})
            continue
        same_type += 1
        x, y = a[sa + off:sa + off + nbytes], b[sb + off_b:sb + off_b + nbytes]
        if x == y:
            same_bytes += 1
            continue
        blocks = nbytes // size
        bad = sum(1 for i in range(blocks) if x[i * size:(i + 1) * size] != y[i * size:(i + 1) * size])
        differ.append({"tensor": name, "type": lq.TYPE_NAMES.get(t), "blocks_differing": bad, "blocks": blocks})
    print(json.dumps({"tensors": len(ta), "same_type": same_type, "same_bytes": same_bytes, "differ": differ}))


if __name__ == "__main__":
    main()
